import { createCipheriv, createDecipheriv, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ByteQueue } from './byte-queue.ts';
import { type EncryptionContext, encodeContext } from './context.ts';
import {
  encodeStreamTrailer,
  isStream,
  isTruncation,
  parseHead,
  parseStreamHeader,
  STREAM_SALT_BYTES,
  STREAM_TRAILER_BYTES,
  type StreamHeader,
  streamAadPrefix,
  TAG_BYTES,
} from './envelope.ts';
import { TransitError } from './errors.ts';
import type { TransitCore } from './transit-core.ts';

/** Options of {@link Transit.decryptStream}. */
export interface DecryptStreamOptions {
  /**
   * Refuse streams whose plaintext grows beyond this many bytes (memory/disk DoS): a whole number
   * ≥ 0, or `Infinity`. Default unlimited. Anything else (`NaN` from an unset environment variable)
   * throws `ERR_TRANSIT_INVALID_INPUT`.
   */
  readonly maxBodySize?: number;
}

function maxBodySizeOf(options: DecryptStreamOptions): number {
  if (options === null || typeof options !== 'object') {
    throw new TransitError('ERR_TRANSIT_INVALID_INPUT', 'decryptStream(context, options): options must be an object.');
  }
  const { maxBodySize } = options;
  if (maxBodySize === undefined || maxBodySize === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof maxBodySize !== 'number' || !Number.isSafeInteger(maxBodySize) || maxBodySize < 0) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_INPUT',
      'decryptStream(context, { maxBodySize }): maxBodySize must be a whole number of bytes ≥ 0, Infinity, or left out for no limit (check the setting it was read from).',
    );
  }
  return maxBodySize;
}

const MAX_HEADER_BYTES = 1024;
const MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Frames a stream can hold: the frame index in the nonce and the AAD is a u32. */
export const MAX_STREAM_FRAMES = 2 ** 32;

/** Only for tests: a lower frame limit checks the guard without writing 2^32 frames. */
export interface FrameLimit {
  readonly maxFrames?: number;
}

const frameLimitOf = (internals: FrameLimit): number =>
  Math.min(internals.maxFrames ?? MAX_STREAM_FRAMES, MAX_STREAM_FRAMES);

/**
 * Per-stream scratch buffers for the frame nonce (8 zero bytes ‖ index) and the frame AAD
 * (AAD prefix ‖ index ‖ last-frame flag ‖ context; see `streamAadPrefix`), patched in place for
 * each frame: the cipher copies both when given them, so one allocation serves the whole stream.
 */
class FrameParameters {
  readonly nonce = Buffer.alloc(12);
  readonly aad: Buffer;
  readonly #indexAt: number;

  readonly #maxFrames: number;
  readonly #tooMany: () => TransitError;

  constructor(aadPrefix: Buffer, contextBytes: Buffer, maxFrames: number, tooMany: () => TransitError) {
    this.aad = Buffer.concat([aadPrefix, Buffer.alloc(5), contextBytes]);
    this.#indexAt = aadPrefix.length;
    this.#maxFrames = maxFrames;
    this.#tooMany = tooMany;
  }

