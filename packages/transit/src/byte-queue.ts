/** Where a consumed chunk was: drops the reference at once, keeps the array one element kind. */
const EMPTY = Buffer.alloc(0);
/** Chunks shorter than this are copied into the queue's buffer rather than held one object each. */
const SMALL_CHUNK = 1024;
/** Smallest buffer the queue allocates to copy into. */
const MIN_BUFFER_BYTES = 16 * 1024;

/** Work a queue did, counted so a test can check it stays linear in the bytes (no clock). */
export interface ByteQueueWork {
  /** Bytes copied (into the queue's buffer, or into a slice `peek` had to assemble). */
  copied: number;
  /** Chunks the queue looked at: each caller chunk once when consumed or copied, each buffer relocation once. */
  visited: number;
  /** Buffers the queue allocated. */
  allocations: number;
}

/**
 * Collects chunks and hands out exactly-sized slices. Linear in the bytes however finely they were
 * written (one byte a chunk), and each byte is copied at most once into memory of the queue's own:
 *
 * - The front of the queue is the live part of one buffer of the queue's own (`#buf`, bytes
 *   `#start` to `#end`), appended to; after it come chunks the caller pushed, held by reference
 *   (`#refs`, from `#refHead`, the first one from `#refOffset`), never written to.
 * - Small chunks are copied into `#buf` as they are pushed (a held `Buffer` costs about a hundred
 *   bytes of its own, so 1-byte writes held one object each made a 64 KiB frame cost ~8 MiB). The
 *   chunks held by reference are copied there first, so the order holds.
 * - `take` hands out a view of `#buf`, or of one chunk when the bytes lie within it (no copy): a
 *   frame sealed straight from a large write is never copied. A slice that spans a chunk boundary
 *   is assembled in `#buf` by appending the chunks' bytes, which are then the queue's.
 * - {@link own} appends what is left of the chunks held by reference, so the caller may reuse them.
 *   Given the size of the next `take` (a stream's frame), `#buf` is at least that large, so the
 *   frame is one view of it later, not a second copy; once the front of the queue is empty, the
 *   next bytes are written from the start of the same buffer: no allocation per write.
 *
 * A slice `take` or `peek` returned is valid until the next `push`, `take`, `peek`, {@link own} or
 * {@link wipe}: the queue may then overwrite (and, with `wipe`, zeroes) the bytes it points into.
 *
 * With `wipe` (plaintext going through `encryptStream`), the bytes the queue copied are zeroed once
 * consumed, at the next operation or {@link wipe}, and when they are moved to a larger buffer.
 * Chunks the caller pushed and still owns are never written to.
 */
export class ByteQueue {
  readonly #wipe: boolean;
  /** Consumed bytes of `#buf`, zeroed at the next operation (`wipe` only). */
  #consumed: Buffer[] = [];
  #buf: Buffer | undefined;
  #start = 0;
  #end = 0;
  #refs: Buffer[] = [];
  #refHead = 0;
  /** Bytes of `#refs[#refHead]` already consumed. */
  #refOffset = 0;
  /** Size of the next `take` as {@link own} was last told (a frame): `#buf` is made at least this large. */
  #next = 0;
  length = 0;
  /** Counted work (read by tests). */
  readonly work: ByteQueueWork = { copied: 0, visited: 0, allocations: 0 };

  constructor(options: { readonly wipe?: boolean } = {}) {
    this.#wipe = options.wipe === true;
  }

