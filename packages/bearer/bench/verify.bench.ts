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
import { createBearerVerifier, memoryReplayStore } from '../src/index.ts';
import { createDpopClient } from '../test/dpop-client.ts';

type Middleware = (req: Request, res: Response, next: NextFunction) => unknown;

function expressRequest(token: string, scheme = 'Bearer'): Request {
  const app = express();
  const req = Object.create(app.request) as Request;
  const headers: Record<string, string> = { authorization: `${scheme} ${token}`, host: 'api.test' };
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

  // DPoP (RFC 9449): an ES256 access token bound to the client's key, each call with a fresh ES256
  // proof (a proof's jti is single-use for us; express-oauth2-jwt-bearer does not track jtis).
  // The proofs are minted before the comparison, so signing is not measured; one request object
  // per side gets the next proof before each call (sequential calls only).
  const issuer = await createTestIssuer({ algorithm: 'ES256' });
  try {
    const client = await createDpopClient('ES256');
    const token = await issuer.mint({
      scopes: ['orders:read'],
      expiresInSeconds: 3600,
      claims: { cnf: { jkt: client.thumbprint } },
    });
    const perSide = b.quick ? 3_000 : 40_000;
    const mint = async (): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < perSide; i += 500) {
        const batch = Array.from({ length: 500 }, () => client.proof({ url: 'http://api.test/orders', token }));
        out.push(...(await Promise.all(batch)));
      }
      return out;
    };
    const verifier = createBearerVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['ES256'],
      jwksUri: issuer.jwksUri,
      dpop: { publicOrigins: ['http://api.test'], replayStore: memoryReplayStore({ maxEntries: 2 * perSide }) },
    });
    await verifier.warm();
    const ours = requireBearer(verifier, { scopes: { all: ['orders:read'] } }) as Middleware;
    const auth0 = auth({
      issuer: issuer.issuer,
      audience: issuer.audience,
      jwksUri: issuer.jwksUri,
      tokenSigningAlg: 'ES256',
      dpop: { enabled: true, required: true },
    }) as Middleware;
    const sides = [ours, auth0].map((middleware) => ({
      middleware,
      req: expressRequest(token, 'DPoP'),
      proofs: [] as string[],
      next: 0,
    }));
    const call = (side: (typeof sides)[number]): Promise<void> => {
      const proof = side.proofs[side.next++];
      if (proof === undefined) throw new Error('the DPoP bench ran out of proofs: raise perSide');
      side.req.headers.dpop = proof;
      return run(side.middleware, side.req);
    };
    for (const side of sides) side.proofs = await mint();
    // Prove both accept the proofs (and warm their paths).
    for (let i = 0; i < 200; i++) for (const side of sides) await call(side);
    await b.compare('ES256 + DPoP proof: Express adapter vs express-oauth2-jwt-bearer', {
      ours: () => call(sides[0]!),
      peer: { name: 'express-oauth2-jwt-bearer auth() with dpop', fn: () => call(sides[1]!) },
      note: 'fresh proof per call; ours also records the proof jti (replay check), the peer does not',
    });
  } finally {
    await issuer.close();
  }
});
