import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@rampart/testkit';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { timeout } from 'hono/timeout';
import { describe, expect, it } from 'vitest';
import { honoRateLimit } from '../src/adapters/hono.ts';
import type { HttpRateLimitOptions, LimitDefinition, RateLimiter } from '../src/index.ts';
import {
  type AppHooks,
  type Case,
  type Ctx,
  DOWNLOAD,
  DOWNLOAD_BYTES,
  describeBehaviourTable,
  EARLY,
  serveHono,
  useRedisLimiters,
  withConsume,
} from './fixtures/http-behaviour-table.ts';

/** One concurrency lease of 60 s, for every request of a case. */
const LEASE: LimitDefinition[] = [{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }];

/** Waits (at most 5 s) until `send` is answered 200: the lease has been given back. */
const released = (send: () => Promise<Response>, what: string): Promise<void> =>
  waitFor(
    async () => {
      const res = await send();
      await res.arrayBuffer();
      return res.status === 200;
    },
    { timeoutMs: 5_000, what },
  );

/** A promise and the function that settles it. */
function signal(): { readonly promise: Promise<void>; readonly settle: () => void } {
  let settle = (): void => {};
  const promise = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { promise, settle };
}

/** `limiter`, calling `settle` once it has decided a request (whatever it decided). */
const settlingOnDecision = (limiter: RateLimiter, settle: () => void): RateLimiter =>
  withConsume(limiter, async (subject, options) => {
    try {
      return await limiter.consume(subject, options);
    } finally {
      settle();
    }
  });

/**
 * The client aborts while the handler runs, which then answers or throws: the lease is held until
 * the handler is done with the response, not given back when the client leaves.
 */
function abortDuringHandler(ending: 'answers' | 'throws'): Case {
  let entered = signal();
  let gone: Promise<void> = Promise.resolve();
  let finished = signal();
  return {
    name: `client aborts during the handler, which then ${ending} → lease held until the handler ends`,
    options: (ctx) => ({
      limiter: ctx.limiter(LEASE),
      key: () => 'client:one',
    }),
    hooks: () => {
      entered = signal();
      finished = signal();
      return {
        handler: async (header, clientGone) => {
          if (header('x-slow') !== '1') return;
          gone = clientGone;
          entered.settle();
          await finished.promise;
          if (ending === 'throws') throw new Error('the handler failed');
        },
      };
    },
    async run(get) {
      const abort = new AbortController();
      const slow = get({ 'x-slow': '1' }, { signal: abort.signal }).catch((error: unknown) => error);
      await entered.promise;
      abort.abort();
      expect(await slow).toBeInstanceOf(Error);
      // The server has seen the client leave; the handler still runs and holds the lease.
      await gone;
      const during = await get();
      expect(during.status).toBe(429);
      await during.arrayBuffer();
      finished.settle();
      // The lease lasts 60 s: a 200 within 5 s proves the handler's end released it.
      await released(get, 'the lease to be released once the handler ended');
    },
  };
}

/**
 * The client reads the start of a streamed download and aborts: nothing the handler still does can
 * reach it, so the lease is given back, not held until `leaseMs` (which would let a client hold
 * every download slot by aborting, with no connection open and no work running).
 */
