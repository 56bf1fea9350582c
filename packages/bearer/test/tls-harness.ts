/**
 * The four adapters behind real TLS servers on loopback that ask for (self-signed) client
 * certificates, and an https client that presents one.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { getBearer, requireBearer } from '../src/adapters/express.ts';
import { bearerPreHandler, getBearer as getFastifyBearer } from '../src/adapters/fastify.ts';
import { bearerAuth } from '../src/adapters/hono.ts';
import { authenticateNode } from '../src/adapters/node.ts';
import type { BearerVerifier, VerifiedToken } from '../src/index.ts';
import type { TestCertificate } from './tls-fixtures.ts';

const describeAuth = (auth: VerifiedToken): string => JSON.stringify({ binding: auth.binding });

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

const tlsOptions = (
  serverCert: TestCertificate,
): { key: string; cert: string; requestCert: true; rejectUnauthorized: false } => ({
  key: serverCert.key,
  cert: serverCert.cert,
  // RFC 8705 §2.2: self-signed client certificates; the TLS handshake proves key possession.
  requestCert: true,
  rejectUnauthorized: false,
});

async function listen(server: Server): Promise<Running> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const TLS_ADAPTERS: Record<string, (verifier: BearerVerifier, serverCert: TestCertificate) => Promise<Running>> =
  {
    express: async (verifier, serverCert) => {
      const app = express();
      app.get('/r', requireBearer(verifier), (req, res) => {
        res.type('application/json').send(describeAuth(getBearer(req)));
      });
      return listen(createHttpsServer(tlsOptions(serverCert), app));
    },
    fastify: async (verifier, serverCert) => {
      const app = Fastify({ https: tlsOptions(serverCert) });
      app.get('/r', { preHandler: bearerPreHandler(verifier) }, async (request) =>
        describeAuth(getFastifyBearer(request)),
      );
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
    },
    hono: async (verifier, serverCert) => {
      const app = new Hono();
      app.get('/r', bearerAuth(verifier), (c) => c.body(describeAuth(c.get('bearer'))));
      // What @hono/node-server does: a Web Request, with the node request as env.incoming.
      const server = createHttpsServer(tlsOptions(serverCert), async (req: IncomingMessage, res: ServerResponse) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value === 'string') headers.set(name, value);
        }
        const response = await app.fetch(new Request(`https://127.0.0.1${req.url}`, { headers }), { incoming: req });
        res.statusCode = response.status;
        response.headers.forEach((value, name) => {
          res.setHeader(name, value);
        });
        res.end(await response.text());
      });
      return listen(server);
    },
    'node:http': async (verifier, serverCert) => {
      const server = createHttpsServer(tlsOptions(serverCert), async (req, res) => {
        const auth = await authenticateNode(verifier, req, res);
        if (auth) res.end(describeAuth(auth));
      });
      return listen(server);
    },
  };

export function tlsGet(
  port: number,
  authorization: string,
  client: TestCertificate | undefined,
  serverCert: TestCertificate,
): Promise<{ status: number; body: string; challenge: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/r',
        ca: serverCert.cert,
        headers: { authorization },
        ...(client === undefined ? {} : { key: client.key, cert: client.cert }),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            challenge: res.headers['www-authenticate'],
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
