import { createCipheriv, createDecipheriv, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { type EncryptionContext, encodeContext } from './context.ts';
import { COMMITMENT_BYTES, isStream, parseHead, STREAM_SALT_BYTES, TAG_BYTES } from './envelope.ts';
import { TransitError } from './errors.ts';
import type { TransitCore } from './transit.ts';

/** Options of {@link Transit.decryptStream}. */
export interface DecryptStreamOptions {
  /** Refuse streams whose plaintext grows beyond this many bytes (memory/disk DoS). Default unlimited. */
  readonly maxBodySize?: number;
}

const MAX_HEADER_BYTES = 1024;
const MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** Frame `index` (u32) with the last-frame flag: the nonce counter and part of the frame's AAD. */
function frameNonce(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function frameAad(streamHeader: Buffer, index: number, last: boolean, contextBytes: Buffer): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail[4] = last ? 1 : 0;
  return Buffer.concat([streamHeader, tail, contextBytes]);
}

/** Collects chunks and hands out exactly-sized slices without copying more than needed. */
class ByteQueue {
  #chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Buffer {
    return this.#take(n, false);
  }

  take(n: number): Buffer {
    return this.#take(n, true);
  }

  #take(n: number, consume: boolean): Buffer {
    const first = this.#chunks[0];
    let out: Buffer;
    if (first && first.length >= n) out = first.subarray(0, n);
    else out = Buffer.concat(this.#chunks, Math.min(n, this.length)).subarray(0, n);
    if (!consume) return out;
    let remaining = n;
    while (remaining > 0) {
      const head = this.#chunks[0];
      if (!head) break;
      if (head.length <= remaining) {
        remaining -= head.length;
        this.#chunks.shift();
      } else {
        this.#chunks[0] = head.subarray(remaining);
        remaining = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

/** Stream header: `fixedHeader | wrapped | commitment | salt | frameSize`, then `ct | tag` frames. */
export function createEncryptStream(core: TransitCore, context: EncryptionContext): Transform {
  const contextBytes = encodeContext(context);
  const frameSize = core.frameSize;
  const queue = new ByteQueue();
  let key: KeyObject | undefined;
  let streamHeader: Buffer | undefined;
  let index = 0;
  let starting: Promise<void> | undefined;

  const start = (stream: Transform): Promise<void> => {
    starting ??= (async () => {
      const { entry, alg } = await core.reserve(context, 0, true);
      const salt = randomBytes(STREAM_SALT_BYTES);
      const frameSizeBytes = Buffer.alloc(4);
      frameSizeBytes.writeUInt32BE(frameSize, 0);
      streamHeader = Buffer.concat([
        core.fixedHeader(alg),
        entry.wrapped,
        entry.dataKey.commitment,
        salt,
        frameSizeBytes,
      ]);
      key = entry.dataKey.streamKey(salt);
      stream.push(streamHeader);
    })();
    return starting;
  };

  const seal = (plaintext: Buffer, last: boolean): Buffer => {
    if (!key || !streamHeader) throw new TransitError('ERR_TRANSIT_STREAM', 'encryptStream: not started.');
    const cipher = createCipheriv('aes-256-gcm', key, frameNonce(index));
    cipher.setAAD(frameAad(streamHeader, index, last, contextBytes));
    index += 1;
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };

  return new Transform({
    async transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        await start(this);
        queue.push(chunk);
        // A full frame is sealed only once more data follows it: the last frame is flagged.
        while (queue.length > frameSize) this.push(seal(queue.take(frameSize), false));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async flush(callback: TransformCallback) {
      try {
        await start(this);
        this.push(seal(queue.take(queue.length), true));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

export function createDecryptStream(
  core: TransitCore,
  context: EncryptionContext,
  options: DecryptStreamOptions,
): Transform {
  const contextBytes = encodeContext(context);
  const maxBodySize = options.maxBodySize ?? Number.POSITIVE_INFINITY;
  const queue = new ByteQueue();
  let key: KeyObject | undefined;
  let streamHeader: Buffer | undefined;
  let frameSize = 0;
  let index = 0;
  let released = 0;

  const readHeader = async (): Promise<boolean> => {
    if (key) return true;
    const available = queue.peek(Math.min(queue.length, MAX_HEADER_BYTES));
    let head: ReturnType<typeof parseHead>;
    try {
      head = parseHead(available);
    } catch (error) {
      if (queue.length < MAX_HEADER_BYTES && (error as Error).message.includes('truncated')) return false;
      throw error;
    }
    if (!isStream(head.alg)) {
      throw new TransitError(
        'ERR_TRANSIT_MALFORMED_ENVELOPE',
        'decryptStream: this is a record envelope, not a stream: use decrypt().',
      );
    }
    const total = head.end + COMMITMENT_BYTES + STREAM_SALT_BYTES + 4;
    if (queue.length < total) return false;
    const header = Buffer.from(queue.take(total));
    const parsed = parseHead(header);
    const commitment = header.subarray(parsed.end, parsed.end + COMMITMENT_BYTES);
    const salt = header.subarray(parsed.end + COMMITMENT_BYTES, parsed.end + COMMITMENT_BYTES + STREAM_SALT_BYTES);
    frameSize = header.readUInt32BE(total - 4);
    if (frameSize < 1 || frameSize > MAX_FRAME_SIZE) {
      throw new TransitError(
        'ERR_TRANSIT_MALFORMED_ENVELOPE',
        'decryptStream: the stream header has an invalid frame size.',
      );
    }
    const dataKey = await core.unwrap(parsed, context);
    if (!timingSafeEqual(commitment, dataKey.commitment)) {
      throw new TransitError(
        'ERR_TRANSIT_INTEGRITY',
        'decryptStream: key commitment does not match the unwrapped data key. Not retryable.',
      );
    }
    streamHeader = header;
    key = dataKey.streamKey(salt);
    return true;
  };

  const open = (frame: Buffer, last: boolean): Buffer => {
    if (!key || !streamHeader) throw new TransitError('ERR_TRANSIT_STREAM', 'decryptStream: not started.');
    const decipher = createDecipheriv('aes-256-gcm', key, frameNonce(index));
    decipher.setAAD(frameAad(streamHeader, index, last, contextBytes));
    decipher.setAuthTag(frame.subarray(frame.length - TAG_BYTES));
    const plaintext = decipher.update(frame.subarray(0, frame.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      throw new TransitError(
        'ERR_TRANSIT_INTEGRITY',
        `decryptStream: frame ${index} does not authenticate (wrong context, modified, reordered or truncated stream). Not retryable.`,
      );
    }
    index += 1;
    released += plaintext.length;
    if (released > maxBodySize) {
      plaintext.fill(0);
      throw new TransitError('ERR_TRANSIT_STREAM', 'decryptStream: the plaintext is larger than maxBodySize.');
    }
    return plaintext;
  };

  return new Transform({
    async transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        queue.push(chunk);
        if (!(await readHeader())) {
          callback();
          return;
        }
        const record = frameSize + TAG_BYTES;
        while (queue.length > record) this.push(open(queue.take(record), false));
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
