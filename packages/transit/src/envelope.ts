import { TransitError } from './errors.ts';
import { isKeyName, isMountPath } from './key-name.ts';

/**
 * The record and stream envelope (all integers big-endian):
 *
 * ```
 * magic 0xAE | version | alg | mountLen | mount | keyLen | key           <- "fixed header", in the AAD
 * keyVersion (LEB128, minimal) | wrapped DEK (60 bytes: Vault's nonce‖ct‖tag)  <- changed by rewrap
 * record (version 1): counter (u32) | commitment (32) | ciphertext | tag (16)
 * stream (version 1 or 2): commitment (32) | salt (16) | frameSize (u32) | frames: ct ‖ tag (16)
 * ```
 *
 * `mountLen` 0 means the default mount `transit`. The wrapped DEK and its version are outside the
 * AAD so that rewrap can replace them without the plaintext; they are bound by the key commitment
 * (a different DEK has a different commitment, checked before anything is decrypted) and by
 * Vault's own authentication.
 *
 * Streams differ only in what each frame authenticates: version 1 (read-only now) put the whole
 * stream header, wrapped DEK included, in every frame's AAD, so a rewrapped v1 stream no longer
 * authenticated; version 2 authenticates the header without the key version and wrapped DEK
 * ({@link streamAadPrefix}); records authenticate less (fixed header ‖ context, see record-cipher.ts).
 */
export const MAGIC = 0xae;
/** Records, and the streams written before stream format 2 (still read, never written). */
export const FORMAT_VERSION = 0x01;
/** Streams written now: frames do not authenticate the replaceable key version / wrapped DEK. */
export const STREAM_FORMAT_VERSION = 0x02;
export const DEFAULT_MOUNT = 'transit';
export const WRAPPED_DEK_BYTES = 60;
export const COMMITMENT_BYTES = 32;
export const TAG_BYTES = 16;
export const COUNTER_BYTES = 4;
export const STREAM_SALT_BYTES = 16;

export const ALG = {
  record: 0x01,
  recordTenantBound: 0x02,
  stream: 0x11,
  streamTenantBound: 0x12,
} as const;
export type AlgId = (typeof ALG)[keyof typeof ALG];
const ALGS: ReadonlySet<number> = new Set(Object.values(ALG));

export function isTenantBound(alg: AlgId): boolean {
  return alg === ALG.recordTenantBound || alg === ALG.streamTenantBound;
}
export function isStream(alg: AlgId): boolean {
  return alg === ALG.stream || alg === ALG.streamTenantBound;
}
/** The alg written for a record or a stream, with its data key bound to a tenant or not. */
export function algOf(stream: boolean, tenantBound: boolean): AlgId {
  if (tenantBound) return stream ? ALG.streamTenantBound : ALG.recordTenantBound;
  return stream ? ALG.stream : ALG.record;
}

/** Everything before the counter (records) or commitment (streams), parsed. */
export interface EnvelopeHead {
  /** Format version byte: 1 for records and old streams, 2 for streams written now. */
  readonly version: 1 | 2;
  readonly alg: AlgId;
  readonly mount: string;
  readonly key: string;
  readonly keyVersion: number;
  /** The AAD part: magic through key name. */
  readonly fixedHeader: Buffer;
  readonly wrappedDek: Buffer;
  /** Offset of the first byte after the wrapped DEK. */
  readonly end: number;
}

export interface RecordEnvelope extends EnvelopeHead {
  readonly counter: number;
  readonly commitment: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

function malformed(what: string): TransitError {
  return new TransitError(
    'ERR_TRANSIT_MALFORMED_ENVELOPE',
    `not a @rampart/transit envelope (${what}). Pass the bytes encrypt() returned, unmodified.`,
  );
}

const TRUNCATED_MESSAGE = malformed('truncated').message;

/**
 * Whether `error` is the parser saying that the bytes end too early (more may make an envelope),
 * rather than that they are wrong: read from its code and whole message, never from a part of it (a
 * key name may be any word).
 */
export function isTruncation(error: unknown): boolean {
  return (
    error instanceof TransitError &&
    error.code === 'ERR_TRANSIT_MALFORMED_ENVELOPE' &&
    error.message === TRUNCATED_MESSAGE
  );
}

/** The format version written for `alg`: 2 for streams, 1 for records. */
export function formatVersionOf(alg: AlgId): 1 | 2 {
  return isStream(alg) ? STREAM_FORMAT_VERSION : FORMAT_VERSION;
}

/**
 * `magic | version | alg | mountLen | mount | keyLen | key`. `version` defaults to what is written
 * today for `alg`; only tests pass 1 for a stream (to build old streams).
 */
export function encodeFixedHeader(
  alg: AlgId,
  mount: string,
  key: string,
  version: 1 | 2 = formatVersionOf(alg),
): Buffer {
  const mountBytes = mount === DEFAULT_MOUNT ? Buffer.alloc(0) : Buffer.from(mount, 'utf8');
  const keyBytes = Buffer.from(key, 'utf8');
  return Buffer.concat([
    Buffer.from([MAGIC, version, alg, mountBytes.length]),
    mountBytes,
    Buffer.from([keyBytes.length]),
    keyBytes,
  ]);
}

export function encodeVarint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest & 0x7f;
    rest = Math.floor(rest / 128);
    bytes.push(rest > 0 ? low | 0x80 : low);
  } while (rest > 0);
  return Buffer.from(bytes);
}

