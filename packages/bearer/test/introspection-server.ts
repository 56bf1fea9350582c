/** A loopback RFC 7662 introspection endpoint for unit tests: records calls, answers what the test sets. */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { IntrospectionOptions } from '../src/introspection-options.ts';

/** The `issuer` and `audience` that {@link introspectionOptions} names. */
export const TEST_ISSUER = 'https://as.test';
export const TEST_AUDIENCE = 'https://api.test';

export interface IntrospectionCall {
  readonly authorization: string | undefined;
  readonly accept: string | undefined;
  readonly params: URLSearchParams;
}

export interface IntrospectionServer {
  readonly url: string;
  readonly calls: IntrospectionCall[];
  /** How to answer a token: a JSON body, or a full response. */
  answer: (
    token: string,
    call: IntrospectionCall,
  ) => { status?: number; type?: string; body: string } | Record<string, unknown>;
  close(): Promise<void>;
}

/** The whole body of `req`, as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startIntrospectionServer(): Promise<IntrospectionServer> {
  const calls: IntrospectionCall[] = [];
  const state: Pick<IntrospectionServer, 'answer'> = { answer: () => ({ active: false }) };
  const server = createServer(async (req, res) => {
    const call = {
      authorization: req.headers.authorization,
      accept: req.headers.accept,
      params: new URLSearchParams(await readBody(req)),
    };
    calls.push(call);
    const answer = state.answer(call.params.get('token') ?? '', call);
    if (typeof answer.body === 'string') {
      res.statusCode = (answer.status as number | undefined) ?? 200;
      res.setHeader('content-type', (answer.type as string | undefined) ?? 'application/json');
      res.end(answer.body);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    calls,
    get answer() {
      return state.answer;
    },
    set answer(value) {
      state.answer = value;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A running {@link IntrospectionServer} with the client secret a test verifier authenticates with. */
export interface IntrospectionFixture extends IntrospectionServer {
  /** The `client_secret_basic` secret {@link IntrospectionFixture.options} sends: no message may show it. */
  readonly clientSecret: string;
  /** {@link introspectionOptions} for this server and {@link IntrospectionFixture.clientSecret}. */
  options(extra?: Partial<IntrospectionOptions>): IntrospectionOptions;
}

/**
 * One {@link startIntrospectionServer} for the calling test file: started before its tests, closed
 * after them, its recorded calls cleared before each test. The returned object reads and sets the
 * running server (only inside tests and hooks, once it has started).
 */
export function useIntrospectionServer(): IntrospectionFixture {
  const clientSecret = ['fixture', '-client', '-secret'].join('');
  let server: IntrospectionServer | undefined;
  const current = (): IntrospectionServer => {
    if (server === undefined) throw new Error('the introspection server is not running (use it inside tests)');
    return server;
  };
  beforeAll(async () => {
    server = await startIntrospectionServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => {
    current().calls.length = 0;
  });
  return {
    clientSecret,
    options: (extra = {}) => introspectionOptions(current(), clientSecret, extra),
    get url() {
      return current().url;
    },
    get calls() {
      return current().calls;
    },
    get answer() {
      return current().answer;
    },
    set answer(value) {
      current().answer = value;
    },
    close: () => current().close(),
  };
}

/**
 * `introspection` options for a verifier that calls `server` as client `orders-api` with
 * `client_secret_basic`; `extra` overrides any of them.
 */
export const introspectionOptions = (
  server: Pick<IntrospectionServer, 'url'>,
  clientSecret: string,
  extra: Partial<IntrospectionOptions> = {},
): IntrospectionOptions => ({
  endpoint: server.url,
  issuer: TEST_ISSUER,
  clientId: 'orders-api',
  authentication: { method: 'client_secret_basic', clientSecret },
  audience: TEST_AUDIENCE,
  ...extra,
});