function abortDuringDownload(via: (typeof DOWNLOAD)[number]): Case {
  let dir = '';
  return {
    name: `client aborts a streamed response (${via}) → lease given back`,
    options: (ctx) => ({
      limiter: ctx.limiter(LEASE),
      key: () => 'client:one',
    }),
    hooks: () => {
      // A sparse file: as large as the download, nothing written to disk.
      dir = mkdtempSync(join(tmpdir(), 'rampart-download-'));
      const file = join(dir, 'download.bin');
      writeFileSync(file, '');
      truncateSync(file, DOWNLOAD_BYTES);
      return { downloadFile: file };
    },
    async run(get) {
      try {
        const abort = new AbortController();
        const res = await get({}, { path: `/download?via=${via}`, signal: abort.signal });
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        let read = 0;
        while (read < 200 * 1024) {
          const chunk = await reader.read();
          if (chunk.done) throw new Error('the download ended before the client aborted');
          read += chunk.value.byteLength;
        }
        // Still streaming: its lease is held.
        const during = await get();
        expect(during.status).toBe(429);
        await during.arrayBuffer();
        abort.abort();
        await reader.cancel().catch(() => {});
        // The lease lasts 60 s: a 200 within 5 s proves the abort gave it back.
        await released(get, 'the lease of the aborted download to be released');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The adapters' behaviour table, concurrency leases: held while the handler runs, given back when
 * the response ends, the client leaves while the limiter decides, or the response was already sent.
 */
const CASES: Case[] = [
  (() => {
    // Settles when the first decision of the case (the aborted request's) is in: its lease taken.
    let decided = signal();
    // Settles when the server is inside the slow key function: the request has arrived.
    let arrived = signal();
    return {
      name: 'releases a concurrency lease at once when the client goes away while the limiter decides',
      options: (ctx: Ctx): HttpRateLimitOptions => {
        decided = signal();
        arrived = signal();
        return {
          limiter: settlingOnDecision(ctx.limiter(LEASE), decided.settle),
          key: async (req) => {
            if (req.header('x-slow') === '1') {
              arrived.settle();
              await new Promise((resolve) => setTimeout(resolve, 300));
            }
            return 'client:one';
          },
        };
      },
      async run(get) {
        const abort = new AbortController();
        const slow = get({ 'x-slow': '1' }, { signal: abort.signal }).catch((error: unknown) => error);
        // Aborted once the server holds the request, so the limiter is sure to decide it.
        await arrived.promise;
        abort.abort();
        expect(await slow).toBeInstanceOf(Error);
        // Past the slow key and its decision: the aborted request holds its lease, or already gave it back.
        await decided.promise;
        // The lease lasts 60 s: a 200 within 5 s proves it was released, not left to expire.
        await released(get, 'the lease of the aborted request to be released');
      },
    } satisfies Case;
  })(),
  abortDuringHandler('answers'),
  abortDuringHandler('throws'),
  ...DOWNLOAD.map(abortDuringDownload),
  (() => {
    // Settles once the middleware ahead of the rate limit has answered 504.
    let answered = signal();
    // Settles when the limiter has decided the early-answered request.
    let decided = signal();
    let handled = 0;
    return {
      name: 'writes nothing, runs no handler and gives the lease back when the response was sent while the limiter decided',
      options: (ctx: Ctx): HttpRateLimitOptions => {
        decided = signal();
        return {
          limiter: settlingOnDecision(ctx.limiter(LEASE), decided.settle),
          key: async (req) => {
            if (req.header('x-answer-early') === '1') await answered.promise;
            return 'client:one';
          },
        };
      },
      hooks: (): AppHooks => {
        answered = signal();
        handled = 0;
        return {
          answeredEarly: answered.settle,
          handler: async (header) => {
            if (header('x-answer-early') === '1') handled++;
          },
        };
      },
      async run(get) {
        const res = await get({ 'x-answer-early': '1' });
        expect(res.status).toBe(504);
        expect(await res.json()).toEqual(EARLY);
        await decided.promise;
        // The lease lasts 60 s: a 200 within 5 s proves it was given back.
        await released(get, 'the lease of the early-answered request to be given back');
        expect(handled).toBe(0);
      },
    } satisfies Case;
  })(),
  {
    name: 'releases a concurrency lease when the response ends',
    options: (ctx) => ({
      limiter: ctx.limiter(LEASE),
    }),
    async run(get) {
      const first = await get();
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBe('"inflight";q=1;qu="concurrent-requests"');
      await first.arrayBuffer();
      // The lease ends on the response's 'close', which may come just after the client has the
      // body; the lease itself lasts 60 s, so a 200 within 5 s proves the release.
      for (let i = 0; i < 3; i++) await released(get, 'the lease to be released');
    },
  },
];

describeBehaviourTable(CASES);

describe('hono adapter with a streamed response', () => {
  const limiterOn = useRedisLimiters();

  it('holds a concurrency lease until the streamed body has been sent, as the other adapters do', async () => {
    const limiter = limiterOn('hono-stream', LEASE);
    const app = new Hono();
    app.use(honoRateLimit({ limiter, key: () => 'client:one' }));
    const finished = signal();
    app.get('/stream', () => {
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode('first '));
          await finished.promise;
          controller.enqueue(encoder.encode('last'));
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/plain' } });
    });
    app.get('/', (c) => c.text('ok'));
    const server = await serveHono(app);
    try {
      const streaming = await fetch(`${server.url}/stream`);
      expect(streaming.status).toBe(200);
      const reader = streaming.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('first ');
      // The first response is still being sent: its lease is held.
      const during = await fetch(`${server.url}/`);
      expect(during.status).toBe(429);
      await during.arrayBuffer();
      finished.settle();
      while (!(await reader.read()).done);
      await released(() => fetch(`${server.url}/`), 'the lease to be released once the stream ended');
    } finally {
      finished.settle();
      await server.close();
    }
  });
});

describe('hono adapter behind hono/timeout', () => {
  const limiterOn = useRedisLimiters();

  it('gives the lease back once the handler ends when the timeout answered first, and throws nothing', async () => {
    const limiter = limiterOn('hono-timeout', LEASE);
    const app = new Hono();
    const errors: unknown[] = [];
    app.onError((error, c) => {
      errors.push(error);
      return error instanceof HTTPException ? error.getResponse() : c.text('failed', 500);
    });
    app.use(timeout(100));
    app.use(honoRateLimit({ limiter, key: () => 'client:one' }));
    const ended = signal();
    app.get('/slow', async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      ended.settle();
      return c.text('late');
    });
    app.get('/', (c) => c.text('ok'));
    const server = await serveHono(app);
    try {
      const slow = await fetch(`${server.url}/slow`);
      expect(slow.status).toBe(504);
      await slow.arrayBuffer();
      await ended.promise;
      // The lease lasts 60 s: a 200 within 5 s proves the handler's end gave it back.
      await released(() => fetch(`${server.url}/`), 'the lease of the timed-out request to be released');
      expect(errors.filter((error) => !(error instanceof HTTPException))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