  set(index: number, last: boolean): void {
    // Past the u32 index the nonce would repeat (or writeUInt32BE throw a RangeError): refuse.
    if (!(index < this.#maxFrames)) throw this.#tooMany();
    this.nonce.writeUInt32BE(index, 8);
    this.aad.writeUInt32BE(index, this.#indexAt);
    this.aad[this.#indexAt + 4] = last ? 1 : 0;
  }
}

/** Only for tests: a fixed salt makes the known-answer vector reproducible. */
export interface EncryptStreamInternals extends FrameLimit {
  readonly salt?: Buffer;
  /** The plaintext queue (a `ByteQueue({ wipe: true })`), so a test can see what is left in it. */
  readonly queue?: ByteQueue;
}

/**
 * The context as it is when the stream is created: its own enumerable entries (what
 * `encodeContext` encodes and the tenant is read from), each read once, so a caller changing its
 * object later (a pooled context, a loop variable) changes neither the frames' AAD nor the tenant
 * the data key is bound to. Anything not a plain object is returned as is for `encodeContext` to
 * refuse.
 */
function snapshotContext(context: EncryptionContext): EncryptionContext {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) return context;
  // fromEntries defines own data properties: an own "__proto__" entry stays an entry.
  const entries = Object.keys(context).map((name) => [name, context[name]] as const);
  return Object.freeze(Object.fromEntries(entries) as EncryptionContext);
}

const tooManyToEncrypt = (): TransitError =>
  new TransitError(
    'ERR_TRANSIT_STREAM',
    'encryptStream: a stream holds at most 2^32 frames (frameSize bytes each): split the data into several streams or raise frameSize.',
  );

const tooManyToDecrypt = (): TransitError =>
  new TransitError(
    'ERR_TRANSIT_STREAM',
    'decryptStream: the stream has more than 2^32 frames, which encryptStream never writes: it is not a stream of this format. Not retryable.',
  );

/**
 * Stream format 2: `fixedHeader | wrapped | commitment | salt | frameSize`, then `ct | tag` frames
 * whose AAD leaves out `wrapped`, so rewrap can replace it.
 */
export function createEncryptStream(
  core: TransitCore,
  callerContext: EncryptionContext,
  internals: EncryptStreamInternals = {},
): Transform {
  const context = snapshotContext(callerContext);
  const contextBytes = encodeContext(context);
  const frameSize = core.frameSize;
  const maxFrames = frameLimitOf(internals);
  // Plaintext: the copies the queue makes of small writes are zeroed once sealed.
  const queue = internals.queue ?? new ByteQueue({ wipe: true });
  let key: KeyObject | undefined;
  let frame: FrameParameters | undefined;
  let index = 0;
  let starting: Promise<void> | undefined;

  const start = (stream: Transform): Promise<void> => {
    starting ??= (async () => {
      // One message, no bytes: `cache.maxBytes` bounds what a DEK encrypts directly (records).
      // A stream encrypts under its own key (HMAC of the DEK and a random salt) with frame
      // counters from zero, so GCM's per-key limits hold per stream, whatever its length.
      // Destroyed while Vault answers: the data key is not reserved (no message counted).
      const { entry, alg } = await core.reserve(context, 0, true, () => stream.destroyed);
      const salt = internals.salt ?? randomBytes(STREAM_SALT_BYTES);
      const fixedHeader = core.fixedHeader(alg);
      const trailer = encodeStreamTrailer(entry.dataKey.commitment, salt, frameSize);
      const streamHeader = Buffer.concat([fixedHeader, entry.wrapped, trailer]);
      key = entry.dataKey.streamKey(salt);
      frame = new FrameParameters(
        streamAadPrefix(2, streamHeader, fixedHeader, trailer),
        contextBytes,
        maxFrames,
        tooManyToEncrypt,
      );
      stream.push(streamHeader);
    })();
    return starting;
  };

  /** Pushes the frame as two chunks (ciphertext, tag) rather than copying them together. */
  const seal = (stream: Transform, plaintext: Buffer, last: boolean): void => {
    if (!key || !frame) throw new TransitError('ERR_TRANSIT_STREAM', 'encryptStream: not started.');
    core.assertOpen();
    frame.set(index, last);
    const cipher = createCipheriv('aes-256-gcm', key, frame.nonce);
    cipher.setAAD(frame.aad);
    index += 1;
    stream.push(cipher.update(plaintext));
    cipher.final();
    stream.push(cipher.getAuthTag());
  };

  return new Transform({
    async transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        await start(this);
        // Destroyed while the data key was on its way: destroy() already emptied the queue, and
        // this plaintext is never queued.
        if (this.destroyed) {
          callback();
          return;
        }
        queue.push(chunk);
        // A full frame is sealed only once more data follows it: the last frame is flagged.
        while (queue.length > frameSize) seal(this, queue.take(frameSize), false);
        // The writer may reuse its buffer once called back: what the next frame still needs of a
        // large chunk (held by reference until now) is copied, into a buffer that frame is then
        // sealed from without another copy; whole frames were sealed straight from it above.
        queue.own(frameSize);
        callback();
      } catch (error) {
        callback(this.destroyed ? undefined : (error as Error));
      }
    },
    async flush(callback: TransformCallback) {
      try {
        await start(this);
        if (this.destroyed) {
          callback();
          return;
        }
        seal(this, queue.take(queue.length), true);
        queue.wipe();
        callback();
      } catch (error) {
        queue.discard();
        callback(this.destroyed ? undefined : (error as Error));
      }
    },
    destroy(error, callback) {
      // Destroyed mid-frame: the plaintext still queued (copies of small writes) is zeroed too.
      queue.discard();
      callback(error);
    },
  });
}

const tooLarge = (): TransitError =>
  new TransitError('ERR_TRANSIT_STREAM', 'decryptStream: the plaintext is larger than maxBodySize.');

export function createDecryptStream(
  core: TransitCore,
  callerContext: EncryptionContext,
  options: DecryptStreamOptions,
  internals: FrameLimit = {},
): Transform {
  const context = snapshotContext(callerContext);
  const maxBodySize = maxBodySizeOf(options);
  const maxFrames = frameLimitOf(internals);
  const contextBytes = encodeContext(context);
  const queue = new ByteQueue();
  let key: KeyObject | undefined;
  let frame: FrameParameters | undefined;
  let frameSize = 0;
  let index = 0;
  let released = 0;

  const readHeader = async (): Promise<boolean> => {
    if (key) return true;
    const available = queue.peek(Math.min(queue.length, MAX_HEADER_BYTES));
    let head: ReturnType<typeof parseHead>;
    try {
      head = parseHead(available, core.accepts);
    } catch (error) {
      if (queue.length < MAX_HEADER_BYTES && isTruncation(error)) return false;
      throw error;
    }
    if (!isStream(head.alg)) {
      throw new TransitError(
        'ERR_TRANSIT_MALFORMED_ENVELOPE',
        'decryptStream: this is a record envelope, not a stream: use decrypt().',
      );
    }
    const total = head.end + STREAM_TRAILER_BYTES;
    if (queue.length < total) return false;
    const header: StreamHeader = parseStreamHeader(queue.take(total), core.accepts);
    frameSize = header.frameSize;
    if (frameSize < 1 || frameSize > MAX_FRAME_SIZE) {
      throw new TransitError(
        'ERR_TRANSIT_MALFORMED_ENVELOPE',
        'decryptStream: the stream header has an invalid frame size.',
      );
    }
    const dataKey = await core.unwrap(header, context);
    // Before any frame is opened: a wrapped DEK swapped for another one (which rewrap's freedom
    // to replace it allows) unwraps to another DEK and stops here.
    if (!timingSafeEqual(header.commitment, dataKey.commitment)) {
      throw new TransitError(
        'ERR_TRANSIT_INTEGRITY',
        'decryptStream: key commitment does not match the unwrapped data key. Not retryable.',
      );
    }
    frame = new FrameParameters(header.aadPrefix, contextBytes, maxFrames, tooManyToDecrypt);
    key = dataKey.streamKey(header.salt);
    return true;
  };

  /** The frame's plaintext, or `undefined` if it does not authenticate as frame `index` with this flag. */
  const decryptFrame = (sealed: Buffer, last: boolean): Buffer | undefined => {
    if (!key || !frame) throw new TransitError('ERR_TRANSIT_STREAM', 'decryptStream: not started.');
    core.assertOpen();
    frame.set(index, last);
    const decipher = createDecipheriv('aes-256-gcm', key, frame.nonce);
    decipher.setAAD(frame.aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
      return plaintext;
    } catch {
      plaintext.fill(0);
      return undefined;
    }
  };

  const open = (sealed: Buffer, last: boolean): Buffer => {
    const plaintext = decryptFrame(sealed, last);
    if (!plaintext) {
      // A full-size frame that is not the final one but authenticates as a middle frame: the
      // stream was cut at a frame boundary. Nothing of it is released.
      const middle = last && sealed.length === frameSize + TAG_BYTES ? decryptFrame(sealed, false) : undefined;
      if (middle) {
        middle.fill(0);
        throw new TransitError(
          'ERR_TRANSIT_STREAM',
          'decryptStream: the stream ended without its final frame (truncated at a frame boundary): discard what was written.',
        );
      }
      throw new TransitError(
        'ERR_TRANSIT_INTEGRITY',
        `decryptStream: frame ${index} does not authenticate (wrong context, modified, reordered or truncated stream). Not retryable.`,
      );
    }
    index += 1;
    released += plaintext.length;
    if (released > maxBodySize) {
      plaintext.fill(0);
      throw tooLarge();
    }
    return plaintext;
  };

  return new Transform({
    async transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        queue.push(chunk);
        if (!(await readHeader())) {
          queue.own();
          callback();
          return;
        }
        const record = frameSize + TAG_BYTES;
        while (queue.length > record) this.push(open(queue.take(record), false));
        // What is held now (at most one frame) begins the next frame, whose plaintext is at least
        // its length minus the tag: once that cannot fit in maxBodySize, stop here rather than
        // buffer the rest of a frame that could be up to 16 MiB.
        if (queue.length - TAG_BYTES > maxBodySize - released) throw tooLarge();
        // The writer may reuse its buffer once called back: the part of a frame still held is copied,
        // into a buffer the frame is then opened from without another copy.
        queue.own(record);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async flush(callback: TransformCallback) {
      try {
        if (!(await readHeader()))
          throw new TransitError('ERR_TRANSIT_STREAM', 'decryptStream: the stream ended inside its header.');
        if (queue.length < TAG_BYTES) {
          throw new TransitError(
            'ERR_TRANSIT_STREAM',
            'decryptStream: the stream ended without its final frame (truncated).',
          );
        }
        this.push(open(queue.take(queue.length), true));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
