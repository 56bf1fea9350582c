/**
 * One harness per adapter; the behaviour table in adapters.test.ts runs against each of them.
 * Express, Fastify and node:http are driven over real loopback HTTP (so duplicate headers reach
 * the server as separate lines); Hono through `app.fetch` with a Web `Request`.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
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
import type { BearerVerifier, ProtectedResourceMetadata, RouteRequirement, VerifiedToken } from '../src/index.ts';

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
  close(): Promise<void>;
}

export type Routes = Readonly<Record<string, RouteRequirement | undefined>>;

export interface Harness {
  readonly name: string;
  /** Whether the adapter reads RFC 6750 §2.2 body tokens (node:http does not parse bodies). */
  readonly bodyTokens: boolean;
  start(verifier: BearerVerifier, routes: Routes, metadata?: ProtectedResourceMetadata): Promise<RunningHarness>;
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

async function listen(server: Server): Promise<void> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export const HARNESSES: readonly Harness[] = [
  {
    name: 'express',
    bodyTokens: true,
    async start(verifier, routes, metadata) {
      let handled = 0;
      const app = express();
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
      return { request: nodeClient(server), handled: () => handled, close: () => closeServer(server) };
    },
  },
  {
    name: 'fastify',
    bodyTokens: false,
    async start(verifier, routes, metadata) {
      let handled = 0;
      const app = Fastify();
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
      return { request: nodeClient(app.server), handled: () => handled, close: () => app.close() };
    },
  },
  {
    name: 'hono',
    bodyTokens: true,
    async start(verifier, routes, metadata) {
      let handled = 0;
      const app = new Hono();
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
        close: async () => {},
      };
    },
  },
  {
    name: 'node:http',
    bodyTokens: false,
    async start(verifier, routes, metadata) {
      const serveMetadata = metadata === undefined ? undefined : nodeMetadata(metadata);
      const declared = new Map(
        Object.entries(routes).map(([path, route]) => [path, route === undefined ? undefined : verifier.route(route)]),
      );
      let handled = 0;
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
        const auth = await authenticateNode(verifier, req, res, declared.get(path));
        if (!auth) return;
        handled++;
        res.setHeader('content-type', 'application/json');
        res.end(describe(auth));
      });
      await listen(server);
      return { request: nodeClient(server), handled: () => handled, close: () => closeServer(server) };
    },
  },
];