/** `keyVersion | wrappedDek`: the part rewrap replaces. */
export function encodeWrapped(keyVersion: number, wrappedDek: Buffer): Buffer {
  return Buffer.concat([encodeVarint(keyVersion), wrappedDek]);
}

/**
 * Which (mount, key) an envelope may name: `Transit`'s own key and `acceptKeys`, or {@link anyKey}
 * where only the header is read (`inspect`).
 */
export type AcceptsKey = (mount: string, key: string) => boolean;

/** For `inspect` only: reads the header whatever (well-formed) key it names. */
export const anyKey: AcceptsKey = () => true;

/**
 * Parses the header up to and including the wrapped DEK. Every reader of envelopes goes through
 * here, so they all refuse the same headers the same way: a mount or key name that `createTransit`
 * options would refuse (`../../sys/mounts`, control characters, ...) is no envelope this package
 * wrote (`ERR_TRANSIT_MALFORMED_ENVELOPE`, without echoing the name), and a well-formed name that
 * `accepts` refuses is `ERR_TRANSIT_KEY_NOT_ACCEPTED`. Both are checked as soon as the name is
 * read, so a stream is refused from its first bytes.
 */
export function parseHead(bytes: Uint8Array, accepts: AcceptsKey): EnvelopeHead {
  if (!(bytes instanceof Uint8Array)) {
    throw new TransitError(
      'ERR_TRANSIT_MALFORMED_ENVELOPE',
      'an envelope is the bytes (Buffer or Uint8Array) encrypt() or encryptStream() wrote: for the base64url text encryptString() returned, use decryptString().',
    );
  }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length > 0 && buf[0] !== MAGIC) throw malformed('bad magic');
  if (buf.length < 5) throw malformed('truncated');
  const version = buf[1];
  if (version !== FORMAT_VERSION && version !== STREAM_FORMAT_VERSION) throw malformed('unknown format version');
  const alg = buf[2] ?? 0;
  if (!ALGS.has(alg)) throw malformed('unknown algorithm');
  // Format 2 exists for streams only: a "version 2 record" is no envelope this code wrote.
  if (version === STREAM_FORMAT_VERSION && !isStream(alg as AlgId)) throw malformed('unknown format version');
  let offset = 3;
  const mountLen = buf[offset++] ?? 0;
  if (offset + mountLen + 1 > buf.length) throw malformed('truncated');
  const mount = mountLen === 0 ? DEFAULT_MOUNT : buf.toString('utf8', offset, offset + mountLen);
  offset += mountLen;
  const keyLen = buf[offset++] ?? 0;
  if (keyLen === 0) throw malformed('bad key name');
  if (offset + keyLen > buf.length) throw malformed('truncated');
  const key = buf.toString('utf8', offset, offset + keyLen);
  offset += keyLen;
  if (!isMountPath(mount)) throw malformed('bad mount name');
  if (!isKeyName(key)) throw malformed('bad key name');
  if (!accepts(mount, key)) {
    throw new TransitError(
      'ERR_TRANSIT_KEY_NOT_ACCEPTED',
      `the envelope names transit key "${key}" on mount "${mount}", which this instance does not accept: add it to acceptKeys if it is yours.`,
    );
  }
  const fixedHeader = buf.subarray(0, offset);
  let keyVersion = 0;
  let shift = 1;
  for (let i = 0; ; i++) {
    const byte = buf[offset++];
    if (byte === undefined) throw malformed('truncated');
    if (i >= 5) throw malformed('bad key version');
    keyVersion += (byte & 0x7f) * shift;
    shift *= 128;
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw malformed('non-minimal key version');
      break;
    }
  }
  if (keyVersion < 1 || keyVersion > 0x7fffffff) throw malformed('bad key version');
  if (offset + WRAPPED_DEK_BYTES > buf.length) throw malformed('truncated');
  const wrappedDek = buf.subarray(offset, offset + WRAPPED_DEK_BYTES);
  offset += WRAPPED_DEK_BYTES;
  return { version, alg: alg as AlgId, mount, key, keyVersion, fixedHeader, wrappedDek, end: offset };
}

