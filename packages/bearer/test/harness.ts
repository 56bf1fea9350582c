/**
 * One harness per adapter; the behaviour table in adapters-*.test.ts runs against each of them.
 * Express, Fastify and node:http are driven over real loopback HTTP (so duplicate headers reach
 * the server as separate lines); Hono through `app.fetch` with a Web `Request`.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { timeout } from 'hono/timeout';
import { SignJWT } from 'jose';
import { expect, onTestFinished } from 'vitest';
import {
  serveResourceMetadata as expressMetadata,
  getBearer as getExpressBearer,
  requireBearer,
} from '../src/adapters/express.ts';
import {
  bearerPreHandler,
  serveResourceMetadata as fastifyMetadata,
  getBearer as getFastifyBearer,
} from '../src/adapters/fastify.ts';
import { bearerAuth, serveResourceMetadata as honoMetadata } from '../src/adapters/hono.ts';
import { authenticateNode, serveResourceMetadata as nodeMetadata } from '../src/adapters/node.ts';
import { BearerError } from '../src/errors.ts';
import type { BearerVerifier, ProtectedResourceMetadata, RouteRequirement, VerifiedToken } from '../src/index.ts';
import { readBody, TEST_AUDIENCE, TEST_ISSUER } from './introspection-server.ts';

/** Where harnesses serve the RFC 9728 document when given one. */
export const METADATA_PATH = '/.well-known/oauth-protected-resource';

export interface HarnessResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface HarnessRequest {
  readonly method?: string;
  /** Header lines in order; repeat a name to send it twice. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
}

export interface RunningHarness {
  request(path: string, init?: HarnessRequest): Promise<HarnessResponse>;
  /** How many times a route handler ran (it must not run for a rejected request). */
  handled(): number;
  /**
   * With `answerFirst`: calls that touched the response after the other middleware had answered
   * (setHeader, writeHead, write, end, destroy). Hono answers with values, not calls: always 0.
   */
  lateWrites(): number;
  close(): Promise<void>;
}

export type Routes = Readonly<Record<string, RouteRequirement | undefined>>;

/** Options of {@link Harness.start}. */
export interface HarnessOptions {
  /**
   * Put a middleware in front of the bearer one that answers `503 answered elsewhere` on its own
   * while verification is still running, the way connect-timeout or hono/timeout do.
   */
  readonly answerFirst?: boolean;
}

/** The body of the answer given by the `answerFirst` middleware. */
export const ANSWERED_ELSEWHERE = 'answered elsewhere';

/** Counts every call that touches `res` from now on: nothing may write to an answered response. */
function watchLateWrites(res: ServerResponse, count: () => void): void {
  for (const name of ['setHeader', 'writeHead', 'write', 'end', 'destroy'] as const) {
    const original = res[name] as (...args: unknown[]) => unknown;
    (res as unknown as Record<string, unknown>)[name] = function (this: ServerResponse, ...args: unknown[]) {
      count();
      return original.apply(this, args);
    };
  }
}

/** Answers `res` on the next turn of the event loop, like a timeout middleware, then watches it. */
export function answerSoon(res: ServerResponse, count: () => void): void {
  setImmediate(() => {
    if (res.headersSent) return;
    res.statusCode = 503;
    res.setHeader('content-type', 'text/plain');
    res.end(ANSWERED_ELSEWHERE);
    watchLateWrites(res, count);
  });
}

export interface Harness {
  readonly name: string;
  /** Whether the adapter reads RFC 6750 §2.2 body tokens (node:http does not parse bodies). */
  readonly bodyTokens: boolean;
  start(
    verifier: BearerVerifier,
    routes: Routes,
    metadata?: ProtectedResourceMetadata,
    options?: HarnessOptions,
  ): Promise<RunningHarness>;
}

const describe = (auth: VerifiedToken): string =>
  JSON.stringify({
    sub: auth.subject,
    scopes: [...auth.scopes].sort(),
    issuer: auth.issuer,
    tenant: auth.tenant ?? null,
  });

