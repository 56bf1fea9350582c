/** Where a consumed chunk was: drops the reference at once, keeps the array one element kind. */
const CONSUMED = Buffer.alloc(0);
/** Chunks shorter than this are copied into the tail rather than held one object each. */
const SMALL_CHUNK = 1024;
/** Size of each tail buffer small chunks are copied into. */
const TAIL_BYTES = 16 * 1024;

/**
 * Collects chunks and hands out exactly-sized slices, copying only when a slice spans chunks.
 * Linear in the bytes of each slice however finely they were written (one byte a chunk): consumed
 * chunks are skipped by an index, never shifted off the array, which would be quadratic.
 *
 * Memory stays proportional to the bytes held however finely they were written: a held `Buffer`
 * costs about a hundred bytes of its own, so 1-byte writes held one object each made a 64 KiB
 * frame cost ~8 MiB. Small chunks are copied into a 16 KiB tail buffer instead, which joins
 * `#chunks` once full or when a large chunk follows it.
 *
 * With `wipe` (plaintext going through `encryptStream`), the bytes the queue copied (tail
 * buffers, slices copied together, {@link own}) are zeroed once consumed, at the next
 * `push`/`take` or {@link wipe}: a slice `take` returned must be used before then. Chunks the
 * caller pushed and still owns are never written to.
 *
 * Large chunks are held by reference until {@link own} copies what is left of them: a stream calls
 * it before its write callback, after which the writer may reuse its buffer.
 */
export class ByteQueue {
  readonly #wipe: boolean;
  /** Views of buffers this queue allocated, held in `#chunks`. */
  readonly #owned = new WeakSet<Buffer>();
  /** Consumed bytes of buffers this queue allocated, zeroed at the next operation (`wipe` only). */
  #consumed: Buffer[] = [];
  #chunks: Buffer[] = [];
  /** Index in `#chunks` of the first chunk not fully consumed. */
  #head = 0;
  /** Small chunks copied together: bytes `#tailStart` to `#tailEnd` of `#tail` come after `#chunks`. */
  #tail: Buffer | undefined;
  #tailStart = 0;
  #tailEnd = 0;
  /** The buffer {@link own} copied into last, reused once nothing queued points into it. */
  #spare: Buffer | undefined;
  length = 0;

  constructor(options: { readonly wipe?: boolean } = {}) {
    this.#wipe = options.wipe === true;
  }

