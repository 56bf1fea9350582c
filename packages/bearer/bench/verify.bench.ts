/**
 * One valid token per request through the Express adapter, against (a) raw `jose.jwtVerify` with
 * jose's remote JWKS set (the floor: what our verifier adds on top of jose) and (b)
 * express-oauth2-jwt-bearer's `auth()` middleware. All three resolve keys from the same loopback
 * JWKS (fetched once, then cached) and check iss/aud/exp; the middleware calls get the same
 * Express request object, so no HTTP parsing is measured.
 */
import { createTestIssuer, type TestIssuerAlgorithm } from '@rampart/testkit';
import express, { type NextFunction, type Request, type Response } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { requireBearer } from '../src/adapters/express.ts';
import { createBearerVerifier } from '../src/index.ts';

type Middleware = (req: Request, res: Response, next: NextFunction) => unknown;

function expressRequest(token: string): Request {
  const app = express();
  const req = Object.create(app.request) as Request;
  const headers = { authorization: `Bearer ${token}`, host: 'api.test' };
  Object.defineProperties(req, {
    headers: { value: headers },
    rawHeaders: { value: ['Host', headers.host, 'Authorization', headers.authorization] },
    method: { value: 'GET' },
    url: { value: '/orders' },
    originalUrl: { value: '/orders' },
    query: { value: {} },
    body: { value: undefined, writable: true },
    app: { value: app },
    socket: { value: { encrypted: false, remoteAddress: '127.0.0.1' } },
    connection: { value: { encrypted: false, remoteAddress: '127.0.0.1' } },
  });
  return req;
}

function run(middleware: Middleware, req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    const res = {
      setHeader: () => undefined,
      end: () => reject(new Error('middleware rejected a valid token')),
      headersSent: false,
    } as unknown as Response;
    middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
  });
}

export default defineBench('@rampart/bearer', async (b) => {
  for (const algorithm of ['RS256', 'ES256', 'EdDSA'] as const satisfies readonly TestIssuerAlgorithm[]) {
    const issuer = await createTestIssuer({ algorithm });
    try {
      const token = await issuer.mint({ scopes: ['orders:read'], expiresInSeconds: 3600 });
      const verifier = createBearerVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: [algorithm],
        jwksUri: issuer.jwksUri,
      });
      await verifier.warm();
      const ours = requireBearer(verifier, { scopes: { all: ['orders:read'] } }) as Middleware;
      const oursReq = expressRequest(token);

      const joseKeys = createRemoteJWKSet(new URL(issuer.jwksUri));
      const joseOptions = { issuer: issuer.issuer, audience: issuer.audience, algorithms: [algorithm] };

      const auth0 = auth({
        issuer: issuer.issuer,
        audience: issuer.audience,
        jwksUri: issuer.jwksUri,
        tokenSigningAlg: algorithm,
      }) as Middleware;
      const auth0Req = expressRequest(token);

      // Prime every key cache, prove each side accepts the token, and let the JIT settle on all
      // three paths before the harness's own (short) warm-up.
      for (let i = 0; i < (b.quick ? 200 : 2_000); i++) {
        await run(ours, oursReq);
        await jwtVerify(token, joseKeys, joseOptions);
        await run(auth0, auth0Req);
      }

      await b.compare(`${algorithm}: Express adapter vs raw jose.jwtVerify`, {
        ours: () => run(ours, oursReq),
        peer: { name: 'jose.jwtVerify + createRemoteJWKSet', fn: () => jwtVerify(token, joseKeys, joseOptions) },
        note: 'target ≥ 0.9×',
      });
      await b.compare(`${algorithm}: Express adapter vs express-oauth2-jwt-bearer`, {
        ours: () => run(ours, oursReq),
        peer: { name: 'express-oauth2-jwt-bearer auth()', fn: () => run(auth0, auth0Req) },
        note: 'target ≥ 1.2×',
      });
      await b.compare(`${algorithm}: Express adapter vs express-oauth2-jwt-bearer, 16 in flight`, {
        ours: () => run(ours, oursReq),
        peer: { name: 'express-oauth2-jwt-bearer auth()', fn: () => run(auth0, auth0Req) },
        concurrency: 16,
        note: 'as a server sees it: WebCrypto runs on the thread pool',
      });
      if (algorithm === 'RS256') {
        // Opt-in, off by default: the same token again skips parsing and the signature
        // (claims, scopes and revocation still run). Shown separately so the rows above stay honest.
        const cached = createBearerVerifier({
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: [algorithm],
          jwksUri: issuer.jwksUri,
          verifiedTokenCache: { maxTtlSeconds: 60 },
        });
        await cached.warm();
        const cachedMiddleware = requireBearer(cached, { scopes: { all: ['orders:read'] } }) as Middleware;
        const cachedReq = expressRequest(token);
        await run(cachedMiddleware, cachedReq);
        await b.compare(`${algorithm}: Express adapter with verifiedTokenCache (repeat token) vs raw jose.jwtVerify`, {
          ours: () => run(cachedMiddleware, cachedReq),
          peer: { name: 'jose.jwtVerify + createRemoteJWKSet', fn: () => jwtVerify(token, joseKeys, joseOptions) },
          note: 'opt-in cache, not the default',
        });
      }
    } finally {
      await issuer.close();
    }
  }
});