function nodeClient(server: Server): RunningHarness['request'] {
  const { port } = server.address() as AddressInfo;
  return (path, init = {}) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of init.headers ?? []) {
        const key = name.toLowerCase();
        const existing = headers[key];
        headers[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
      }
      const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const flat: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({ status: res.statusCode ?? 0, headers: flat, body: Buffer.concat(chunks).toString() });
        });
      });
      req.on('error', reject);
      req.end(init.body);
    });
}

export async function listen(server: Server): Promise<void> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * A loopback server for the calling test that records the `token` form parameter of each request
 * (its path when it has none) and answers with `handle`, or never. Closed, its connections
 * included, when the test finishes.
 */
export async function serve(
  handle: (seen: string, res: ServerResponse) => void,
): Promise<{ readonly url: string; readonly seen: string[] }> {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    const what = new URLSearchParams(await readBody(req)).get('token') ?? req.url ?? '';
    seen.push(what);
    handle(what, res);
  });
  await listen(server);
  onTestFinished(() => closeServer(server));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/**
 * Tracks a request expected to fail: whether it has settled, and its error, a {@link BearerError}
 * whose message shows none of `unsaid` (the token, the client secret).
 */
export function track(
  promise: Promise<unknown>,
  ...unsaid: string[]
): { readonly settled: () => boolean; readonly error: Promise<BearerError> } {
  let settled = false;
  const error = promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(BearerError);
      for (const text of unsaid) expect((error as Error).message).not.toContain(text);
      return error as BearerError;
    },
  );
  const done = (): void => {
    settled = true;
  };
  void error.then(done, done);
  return { settled: () => settled, error };
}

/** The real timers, taken before any test fakes them. */
const realTimers = { setTimeout, clearTimeout };

/** Lets pending I/O callbacks and promise jobs run, without moving any clock. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Waits for real I/O until `condition` holds, without moving any clock. With timers faked,
 * `expect.poll` and `vi.waitFor` advance them on every retry: that would move the very deadlines a
 * test checks. Gives up after `limitMs` of real time.
 */
