import { createTestIssuer } from '@rampart/testkit';
import { describe, expect, it, vi } from 'vitest';
import { claimIncludes } from './claim-checks.ts';
import { BearerError } from './errors.ts';
import { staticJwks } from './key-source.ts';
import { createBearerVerifier } from './verifier.ts';
import type { VerificationStep } from './verifier-options.ts';

describe('createBearerVerifier', () => {
  it('lists every configuration problem at once, naming options but never values', () => {
    const secretish = 'https://leaky.example/jwks?token=abc123secret';
    try {
      createBearerVerifier({
        issuer: 'https://id.example.com',
        audience: [],
        algorithms: ['HS256' as 'RS256'],
        jwksUri: secretish,
        clockToleranceSeconds: 3600,
        realm: 'bad"realm',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_BEARER_INVALID_OPTIONS', name: 'BearerError' });
      const message = (error as Error).message;
      for (const option of ['audience', 'algorithms', 'clockToleranceSeconds', 'realm'])
        expect(message).toContain(option);
      expect(message).not.toContain('abc123secret');
    }
  });

  it('requires issuer, audience, algorithms and a key source', () => {
    expect(() => createBearerVerifier({} as never)).toThrow(/issuer/);
    expect(() => createBearerVerifier({ issuer: 'https://i', audience: 'a', algorithms: ['RS256'] } as never)).toThrow(
      /jwksUri or keys/,
    );
  });

  it('reports tenant and runs verification steps, which can set a binding (the DPoP/mTLS extension point)', async () => {
    const issuer = await createTestIssuer({ algorithm: 'EdDSA' });
    try {
      const seen: string[] = [];
      const step: VerificationStep = {
        name: 'pop',
        handlesConfirmation: true,
        run: (ctx) => {
          seen.push(ctx.issuer);
          if (ctx.claims.cnf !== undefined) ctx.setBinding({ type: 'test', thumbprint: 'abc' });
        },
      };
      const verifier = createBearerVerifier({
        issuers: {
          [issuer.issuer]: {
            audience: issuer.audience,
            algorithms: ['EdDSA'],
            keys: staticJwks(issuer.jwks()),
            tenant: 't1',
          },
        },
        steps: [step],
      });
      const result = await verifier.verify(await issuer.mint({ claims: { cnf: { jkt: 'x' } } }));
      expect(result.tenant).toBe('t1');
      expect(result.binding).toEqual({ type: 'test', thumbprint: 'abc' });
      expect(seen).toEqual([issuer.issuer]);
      const failing = createBearerVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['EdDSA'],
        keys: staticJwks(issuer.jwks()),
        steps: [
          {
            name: 'deny',
            run: () => {
              throw new Error('nope');
            },
          },
        ],
      });
      await expect(failing.verify(await issuer.mint())).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_INVALID' });
    } finally {
      await issuer.close();
    }
  });

  it('uses an injected clock for time checks', async () => {
    const issuer = await createTestIssuer();
    try {
      const token = await issuer.mint({ expiresInSeconds: 60 });
      const later = createBearerVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['RS256'],
        keys: staticJwks(issuer.jwks()),
        now: () => Date.now() + 3_600_000,
      });
      await expect(later.verify(token)).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_EXPIRED' });
    } finally {
      await issuer.close();
    }
  });
});