/** Bytes after the wrapped DEK in a stream header: commitment, salt, frame size. */
export const STREAM_TRAILER_BYTES = COMMITMENT_BYTES + STREAM_SALT_BYTES + 4;

/** A parsed stream header (the bytes before the first frame). */
export interface StreamHeader extends EnvelopeHead {
  readonly commitment: Buffer;
  readonly salt: Buffer;
  readonly frameSize: number;
  /**
   * What every frame's AAD starts with (then index ‖ last-frame flag ‖ context). Version 2: the
   * fixed header ‖ commitment ‖ salt ‖ frame size, i.e. the header without the key version and
   * wrapped DEK that rewrap replaces. Version 1: the whole header.
   */
  readonly aadPrefix: Buffer;
}

/**
 * Parses a complete stream header; `bytes` must start with it and may continue with frames. The
 * returned buffers are copies, so the caller may drop `bytes`.
 */
export function parseStreamHeader(bytes: Uint8Array, accepts: AcceptsKey): StreamHeader {
  const head = parseHead(bytes, accepts);
  if (!isStream(head.alg)) throw malformed('a record, not a stream: use decrypt()');
  if (head.end + STREAM_TRAILER_BYTES > bytes.length) throw malformed('truncated');
  const header = Buffer.from(bytes.subarray(0, head.end + STREAM_TRAILER_BYTES));
  const copy = parseHead(header, accepts);
  const trailer = header.subarray(copy.end);
  return {
    ...copy,
    commitment: trailer.subarray(0, COMMITMENT_BYTES),
    salt: trailer.subarray(COMMITMENT_BYTES, COMMITMENT_BYTES + STREAM_SALT_BYTES),
    frameSize: trailer.readUInt32BE(COMMITMENT_BYTES + STREAM_SALT_BYTES),
    aadPrefix: streamAadPrefix(copy.version, header, copy.fixedHeader, trailer),
  };
}

/** `commitment | salt | frameSize`: what follows the wrapped DEK in a stream header. */
export function encodeStreamTrailer(commitment: Buffer, salt: Buffer, frameSize: number): Buffer {
  const trailer = Buffer.alloc(STREAM_TRAILER_BYTES);
  commitment.copy(trailer, 0);
  salt.copy(trailer, COMMITMENT_BYTES);
  trailer.writeUInt32BE(frameSize, COMMITMENT_BYTES + STREAM_SALT_BYTES);
  return trailer;
}

/**
 * The part of a stream header each frame authenticates. Version 2 leaves out the key version and
 * wrapped DEK: the commitment (in the AAD) binds the DEK instead, and it is checked against the
 * unwrapped DEK before any frame is opened, so a substituted wrapped DEK still fails closed.
 */
export function streamAadPrefix(version: 1 | 2, header: Buffer, fixedHeader: Buffer, trailer: Buffer): Buffer {
  return version === FORMAT_VERSION ? Buffer.from(header) : Buffer.concat([fixedHeader, trailer]);
}

export function parseRecord(bytes: Uint8Array, accepts: AcceptsKey): RecordEnvelope {
  const head = parseHead(bytes, accepts);
  if (isStream(head.alg)) throw malformed('a stream header, not a record: use decryptStream()');
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = head.end;
  if (offset + COUNTER_BYTES + COMMITMENT_BYTES + TAG_BYTES > buf.length) throw malformed('truncated');
  const counter = buf.readUInt32BE(offset);
  offset += COUNTER_BYTES;
  const commitment = buf.subarray(offset, offset + COMMITMENT_BYTES);
  offset += COMMITMENT_BYTES;
  const ciphertext = buf.subarray(offset, buf.length - TAG_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  return {
    version: head.version,
    alg: head.alg,
    mount: head.mount,
    key: head.key,
    keyVersion: head.keyVersion,
    fixedHeader: head.fixedHeader,
    wrappedDek: head.wrappedDek,
    end: head.end,
    counter,
    commitment,
    ciphertext,
    tag,
  };
}

/**
 * The record with every buffer copied (into one allocation): what a decrypt that must wait for its
 * data key keeps, so the caller may reuse its envelope buffer as soon as the call returns.
 */
export function copyRecord(record: RecordEnvelope): RecordEnvelope {
  const parts = [record.fixedHeader, record.wrappedDek, record.commitment, record.ciphertext, record.tag];
  const copy = Buffer.concat(parts);
  const views: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    views.push(copy.subarray(offset, offset + part.length));
    offset += part.length;
  }
  const [fixedHeader, wrappedDek, commitment, ciphertext, tag] = views as [Buffer, Buffer, Buffer, Buffer, Buffer];
  return { ...record, fixedHeader, wrappedDek, commitment, ciphertext, tag };
}