export async function until(condition: () => boolean, what: string, limitMs = 5_000): Promise<void> {
  let expired = false;
  const limit = realTimers.setTimeout(() => {
    expired = true;
  }, limitMs);
  try {
    while (!condition()) {
      if (expired) throw new Error(`gave up waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    realTimers.clearTimeout(limit);
  }
}

/**
 * A signed (RFC 9701) introspection answer from {@link TEST_ISSUER} to client `orders-api`, saying
 * the token is active: ES256 with `privateKey` under key id `as-1`, typed `token-introspection+jwt`.
 */
export function signedActiveAnswer(privateKey: CryptoKey): Promise<string> {
  return new SignJWT({
    iss: TEST_ISSUER,
    aud: 'orders-api',
    token_introspection: { active: true, token_type: 'Bearer', aud: TEST_AUDIENCE, iss: TEST_ISSUER },
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'as-1', typ: 'token-introspection+jwt' })
    .sign(privateKey);
}

export const HARNESSES: readonly Harness[] = [
  {
    name: 'express',
    bodyTokens: true,
    async start(verifier, routes, metadata, options = {}) {
      let handled = 0;
      let late = 0;
      const app = express();
      if (options.answerFirst) {
        app.use((_req, res, next) => {
          answerSoon(res, () => late++);
          next();
        });
      }
      app.use(express.urlencoded({ extended: false }));
      if (metadata) app.get(METADATA_PATH, expressMetadata(metadata));
      for (const [path, route] of Object.entries(routes)) {
        app.all(path, requireBearer(verifier, route), (req, res) => {
          handled++;
          res.type('application/json').send(describe(getExpressBearer(req)));
        });
      }
      const server = createServer(app);
      await listen(server);
      return {
        request: nodeClient(server),
        handled: () => handled,
        lateWrites: () => late,
        close: () => closeServer(server),
      };
    },
  },
  {
    name: 'fastify',
    bodyTokens: false,
    async start(verifier, routes, metadata, options = {}) {
      let handled = 0;
      let late = 0;
      const app = Fastify();
      if (options.answerFirst) {
        app.addHook('onRequest', (_request, reply, done) => {
          setImmediate(() => {
            if (reply.sent) return;
            reply.code(503).type('text/plain').send(ANSWERED_ELSEWHERE);
            watchLateWrites(reply.raw, () => late++);
          });
          done();
        });
      }
      if (metadata) app.get(METADATA_PATH, fastifyMetadata(metadata));
      for (const [path, route] of Object.entries(routes)) {
        app.route({
          method: ['GET', 'POST'],
          url: path,
          preHandler: bearerPreHandler(verifier, route),
          handler: async (request, reply) => {
            handled++;
            reply.type('application/json');
            return describe(getFastifyBearer(request));
          },
        });
      }
      await app.listen({ port: 0, host: '127.0.0.1' });
      return {
        request: nodeClient(app.server),
        handled: () => handled,
        lateWrites: () => late,
        close: () => app.close(),
      };
    },
  },
  {
    name: 'hono',
    bodyTokens: true,
    async start(verifier, routes, metadata, options = {}) {
      let handled = 0;
      const app = new Hono();
      if (options.answerFirst) {
        app.use(timeout(0, () => new HTTPException(503, { message: ANSWERED_ELSEWHERE })));
      }
      if (metadata) app.get(METADATA_PATH, honoMetadata(metadata));
      for (const [path, route] of Object.entries(routes)) {
        app.on(['GET', 'POST'], path, bearerAuth(verifier, route), (c) => {
          handled++;
          return c.body(describe(c.get('bearer')), 200, { 'content-type': 'application/json' });
        });
      }
      return {
        async request(path, init = {}) {
          const headers = new Headers();
          for (const [name, value] of init.headers ?? []) headers.append(name, value);
          const response = await app.fetch(
            new Request(`http://127.0.0.1${path}`, {
              method: init.method ?? 'GET',
              headers,
              ...(init.body === undefined ? {} : { body: init.body }),
            }),
          );
          const flat: Record<string, string> = {};
          response.headers.forEach((value, name) => {
            flat[name] = value;
          });
          return { status: response.status, headers: flat, body: await response.text() };
        },
        handled: () => handled,
        lateWrites: () => 0,
        close: async () => {},
      };
    },
  },
  {
    name: 'node:http',
    bodyTokens: false,
    async start(verifier, routes, metadata, options = {}) {
      const serveMetadata = metadata === undefined ? undefined : nodeMetadata(metadata);
      const declared = new Map(
        Object.entries(routes).map(([path, route]) => [path, route === undefined ? undefined : verifier.route(route)]),
      );
      let handled = 0;
      let late = 0;
      const server = createServer(async (req, res) => {
        const path = (req.url ?? '/').split('?')[0] as string;
        if (serveMetadata !== undefined && path === METADATA_PATH) {
          serveMetadata(req, res);
          return;
        }
        if (!declared.has(path)) {
          res.statusCode = 404;
          res.end();
          return;
        }
        if (options.answerFirst) answerSoon(res, () => late++);
        const auth = await authenticateNode(verifier, req, res, declared.get(path));
        if (!auth) return;
        handled++;
        res.setHeader('content-type', 'application/json');
        res.end(describe(auth));
      });
      await listen(server);
      return {
        request: nodeClient(server),
        handled: () => handled,
        lateWrites: () => late,
        close: () => closeServer(server),
      };
    },
  },
];

/**
 * Starts each of {@link HARNESSES} in turn with `verifier` and one route, `/orders` with no
 * requirement, sends `Authorization: Bearer <token>` to it, and closes that adapter's server before
 * the next starts. Returns each adapter's name with its response, in {@link HARNESSES} order.
 */
export async function bearerOnEveryHarness(
  verifier: BearerVerifier,
  token: string,
): Promise<{ readonly harness: string; readonly response: HarnessResponse }[]> {
  const responses: { harness: string; response: HarnessResponse }[] = [];
  for (const harness of HARNESSES) {
    const running = await harness.start(verifier, { '/orders': undefined });
    try {
      const response = await running.request('/orders', { headers: [['Authorization', `Bearer ${token}`]] });
      responses.push({ harness: harness.name, response });
    } finally {
      await running.close();
    }
  }
  return responses;
}