  /** Zeroes the consumed bytes this queue copied; slices `take` returned before are then dead. */
  wipe(): void {
    for (const view of this.#consumed) view.fill(0);
    this.#consumed = [];
  }

  /**
   * Empties the queue; with `wipe`, first zeroes every byte it copied, queued or consumed. Chunks
   * the caller pushed and still owns are dropped, never written to. For a stream that ends early
   * (destroyed, failed): `wipe()` covers consumed bytes only.
   */
  discard(): void {
    if (this.#wipe) {
      this.wipe();
      this.#buf?.fill(0, this.#start, this.#end);
    }
    this.#buf = undefined;
    this.#start = 0;
    this.#end = 0;
    this.#refs = [];
    this.#refHead = 0;
    this.#refOffset = 0;
    this.length = 0;
  }

  /** Buffers held (a test reads it: memory per held byte must not grow with how finely it was written). */
  get heldChunks(): number {
    return (this.#end > this.#start ? 1 : 0) + this.#refs.length - this.#refHead;
  }

  push(chunk: Buffer): void {
    if (this.#wipe) this.wipe();
    if (chunk.length === 0) return;
    if (chunk.length >= SMALL_CHUNK) {
      this.#refs.push(chunk);
      this.length += chunk.length;
      return;
    }
    // Behind chunks held by reference: those are copied first (at most once, like every byte).
    this.#ownRefs();
    this.#append(chunk, 0, chunk.length);
    this.length += chunk.length;
  }

  /**
   * Copies what is left of the chunks the caller pushed (held by reference) into the queue's
   * buffer, so the caller may reuse them once this returns; bytes already the queue's are not
   * copied again, and only chunks pushed since the last call are looked at. `next`, the size of the
   * next `take` (a stream's frame), sizes a new buffer so that frame is one view of it. Like
   * {@link wipe}, it ends the life of the slices `take` returned.
   */
  own(next = 0): void {
    if (this.#wipe) this.wipe();
    if (next > this.#next) this.#next = next;
    this.#ownRefs();
  }

  /** The first `min(n, length)` bytes, left in the queue. */
  peek(n: number): Buffer {
    const size = Math.min(n, this.length);
    if (size <= 0) return Buffer.alloc(0);
    return this.#front(size);
  }

  /** The first `min(n, length)` bytes, removed from the queue. */
  take(n: number): Buffer {
    if (this.#wipe) this.wipe();
    const size = Math.min(n, this.length);
    if (size <= 0) return Buffer.alloc(0);
    const out = this.#front(size);
    this.length -= size;
    if (this.#end > this.#start) {
      // #front left the bytes in #buf.
      this.#start += size;
      if (this.#wipe) this.#consumed.push(out);
    } else this.#skipRefs(size);
    return out;
  }

  /** The first `size` bytes (1 ≤ size ≤ length) as one view, made so by appending to `#buf` if need be. */
  #front(size: number): Buffer {
    const live = this.#end - this.#start;
    if (live === 0) {
      const first = this.#refs[this.#refHead] as Buffer;
      if (first.length - this.#refOffset >= size) return first.subarray(this.#refOffset, this.#refOffset + size);
    }
    if (live < size) this.#moveRefs(size - live);
    return (this.#buf as Buffer).subarray(this.#start, this.#start + size);
  }

  /** Consumes `size` bytes of the chunks held by reference (`#buf` holds none). */
  #skipRefs(size: number): void {
    let left = size;
    while (left > 0) {
      const chunk = this.#refs[this.#refHead] as Buffer;
      this.work.visited += 1;
      const part = Math.min(chunk.length - this.#refOffset, left);
      left -= part;
      this.#refOffset += part;
      if (this.#refOffset === chunk.length) this.#dropRef();
    }
  }

  #dropRef(): void {
    this.#refs[this.#refHead] = EMPTY;
    this.#refHead += 1;
    this.#refOffset = 0;
    if (this.#refHead === this.#refs.length) {
      this.#refs = [];
      this.#refHead = 0;
    } else if (this.#refHead > 1024 && this.#refHead * 2 > this.#refs.length) {
      // Compact once most of the array is consumed: amortized O(1) a chunk.
      this.#refs = this.#refs.slice(this.#refHead);
      this.#refHead = 0;
    }
  }

  /** Moves the chunks held by reference into `#buf`. */
  #ownRefs(): void {
    if (this.#refHead === this.#refs.length) return;
    this.#moveRefs(this.length - (this.#end - this.#start));
  }

  /** Moves the first `bytes` bytes of the chunks held by reference to the end of `#buf`. */
  #moveRefs(bytes: number): void {
    this.#reserve(bytes);
    let left = bytes;
    while (left > 0) {
      const chunk = this.#refs[this.#refHead] as Buffer;
      const part = Math.min(chunk.length - this.#refOffset, left);
      this.#append(chunk, this.#refOffset, this.#refOffset + part);
      left -= part;
      this.#refOffset += part;
      if (this.#refOffset === chunk.length) this.#dropRef();
    }
  }

  /** Copies `chunk[from, to)` to the end of `#buf`. */
  #append(chunk: Buffer, from: number, to: number): void {
    this.#reserve(to - from);
    this.work.visited += 1;
    this.work.copied += to - from;
    this.#end += chunk.copy(this.#buf as Buffer, this.#end, from, to);
  }

  /** Makes room for `bytes` more at the end of `#buf`. */
  #reserve(bytes: number): void {
    const live = this.#end - this.#start;
    if (live === 0 && this.#end > 0) {
      // Nothing queued points into #buf: the slices it handed out are dead, and zeroed first (`wipe`).
      if (this.#wipe) this.wipe();
      this.#start = 0;
      this.#end = 0;
    }
    if (this.#buf && this.#end + bytes <= this.#buf.length) return;
    const needed = live + bytes;
    // The consumed front is dead (see the class comment): when it is at least as long as what is
    // still queued, the queued bytes move to the start of the same buffer. Each byte moved is paid
    // for by a consumed one, so this stays amortized O(1) a byte, with no allocation.
    if (this.#buf && needed <= this.#buf.length && this.#start >= live) {
      // Consumed views are zeroed before the live bytes move over them, and the stale copies after.
      if (this.#wipe) this.wipe();
      const end = this.#end;
      this.work.visited += 1;
      this.work.copied += live;
      this.#buf.copyWithin(0, this.#start, end);
      if (this.#wipe) this.#buf.fill(0, live, end);
      this.#start = 0;
      this.#end = live;
      return;
    }
    // Doubling (moving the live bytes stays amortized O(1) a byte) up to the expected next take plus
    // one small write (a stream takes a frame only once more than a frame is queued), so a small
    // stream with a large frame size does not allocate a whole frame; then it is reused.
    const cap = this.#next > 0 ? this.#next + SMALL_CHUNK : 0;
    const size =
      needed <= cap
        ? Math.min(cap, Math.max(MIN_BUFFER_BYTES, 2 * needed))
        : Math.max(MIN_BUFFER_BYTES, needed, 2 * live);
    const next = Buffer.allocUnsafe(size);
    this.work.allocations += 1;
    const old = this.#buf;
    if (old && live > 0) {
      this.work.visited += 1;
      this.work.copied += old.copy(next, 0, this.#start, this.#end);
      // The old buffer may still be pointed into by slices handed out: its queued bytes are zeroed.
      if (this.#wipe) old.fill(0, this.#start, this.#end);
    }
    this.#buf = next;
    this.#start = 0;
    this.#end = live;
  }
}
