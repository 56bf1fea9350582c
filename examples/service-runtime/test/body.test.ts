import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyError, endLingering, readBody } from '../src/body.ts';
import { streamFromAnotherProcess } from './stream-client.ts';

const MAX = 1024;
let server: Server | undefined;
const errors: unknown[] = [];

/** A server that reads each body with readBody (cap 1 KiB) and answers 413 to a too-large one with endLingering. */
async function start(): Promise<string> {
  server = createServer((req, res) => {
    readBody(req, MAX).then(
      (body) => res.end(`read ${body.length}`),
      (error: unknown) => {
        errors.push(error);
        res.statusCode = 413;
        res.setHeader('content-type', 'text/plain');
        endLingering(req, res, 'too large');
      },
    );
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

afterEach(async () => {
  errors.length = 0;
  const running = server;
  server = undefined;
  if (!running) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

describe('readBody + endLingering', () => {
  it('reads a body up to the cap', async () => {
    const url = await start();
    const response = await fetch(url, { method: 'POST', body: 'x'.repeat(MAX) });
    expect(await response.text()).toBe(`read ${MAX}`);
  });

  it('answers every oversized streamed body, chunked or announced, instead of a reset', async () => {
    const url = await start();
    const outcomes = await streamFromAnotherProcess(url, { headers: {}, size: 2 * 1024 * 1024, attempts: 10 });
    expect(outcomes).toEqual(Array(10).fill('413 close too large'));
    const announced = await fetch(url, { method: 'POST', body: 'x'.repeat(64 * 1024) });
    expect(announced.status).toBe(413);
    expect(announced.headers.get('connection')).toBe('close');
    expect(await announced.text()).toBe('too large');
    expect(errors.every((error) => error instanceof BodyError && error.code === 'ERR_BODY_TOO_LARGE')).toBe(true);
  });

  it('names the limit in its messages, never the body', () => {
    for (const code of ['ERR_BODY_TOO_LARGE', 'ERR_BODY_NOT_RECEIVED'] as const) {
      const error = new BodyError(code, MAX);
      expect(error.name).toBe('BodyError');
      expect(error.code).toBe(code);
      expect(error.message).not.toContain('x');
    }
    expect(new BodyError('ERR_BODY_TOO_LARGE', MAX).message).toContain(String(MAX));
  });
});