/** The same envelope with a new key version and wrapped DEK: what rewrap produces. */
export function replaceWrapped(bytes: Uint8Array, head: EnvelopeHead, keyVersion: number, wrappedDek: Buffer): Buffer {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Buffer.concat([head.fixedHeader, encodeWrapped(keyVersion, wrappedDek), buf.subarray(head.end)]);
}

/** Bytes of the longest key version varint (versions up to 2^31 - 1). */
const MAX_VARINT_BYTES = 5;

/**
 * What rewrap keeps of an envelope while Vault answers: a copy made at call time (the caller may
 * reuse its buffer), which is also the result, so a whole stream costs one buffer of its size. The
 * copy starts up to 4 bytes into its buffer, so a new key version whose varint is longer or shorter
 * than the old one is written in place: {@link replace} moves the fixed header, never the payload.
 */
export class RewrapCopy {
  /** `head` with its fixed header and wrapped DEK read from the copy. */
  readonly head: EnvelopeHead;
  readonly #buffer: Buffer;
  /** Offset in `#buffer` where the wrapped DEK ends, whatever the key version's length. */
  readonly #wrappedEnd: number;

  constructor(bytes: Uint8Array, head: EnvelopeHead) {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const at = MAX_VARINT_BYTES - (head.end - WRAPPED_DEK_BYTES - head.fixedHeader.length);
    this.#buffer = Buffer.allocUnsafe(at + buf.length);
    this.#buffer.fill(0, 0, at);
    buf.copy(this.#buffer, at);
    this.#wrappedEnd = at + head.end;
    this.head = {
      ...head,
      fixedHeader: this.#buffer.subarray(at, at + head.fixedHeader.length),
      wrappedDek: this.#buffer.subarray(this.#wrappedEnd - WRAPPED_DEK_BYTES, this.#wrappedEnd),
    };
  }

  /** The envelope with a new key version and wrapped DEK (what rewrap returns), patched in place. */
  replace(keyVersion: number, wrappedDek: Buffer): Buffer {
    const version = encodeVarint(keyVersion);
    const wrappedAt = this.#wrappedEnd - WRAPPED_DEK_BYTES;
    const start = wrappedAt - version.length - this.head.fixedHeader.length;
    const from = this.head.fixedHeader.byteOffset - this.#buffer.byteOffset;
    if (start !== from) this.#buffer.copyWithin(start, from, from + this.head.fixedHeader.length);
    version.copy(this.#buffer, wrappedAt - version.length);
    wrappedDek.copy(this.#buffer, wrappedAt, 0, WRAPPED_DEK_BYTES);
    if (start > 0) this.#buffer.fill(0, 0, start);
    return this.#buffer.subarray(start);
  }
}

/** `vault:v<N>:<base64>`, the ciphertext form Vault's decrypt and rewrap take. */
export function vaultCiphertext(keyVersion: number, wrappedDek: Buffer): string {
  return `vault:v${keyVersion}:${wrappedDek.toString('base64')}`;
}

/** Splits Vault's `vault:v<N>:<base64>` into version and raw bytes, checking the DEK size. */
export function fromVaultCiphertext(ciphertext: unknown): { keyVersion: number; wrappedDek: Buffer } {
  const match = typeof ciphertext === 'string' ? /^vault:v(\d{1,10}):([A-Za-z0-9+/]+={0,2})$/.exec(ciphertext) : null;
  const keyVersion = Number(match?.[1]);
  const wrappedDek = Buffer.from(match?.[2] ?? '', 'base64');
  if (!match || keyVersion < 1 || keyVersion > 0x7fffffff || wrappedDek.length !== WRAPPED_DEK_BYTES) {
    throw new TransitError(
      'ERR_TRANSIT_KEY_MISCONFIGURED',
      `Vault returned a wrapped data key that is not vault:vN: with ${WRAPPED_DEK_BYTES} bytes: the transit key must be an AEAD type (aes256-gcm96, aes128-gcm96 or chacha20-poly1305).`,
    );
  }
  return { keyVersion, wrappedDek };
}
