import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Pushes `input` (one buffer, or chunks) through `transform` and returns everything it wrote.
 * Chunks are also collected into `out` as they arrive, so a caller can see what a failing stream
 * released before its error.
 */
export async function pipeThrough(
  input: Buffer | readonly Buffer[],
  transform: NodeJS.ReadWriteStream,
  out: Buffer[] = [],
): Promise<Buffer> {
  await pipeline(
    Readable.from(Buffer.isBuffer(input) ? [input] : input),
    transform,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}