  /** Zeroes the consumed bytes this queue copied; slices `take` returned before are then dead. */
  wipe(): void {
    for (const view of this.#consumed) view.fill(0);
    this.#consumed = [];
  }

  /**
   * Empties the queue; with `wipe`, first zeroes every byte it copied, queued or consumed (tail
   * buffers, slices copied together). Chunks the caller pushed and still owns are dropped, never
   * written to. For a stream that ends early (destroyed, failed): `wipe()` covers consumed bytes only.
   */
  discard(): void {
    if (this.#wipe) {
      this.wipe();
      for (let i = this.#head; i < this.#chunks.length; i++) {
        const chunk = this.#chunks[i] as Buffer;
        if (this.#owned.has(chunk)) chunk.fill(0);
      }
      // Bytes before #tailStart were consumed (zeroed above) or sealed into #chunks (likewise).
      this.#tail?.fill(0, 0, this.#tailEnd);
    }
    this.#chunks = [];
    this.#head = 0;
    this.#spare = undefined;
    this.#tail = undefined;
    this.#tailStart = 0;
    this.#tailEnd = 0;
    this.length = 0;
  }

  /** Consumes all of chunk `chunks[index]` (`part` = its length) or its first `part` bytes. */
  #consumeChunk(chunks: Buffer[], index: number, part: number): void {
    const chunk = chunks[index] as Buffer;
    const owned = this.#owned.has(chunk);
    if (part < chunk.length) {
      const rest = chunk.subarray(part);
      if (owned) {
        this.#owned.add(rest);
        if (this.#wipe) this.#consumed.push(chunk.subarray(0, part));
      }
      chunks[index] = rest;
    } else {
      if (owned && this.#wipe) this.#consumed.push(chunk);
      chunks[index] = CONSUMED;
    }
  }

  /** Buffers held (a test reads it: memory per held byte must not grow with how finely it was written). */
  get heldChunks(): number {
    return this.#chunks.length - this.#head + (this.#tailEnd > this.#tailStart ? 1 : 0);
  }

  push(chunk: Buffer): void {
    if (this.#wipe) this.wipe();
    if (chunk.length === 0) return;
    this.length += chunk.length;
    if (chunk.length >= SMALL_CHUNK) {
      this.#sealTail();
      this.#chunks.push(chunk);
      return;
    }
    if (!this.#tail || this.#tailEnd + chunk.length > this.#tail.length) {
      this.#sealTail();
      // A new buffer, never a reused one: slices handed out by take() may still point into the old.
      this.#tail = Buffer.allocUnsafe(TAIL_BYTES);
      this.#tailStart = 0;
      this.#tailEnd = 0;
    }
    chunk.copy(this.#tail, this.#tailEnd);
    this.#tailEnd += chunk.length;
  }

  /** Moves the tail's queued bytes to the end of `#chunks`; later small chunks fill the rest of it. */
  #sealTail(): void {
    if (this.#tail && this.#tailEnd > this.#tailStart) {
      const view = this.#tail.subarray(this.#tailStart, this.#tailEnd);
      this.#owned.add(view);
      this.#chunks.push(view);
    }
    this.#tailStart = this.#tailEnd;
  }

  /**
   * Copies the queued bytes of chunks the caller pushed (large ones, held by reference) into memory
   * of the queue's own, so the caller may reuse its buffers once this returns. Chunks already the
   * queue's are not copied again. Like {@link wipe}, it ends the life of the slices `take` returned.
   * A stream calls it after every write, so its buffer is reused once nothing queued points into
   * it (as soon as the frame it held was taken): no allocation per write.
   */
  own(): void {
    if (this.#wipe) this.wipe();
    const chunks = this.#chunks;
    let size = 0;
    for (let i = this.#head; i < chunks.length; i++) {
      const chunk = chunks[i] as Buffer;
      if (!this.#owned.has(chunk)) size += chunk.length;
    }
    if (size === 0) return;
    let copy: Buffer;
    const spare = this.#spare;
    if (spare && spare.length >= size && !this.#holds(spare)) copy = spare;
    else {
      // Its own ArrayBuffer (never the shared pool), so #holds can tell whether it is still in use.
      copy = Buffer.allocUnsafeSlow(size);
      this.#spare = copy;
    }
    let offset = 0;
    for (let i = this.#head; i < chunks.length; i++) {
      const chunk = chunks[i] as Buffer;
      if (this.#owned.has(chunk)) continue;
      const view = copy.subarray(offset, offset + chunk.copy(copy, offset));
      offset += view.length;
      this.#owned.add(view);
      chunks[i] = view;
    }
  }

  /** Whether a queued chunk points into `buffer`. */
  #holds(buffer: Buffer): boolean {
    for (let i = this.#head; i < this.#chunks.length; i++) {
      if ((this.#chunks[i] as Buffer).buffer === buffer.buffer) return true;
    }
    return false;
  }

  /** The first `min(n, length)` bytes, left in the queue. */
  peek(n: number): Buffer {
    return this.#read(n, false);
  }

  /** The first `min(n, length)` bytes, removed from the queue. */
  take(n: number): Buffer {
    if (this.#wipe) this.wipe();
    return this.#read(n, true);
  }

  #read(n: number, consume: boolean): Buffer {
    const size = Math.min(n, this.length);
    if (size <= 0) return Buffer.alloc(0);
    const chunks = this.#chunks;
    let index = this.#head;
    let out: Buffer;
    const first = chunks[index];
    if (!first) {
      // Everything queued is in the tail.
      out = (this.#tail as Buffer).subarray(this.#tailStart, this.#tailStart + size);
      if (consume) {
        this.#tailStart += size;
        if (this.#wipe) this.#consumed.push(out);
      }
    } else if (first.length >= size) {
      out = first.subarray(0, size);
      if (consume) {
        this.#consumeChunk(chunks, index, size);
        if (first.length === size) index += 1;
      }
    } else {
      out = Buffer.allocUnsafe(size);
      if (consume && this.#wipe) this.#consumed.push(out);
      let offset = 0;
      // Each step copies a whole non-empty chunk or ends: at most one step per chunk held.
      while (offset < size && index < chunks.length) {
        const chunk = chunks[index] as Buffer;
        const part = Math.min(chunk.length, size - offset);
        chunk.copy(out, offset, 0, part);
        offset += part;
        if (consume) this.#consumeChunk(chunks, index, part);
        if (part < chunk.length) break;
        index += 1;
      }
      if (offset < size) {
        // The rest is in the tail (size ≤ length, so it holds enough).
        const start = this.#tailStart;
        (this.#tail as Buffer).copy(out, offset, start, start + size - offset);
        if (consume) {
          this.#tailStart += size - offset;
          if (this.#wipe) this.#consumed.push((this.#tail as Buffer).subarray(start, start + size - offset));
        }
      }
    }
    if (!consume) return out;
    this.length -= size;
    if (index >= chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (index > 1024 && index * 2 > chunks.length) {
      // Compact once most of the array is consumed: amortized O(1) a chunk.
      this.#chunks = chunks.slice(index);
      this.#head = 0;
    } else this.#head = index;
    return out;
  }
}