describe('signature verification path', () => {
  it('verifies a lone token inline and concurrent tokens on WebCrypto, with the same answers', async () => {
    const issuer = await createTestIssuer({ algorithm: 'ES256' });
    const subtleVerify = vi.spyOn(crypto.subtle, 'verify');
    try {
      const verifier = createBearerVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['ES256'],
        keys: staticJwks(issuer.jwks()),
      });
      const good = await issuer.mint();
      const [h, p, sig] = good.split('.') as [string, string, string];
      const bad = `${h}.${p}.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
      for (let i = 0; i < 3; i++) {
        await expect(verifier.verify(good)).resolves.toMatchObject({ issuer: issuer.issuer });
        await expect(verifier.verify(bad)).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_INVALID' });
      }
      expect(subtleVerify).not.toHaveBeenCalled();
      const tokens = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? good : bad));
      const outcomes = await Promise.all(
        tokens.map((t) =>
          verifier.verify(t).then(
            () => 'ok',
            (e: BearerError) => e.code,
          ),
        ),
      );
      expect(outcomes).toEqual(tokens.map((t) => (t === good ? 'ok' : 'ERR_BEARER_TOKEN_INVALID')));
      // All but the last one still in flight went to the thread pool.
      expect(subtleVerify.mock.calls.length).toBeGreaterThanOrEqual(7);
    } finally {
      subtleVerify.mockRestore();
      await issuer.close();
    }
  });
});

describe('custom key sources', () => {
  it('answers 503, never 401, when a custom key source fails', async () => {
    const issuer = await createTestIssuer({ algorithm: 'ES256' });
    try {
      const verifier = createBearerVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['ES256'],
        keys: {
          kind: 'static',
          retryAfterSeconds: 3,
          getKey: async () => {
            throw new Error('secret store unreachable');
          },
          warm: async () => {},
          isReady: () => false,
          isDegraded: () => true,
        },
      });
      const error = await verifier.verify(await issuer.mint()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_BEARER_KEYS_UNAVAILABLE', retryable: true });
      const response = verifier.toResponse(error);
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('3');
    } finally {
      await issuer.close();
    }
  });
});

describe('onDecision', () => {
  it('reports accepted and rejected decisions with stable codes, never the token, and survives a throwing hook', async () => {
    const issuer = await createTestIssuer({ algorithm: 'ES256' });
    try {
      const decisions: unknown[] = [];
      const verifier = createBearerVerifier({
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['ES256'],
        keys: staticJwks(issuer.jwks()),
        onDecision: (decision) => {
          decisions.push(decision);
          throw new Error('metrics down');
        },
      });
      const token = await issuer.mint();
      const request = (value: string) => ({ method: 'GET', authorization: [value], header: () => undefined });
      await verifier.authenticate(request(`Bearer ${token}`));
      await verifier.authenticate(request(`Bearer ${token}x`)).catch(() => {});
      expect(decisions).toEqual([
        { outcome: 'accepted', issuer: issuer.issuer, tenant: undefined },
        { outcome: 'rejected', code: 'ERR_BEARER_TOKEN_MALFORMED' },
      ]);
      expect(JSON.stringify(decisions)).not.toContain(token.split('.')[2]);
    } finally {
      await issuer.close();
    }
  });
});

describe('BearerVerifier.route', () => {
  it('types scopes per verifier and validates declarations at start-up', () => {
    const verifier = createBearerVerifier<'orders:read' | 'orders:write'>({
      issuer: 'https://id.example.com',
      audience: 'a',
      algorithms: ['ES256'],
      keys: staticJwks({ keys: [] }),
    });
    expect(verifier.route({ scopes: { all: ['orders:read'] } })).toBeDefined();
    // @ts-expect-error 'orders:delete' is not a declared scope
    expect(() => verifier.route({ scopes: { all: ['orders:delete'] } })).not.toThrow();
    expect(() => verifier.route({ claims: 'x' as never })).toThrow(BearerError);
  });
});

describe('BearerVerifier.authenticate tenants', () => {
  it("refuses a token from another tenant's issuer on a tenant route", async () => {
    const a = await createTestIssuer({ algorithm: 'ES256' });
    const b = await createTestIssuer({ algorithm: 'ES256' });
    try {
      const verifier = createBearerVerifier({
        issuers: {
          [a.issuer]: { audience: a.audience, algorithms: ['ES256'], keys: staticJwks(a.jwks()), tenant: 'a' },
          [b.issuer]: { audience: b.audience, algorithms: ['ES256'], keys: staticJwks(b.jwks()), tenant: 'b' },
        },
      });
      const route = verifier.route({ tenant: (request) => request.header('x-tenant') });
      const call = async (token: string, tenant?: string) =>
        verifier
          .authenticate(
            {
              method: 'GET',
              authorization: [`Bearer ${token}`],
              header: (name) => (name === 'x-tenant' ? tenant : undefined),
            },
            route,
          )
          .then(() => 200)
          .catch((error: unknown) => verifier.toResponse(error).status);
      expect(await call(await a.mint(), 'a')).toBe(200);
      expect(await call(await b.mint(), 'a')).toBe(401);
      expect(await call(await a.mint())).toBe(401);
      expect(await call(await b.mint(), 'b')).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("answers 401, not 500, when the route's tenant reader throws", async () => {
    const a = await createTestIssuer({ algorithm: 'ES256' });
    try {
      const verifier = createBearerVerifier({
        issuers: {
          [a.issuer]: { audience: a.audience, algorithms: ['ES256'], keys: staticJwks(a.jwks()), tenant: 'a' },
        },
      });
      const route = verifier.route({
        tenant: (request) => (new URL(request.url ?? '/', 'http://x').searchParams.get('t') as string).toLowerCase(),
      });
      const error = await verifier
        .authenticate(
          { method: 'GET', url: '/', authorization: [`Bearer ${await a.mint()}`], header: () => undefined },
          route,
        )
        .then(
          () => undefined,
          (failure: unknown) => failure,
        );
      expect(error).toBeInstanceOf(BearerError);
      expect((error as BearerError).code).toBe('ERR_BEARER_TOKEN_INVALID');
      const response = verifier.toResponse(error);
      expect(response.status).toBe(401);
      expect(JSON.stringify(response)).not.toContain('toLowerCase');
      expect((error as Error).message).not.toContain('toLowerCase');
    } finally {
      await a.close();
    }
  });
});

describe('claimIncludes', () => {
  it('matches arrays and space-delimited strings, never prototype members', () => {
    const claims = Object.assign(Object.create(null), { groups: ['a', 'b'], amr: 'pwd mfa' });
    expect(claimIncludes('groups', 'a', 'b')(claims)).toBe(true);
    expect(claimIncludes('amr', 'mfa')(claims)).toBe(true);
    expect(claimIncludes('groups', 'c')(claims)).toBe(false);
    expect(claimIncludes('constructor', 'x')(claims)).toBe(false);
  });
});

describe('BearerError', () => {
  it('is retryable only for outages', () => {
    expect(new BearerError('ERR_BEARER_KEYS_UNAVAILABLE', 'x').retryable).toBe(true);
    expect(new BearerError('ERR_BEARER_TOKEN_INVALID', 'x').retryable).toBe(false);
  });
});
