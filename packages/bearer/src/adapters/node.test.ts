import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { collectUnhandledRejections, heldVerifier, settle } from '../../test/behaviour-table.ts';
import { ANSWERED_ELSEWHERE, answerSoon, closeServer, listen } from '../../test/harness.ts';
import { staticJwks } from '../key-source.ts';
import { createBearerVerifier, type VerifiedToken } from '../verifier.ts';
import { type WithBearerOptions, withBearer } from './node.ts';

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
});
afterAll(() => issuer?.close());

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

// Unhandled rejections seen while a test runs: the crash this adapter must never cause.
const unhandled = collectUnhandledRejections();

/** The options of a verifier of `issuer`'s tokens, its keys given inline. */
const verifierOptions = () => ({
  issuer: issuer.issuer,
  audience: issuer.audience,
  algorithms: ['ES256' as const],
  keys: staticJwks(issuer.jwks()),
});

/** Listens on a free port until the end of the test; the URL of `/` on it. */
async function started(server: ReturnType<typeof createServer>): Promise<string> {
  await listen(server);
  cleanup.push(() => closeServer(server));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

type Handler = (req: IncomingMessage, res: ServerResponse, auth: VerifiedToken) => unknown;

/**
 * Serves `handler` behind `withBearer` on a free port. `options` default: errors collected in
 * `reported`; pass `{}` for the default `onHandlerError`.
 */
async function serve(handler: Handler, options?: WithBearerOptions): Promise<{ url: string; reported: unknown[] }> {
  const verifier = createBearerVerifier(verifierOptions());
  const reported: unknown[] = [];
  const server = createServer(
    withBearer(verifier, undefined, handler, options ?? { onHandlerError: (error) => reported.push(error) }),
  );
  return { url: await started(server), reported };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(url: string, token?: string, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const req = httpRequest(new URL(path, url), { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

// The handler's own failure, with the kind of detail that must never reach the client.
const secretFailure = (auth: VerifiedToken): Error => new Error(`database password hunter2 for ${auth.subject}`);

describe('withBearer', () => {
  it('accepts a handler that returns what res.end() returns, as in the quick start', async () => {
    const verifier = createBearerVerifier(verifierOptions());
    // The README's handler verbatim: it returns the ServerResponse; the type must allow it.
    const server = createServer(withBearer(verifier, undefined, (_req, res, auth) => res.end(auth.subject)));
    const url = await started(server);
    const token = await issuer.mint({ claims: { sub: 'user-42' } });
    await expect(get(url, token)).resolves.toMatchObject({ status: 200, body: 'user-42' });
    expect(unhandled).toEqual([]);
  });

  it('awaits a handler that resolves to a value before treating it as done', async () => {
    const { url, reported } = await serve(async (_req, res) => {
      await new Promise((resolve) => setImmediate(resolve));
      return res.end('late');
    });
    const token = await issuer.mint();
    await expect(get(url, token)).resolves.toMatchObject({ status: 200, body: 'late' });
    expect(reported).toEqual([]);
  });

  it('answers a generic 500 when the handler throws, and keeps serving', async () => {
    const { url, reported } = await serve((req, res, auth) => {
      if (req.url === '/boom') throw secretFailure(auth);
      res.end('ok');
    });
    const token = await issuer.mint();
    const failed = await get(url, token, '/boom');
    expect(failed.status).toBe(500);
    expect(failed.body).toBe('Internal Server Error');
    expect(failed.headers['www-authenticate']).toBeUndefined();
    expect(failed.body).not.toContain('hunter2');
    expect(reported).toHaveLength(1);
    const next = await get(url, token);
    expect(next).toMatchObject({ status: 200, body: 'ok' });
    expect(unhandled).toEqual([]);
  });

  it('answers a generic 500 when the handler rejects, never a 401, and keeps serving', async () => {
    const { url, reported } = await serve(async (req, res, auth) => {
      res.setHeader('x-partial', 'handler state');
      await Promise.resolve();
      if (req.url === '/boom') throw secretFailure(auth);
      res.end('ok');
    });
    const token = await issuer.mint();
    const failed = await get(url, token, '/boom');
    expect(failed.status).toBe(500);
    expect(failed.headers['x-partial']).toBeUndefined();
    expect(failed.body).not.toContain('hunter2');
    expect(failed.body).not.toContain(token);
    expect((reported[0] as Error).message).toContain('hunter2');
    await expect(get(url, token)).resolves.toMatchObject({ status: 200, body: 'ok' });
    // Authentication failures are still answered as before.
    await expect(get(url)).resolves.toMatchObject({ status: 401 });
    expect(unhandled).toEqual([]);
  });

  it('cuts the connection when the handler fails after starting the response', async () => {
    const { url } = await serve(async (req, res, auth) => {
      if (req.url === '/boom') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        await Promise.resolve();
        throw secretFailure(auth);
      }
      res.end('ok');
    });
    const token = await issuer.mint();
    // Headers went out as 200: the truncated body (a connection error, not a clean end) is the signal.
    await expect(get(url, token, '/boom')).rejects.toThrow();
    await expect(get(url, token)).resolves.toMatchObject({ status: 200, body: 'ok' });
    expect(unhandled).toEqual([]);
  });

  it('neither runs the handler nor writes when a timeout answered while the token was verified', async () => {
    for (const outcome of ['sets-header', 'refuses'] as const) {
      const { verifier, release, decided } = heldVerifier(outcome, verifierOptions());
      let handled = 0;
      let late = 0;
      const guarded = withBearer(verifier, undefined, (_req, res) => {
        handled++;
        res.end('ok');
      });
      const url = await started(
        createServer((req, res) => {
          // A connect-timeout style guard: it answers on its own while verification is still running.
          answerSoon(res, () => late++);
          guarded(req, res);
        }),
      );
      await expect(get(url, await issuer.mint())).resolves.toMatchObject({ status: 503, body: ANSWERED_ELSEWHERE });
      release();
      await decided;
      await settle();
      await settle();
      expect({ outcome, handled, late }).toEqual({ outcome, handled: 0, late: 0 });
    }
    expect(unhandled).toEqual([]);
  });

  it('survives an error hook that throws', async () => {
    const { url } = await serve(
      () => {
        throw new Error('handler bug');
      },
      {
        onHandlerError: () => {
          throw new Error('hook bug');
        },
      },
    );
    await expect(get(url, await issuer.mint())).resolves.toMatchObject({ status: 500 });
    expect(unhandled).toEqual([]);
  });

  it('logs a failing handler by its class and frames by default, never its message or properties', async () => {
    const log = captureConsoleError();
    try {
      const token = await issuer.mint();
      const { url } = await serve((req) => {
        // What an HTTP client's error looks like when the handler passed the caller's token on.
        throw Object.assign(new Error(`upstream refused ${req.headers.authorization}`), {
          config: { headers: { Authorization: req.headers.authorization } },
        });
      }, {});
      await expect(get(url, token)).resolves.toMatchObject({ status: 500 });
      const text = log.text();
      expect(text).toContain('withBearer: the handler threw Error');
      expect(text).toMatch(/\n\s+at /);
      expect(text).not.toContain(token);
      expect(text).not.toContain('upstream refused');
    } finally {
      log.restore();
    }
  });

  it('never logs message lines that look like stack frames', async () => {
    const log = captureConsoleError();
    try {
      const token = await issuer.mint();
      const { url } = await serve((req) => {
        throw new Error(
          `upstream 502 for request:\n    at GET /billing HTTP/1.1\n    at ${req.headers.authorization as string}`,
        );
      }, {});
      await expect(get(url, token)).resolves.toMatchObject({ status: 500 });
      const text = log.text();
      expect(text).toContain('withBearer: the handler threw Error');
      expect(text).toMatch(/\n\s+at /);
      expect(text).not.toContain(token);
      expect(text).not.toContain('/billing');
    } finally {
      log.restore();
    }
  });
});

/** What console.error prints until restore(), as one text. */
function captureConsoleError(): { text(): string; restore(): void } {
  const logged: unknown[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    logged.push(...args);
  });
  return { text: () => logged.map(String).join('\n'), restore: () => spy.mockRestore() };
}
