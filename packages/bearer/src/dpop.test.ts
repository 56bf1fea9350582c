import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { types } from 'node:util';
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import fc from 'fast-check';
import { calculateJwkThumbprint, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ath, createDpopClient, type DpopClient } from '../test/dpop-client.ts';
import { jwkThumbprint } from './dpop.ts';
import { hmacDpopNonces } from './dpop-nonce.ts';
import { BearerError } from './errors.ts';
import { staticJwks } from './key-source.ts';
import { memoryReplayStore, type ReplayStore } from './replay-store.ts';
import type { BearerRequestLike } from './request.ts';
import type { JsonObject } from './strict-json.ts';
import { type BearerVerifier, createBearerVerifier } from './verifier.ts';
import type { BearerVerifierOptions } from './verifier-options.ts';

const URL_ = 'https://api.test/orders';

function view(init: {
  scheme?: string;
  token: string;
  proof?: string | undefined;
  method?: string;
  url?: string;
  headers?: Record<string, string>;
}): BearerRequestLike {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.proof !== undefined) headers.dpop = init.proof;
  return {
    method: init.method ?? 'GET',
    authorization: [`${init.scheme ?? 'DPoP'} ${init.token}`],
    url: init.url ?? '/orders?page=2',
    header: (name) => headers[name],
  };
}

let issuer: TestIssuer;
let client: DpopClient;
let other: DpopClient;

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
  client = await createDpopClient('ES256');
  other = await createDpopClient('ES256');
});
afterAll(async () => {
  await issuer?.close();
});

function makeVerifier(
  dpop: Partial<NonNullable<BearerVerifierOptions['dpop']>> = {},
  extra: Partial<BearerVerifierOptions> = {},
): BearerVerifier {
  return createBearerVerifier({
    realm: 'api',
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    keys: staticJwks(issuer.jwks()),
    dpop: { publicOrigins: ['https://api.test'], replayStore: memoryReplayStore(), ...dpop },
    ...extra,
  } as BearerVerifierOptions);
}

const boundToken = (thumbprint = client.thumbprint): Promise<string> =>
  issuer.mint({ claims: { cnf: { jkt: thumbprint } } });

async function rejection(promise: Promise<unknown>): Promise<BearerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BearerError);
    return error as BearerError;
  }
  throw new Error('expected a rejection');
}

describe('DPoP verification', () => {
  it('accepts a DPoP-bound token with a matching proof and reports the binding', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    const result = await verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) }));
    expect(result.binding).toEqual({ type: 'dpop', thumbprint: client.thumbprint });
  });

  it('accepts extra cnf members next to jkt (as Keycloak sends)', async () => {
    const verifier = makeVerifier();
    const token = await issuer.mint({ claims: { cnf: { jkt: client.thumbprint, extra: 'x' } } });
    await expect(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) })),
    ).resolves.toBeDefined();
  });

  it('imports a key once per exact jwk: a proof whose jwk differs in any member is checked afresh', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    for (let i = 0; i < 3; i++) {
      await expect(
        verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) })),
      ).resolves.toBeDefined();
    }
    // Same key (same thumbprint), other members: the warm verifier answers as a fresh one does.
    for (const extra of [{ use: 'enc' }, { key_ops: ['encrypt'] }, { key_ops: ['verify'] }, { alg: 'RS256' }]) {
      const outcome = async (v: BearerVerifier) => {
        const proof = await client.proof({ url: URL_, token, header: { jwk: { ...client.jwk, ...extra } } });
        return v.authenticate(view({ token, proof })).then(
          () => 'accepted',
          (e: BearerError) => e.code,
        );
      };
      expect(await outcome(verifier), JSON.stringify(extra)).toBe(await outcome(makeVerifier()));
    }
    // One the import refuses stays refused on the warm verifier.
    const refused = await client.proof({ url: URL_, token, header: { jwk: { ...client.jwk, key_ops: ['encrypt'] } } });
    expect((await rejection(verifier.authenticate(view({ token, proof: refused })))).code).toBe(
      'ERR_BEARER_DPOP_PROOF_INVALID',
    );
  });

  it('refuses a replayed proof', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    const proof = await client.proof({ url: URL_, token });
    await verifier.authenticate(view({ token, proof }));
    const error = await rejection(verifier.authenticate(view({ token, proof })));
    expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    expect(error.message).toMatch(/replay/);
  });

  it('keeps a proof id for its acceptance window plus room for clock skew between pods', async () => {
    const ttls: number[] = [];
    const store = memoryReplayStore();
    const recording = {
      check: (id: string, ttlMs: number) => {
        ttls.push(ttlMs);
        return store.check(id, ttlMs);
      },
    };
    const verifier = makeVerifier({ replayStore: recording, maxProofAgeSeconds: 60, clockToleranceSeconds: 5 });
    const token = await boundToken();
    await verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) }));
    // Accepted from 5 s before iat to 65 s after it (70 s), by each pod's own clock: 2 × 5 s more.
    expect(ttls).toEqual([80_000]);
  });

  const cases: [string, (token: string) => Promise<string | undefined>, string?][] = [
    ['a missing DPoP header', async () => undefined],
    ['an htm that is not the request method', (token) => client.proof({ url: URL_, token, method: 'POST' })],
    ['an htu with another path', (token) => client.proof({ url: 'https://api.test/admin', token })],
    ['an htu with another origin', (token) => client.proof({ url: 'https://evil.test/orders', token })],
    ['an htu with another scheme', (token) => client.proof({ url: 'http://api.test/orders', token })],
    [
      'a stale iat',
      (token) => client.proof({ url: URL_, token, claims: { iat: Math.floor(Date.now() / 1000) - 120 } }),
    ],
    [
      'an iat in the future',
      (token) => client.proof({ url: URL_, token, claims: { iat: Math.floor(Date.now() / 1000) + 60 } }),
    ],
    ['a missing iat', (token) => client.proof({ url: URL_, token, claims: { iat: undefined } })],
    ['a missing jti', (token) => client.proof({ url: URL_, token, claims: { jti: undefined } })],
    ['a wrong ath', (token) => client.proof({ url: URL_, token, claims: { ath: ath(`${token}x`) } })],
    ['a missing ath', (token) => client.proof({ url: URL_, token, claims: { ath: undefined } })],
    ['a proof signed by a key other than cnf.jkt', (token) => other.proof({ url: URL_, token })],
    ['a typ other than dpop+jwt', (token) => client.proof({ url: URL_, token, header: { typ: 'JWT' } })],
    ['no typ', (token) => client.proof({ url: URL_, token, header: { typ: undefined } })],
    ['no jwk', (token) => client.proof({ url: URL_, token, header: { jwk: undefined } })],
    [
      'a jwk carrying the private key',
      (token) => client.proof({ url: URL_, token, header: { jwk: client.privateJwk } }),
    ],
    ['a jwk of another key than the signer', (token) => client.proof({ url: URL_, token, header: { jwk: other.jwk } })],
    ['a jku header', (token) => client.proof({ url: URL_, token, header: { jku: 'https://evil.test/jwks' } })],
    ['an x5c header', (token) => client.proof({ url: URL_, token, header: { x5c: ['AAAA'] } })],
    [
      'alg none',
      async (token) => {
        const enc = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
        const header = { typ: 'dpop+jwt', alg: 'none', jwk: client.jwk };
        const claims = { jti: 'x', htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), ath: ath(token) };
        return `${enc(header)}.${enc(claims)}.`;
      },
    ],
    [
      'an HMAC proof',
      async (token) =>
        new SignJWT({ jti: 'y', htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), ath: ath(token) })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } } as never)
          .sign(new Uint8Array(32)),
    ],
    ['two proofs in one header', async (token) => `${await client.proof({ url: URL_, token })}, x`],
    ['a tampered signature', async (token) => `${(await client.proof({ url: URL_, token })).slice(0, -4)}AAAA`],
  ];
  for (const [name, makeProof] of cases) {
    it(`refuses ${name} with invalid_dpop_proof`, async () => {
      const verifier = makeVerifier();
      const token = await boundToken();
      const proof = await makeProof(token);
      const error = await rejection(verifier.authenticate(view({ token, proof })));
      expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
      expect(error.message).not.toContain(token);
      if (proof !== undefined) expect(error.message).not.toContain(proof.slice(0, 20));
      const response = verifier.toResponse(error);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(
        /^Bearer realm="api", DPoP realm="api", error="invalid_dpop_proof"/,
      );
    });
  }

  it('refuses a proof whose algorithm is not in dpop.algorithms', async () => {
    const edClient = await createDpopClient('EdDSA');
    const verifier = makeVerifier({ algorithms: ['ES256'] });
    const token = await boundToken(edClient.thumbprint);
    const error = await rejection(
      verifier.authenticate(view({ token, proof: await edClient.proof({ url: URL_, token }) })),
    );
    expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
  });

  it('refuses a DPoP-bound token presented as Bearer with invalid_token under the Bearer challenge', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    const error = await rejection(
      verifier.authenticate(view({ scheme: 'Bearer', token, proof: await client.proof({ url: URL_, token }) })),
    );
    expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(verifier.toResponse(error).headers['www-authenticate']).toMatch(
      /^Bearer realm="api", error="invalid_token", .*, DPoP realm="api", algs="ES256 EdDSA PS256 RS256"$/,
    );
  });

  it('refuses a plain token presented with the DPoP scheme', async () => {
    const verifier = makeVerifier();
    const token = await issuer.mint();
    const error = await rejection(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) })),
    );
    expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(verifier.toResponse(error).headers['www-authenticate']).toMatch(/DPoP realm="api", error="invalid_token"/);
  });

  it('answers a DPoP credential that is empty or not token68 with invalid_request under the DPoP challenge', async () => {
    const verifier = makeVerifier();
    for (const line of ['DPoP', 'DPoP a b', 'DPoP   ']) {
      const request: BearerRequestLike = {
        method: 'GET',
        authorization: [line],
        url: '/orders',
        header: () => undefined,
      };
      const error = await rejection(verifier.authenticate(request));
      expect(error.code).toBe('ERR_BEARER_INVALID_REQUEST');
      const response = verifier.toResponse(error);
      expect(response.status).toBe(400);
      expect(response.headers['www-authenticate']).toMatch(/DPoP realm="api", error="invalid_request"/);
      expect(response.headers['www-authenticate']).not.toMatch(/Bearer realm="api", error=/);
    }
  });

  it('renders an error object shared by a Bearer and a DPoP request under each request’s own scheme', async () => {
    const shared = new BearerError('ERR_BEARER_TOKEN_INVALID', 'Shared verdict.');
    const verifier = makeVerifier(
      {},
      {
        steps: [
          {
            name: 'shared',
            run: () => {
              throw shared;
            },
          },
        ],
      },
    );
    const bound = await boundToken();
    const dpopError = await rejection(
      verifier.authenticate(view({ token: bound, proof: await client.proof({ url: URL_, token: bound }) })),
    );
    const bearerError = await rejection(verifier.authenticate(view({ scheme: 'Bearer', token: await issuer.mint() })));
    expect(verifier.toResponse(dpopError).headers['www-authenticate']).toMatch(
      /DPoP realm="api", error="invalid_token"/,
    );
    expect(verifier.toResponse(bearerError).headers['www-authenticate']).toMatch(
      /^Bearer realm="api", error="invalid_token"/,
    );
    expect(dpopError.code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('keeps the class and fields of a shared BearerError subclass on every request', async () => {
    class PolicyRefusal extends BearerError {
      readonly policy = 'tenant-blocked';
    }
    const shared = new PolicyRefusal('ERR_BEARER_TOKEN_INVALID', 'Blocked by policy.');
    const verifier = makeVerifier(
      {},
      {
        steps: [
          {
            name: 'policy',
            run: () => {
              throw shared;
            },
          },
        ],
      },
    );
    const bound = await boundToken();
    const dpopError = await rejection(
      verifier.authenticate(view({ token: bound, proof: await client.proof({ url: URL_, token: bound }) })),
    );
    const bearerError = await rejection(verifier.authenticate(view({ scheme: 'Bearer', token: await issuer.mint() })));
    const againDpop = await rejection(
      verifier.authenticate(view({ token: bound, proof: await client.proof({ url: URL_, token: bound }) })),
    );
    for (const error of [dpopError, bearerError, againDpop]) {
      expect(error).toBeInstanceOf(PolicyRefusal);
      expect((error as PolicyRefusal).policy).toBe('tenant-blocked');
      expect(error.message).toBe('Blocked by policy.');
      // A real error with the original's stack trace (loggers read it), also for a copy.
      expect(error.stack).toBe(shared.stack);
      expect(types.isNativeError(error)).toBe(true);
    }
    expect(dpopError).toBe(shared);
    for (const error of [dpopError, againDpop]) {
      expect(verifier.toResponse(error).headers['www-authenticate']).toMatch(/DPoP realm="api", error="invalid_token"/);
    }
    expect(verifier.toResponse(bearerError).headers['www-authenticate']).toMatch(
      /^Bearer realm="api", error="invalid_token"/,
    );
  });

  it('still accepts plain Bearer tokens unless DPoP is required', async () => {
    const token = await issuer.mint();
    await expect(makeVerifier().authenticate(view({ scheme: 'Bearer', token }))).resolves.toBeDefined();
    const required = makeVerifier({ required: true });
    const error = await rejection(required.authenticate(view({ scheme: 'Bearer', token })));
    expect(error.code).toBe('ERR_BEARER_TOKEN_MISSING');
    expect(required.toResponse(error).headers['www-authenticate']).toBe(
      'DPoP realm="api", algs="ES256 EdDSA PS256 RS256"',
    );
  });

  it('refuses plain query-string tokens when DPoP is required', async () => {
    const verifier = makeVerifier({ required: true }, { allowQueryToken: true });
    const token = await issuer.mint();
    const request: BearerRequestLike = {
      method: 'GET',
      authorization: [],
      url: `/orders?access_token=${token}`,
      header: () => undefined,
    };
    expect((await rejection(verifier.authenticate(request))).code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('still checks the proof on every request when the verified-token cache is on', async () => {
    const verifier = makeVerifier({}, { verifiedTokenCache: { maxEntries: 10 } });
    const token = await boundToken();
    const proof = await client.proof({ url: URL_, token });
    await verifier.authenticate(view({ token, proof }));
    expect((await rejection(verifier.authenticate(view({ token, proof })))).code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    expect((await rejection(verifier.authenticate(view({ token })))).code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    await expect(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) })),
    ).resolves.toBeDefined();
  });

  it('refuses a proof signed with an RSA key under 2048 bits', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwk = publicKey.export({ format: 'jwk' });
    const thumbprint = await calculateJwkThumbprint(jwk as JWK, 'sha256');
    const verifier = makeVerifier();
    const token = await boundToken(thumbprint);
    const enc = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${enc({ typ: 'dpop+jwt', alg: 'RS256', jwk })}.${enc({
      jti: 'small-rsa',
      htm: 'GET',
      htu: URL_,
      iat: Math.floor(Date.now() / 1000),
      ath: ath(token),
    })}`;
    const proof = `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
    expect((await rejection(verifier.authenticate(view({ token, proof })))).code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
  });

  it('refuses DPoP-bound tokens when DPoP is not enabled, and ignores the DPoP scheme', async () => {
    const verifier = createBearerVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['ES256'],
      keys: staticJwks(issuer.jwks()),
    });
    const token = await boundToken();
    expect((await rejection(verifier.authenticate(view({ scheme: 'Bearer', token })))).code).toBe(
      'ERR_BEARER_TOKEN_INVALID',
    );
    const proof = await client.proof({ url: URL_, token });
    expect((await rejection(verifier.authenticate(view({ token, proof })))).code).toBe('ERR_BEARER_TOKEN_MISSING');
  });

  it('builds htu from the configured origin, never from Host or an untrusted X-Forwarded-Host', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    const forged = { host: 'evil.test', 'x-forwarded-host': 'evil.test' };
    const error = await rejection(
      verifier.authenticate(
        view({ token, headers: forged, proof: await client.proof({ url: 'https://evil.test/orders', token }) }),
      ),
    );
    expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    await expect(
      verifier.authenticate(view({ token, headers: forged, proof: await client.proof({ url: URL_, token }) })),
    ).resolves.toBeDefined();
  });

  it('picks among several origins with the trusted proxy header, refusing hosts not configured', async () => {
    const verifier = makeVerifier({
      publicOrigins: ['https://api.test', 'https://api.example.com:8443'],
      trustedProxyHeader: 'x-forwarded-host',
    });
    const token = await boundToken();
    const at = 'https://api.example.com:8443/orders';
    await expect(
      verifier.authenticate(
        view({
          token,
          headers: { 'x-forwarded-host': 'spoof.test, api.example.com:8443' },
          proof: await client.proof({ url: at, token }),
        }),
      ),
    ).resolves.toBeDefined();
    const error = await rejection(
      verifier.authenticate(
        view({
          token,
          headers: { 'x-forwarded-host': 'evil.test' },
          proof: await client.proof({ url: 'https://evil.test/orders', token }),
        }),
      ),
    );
    expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    // A proxy may spell out the scheme's default port: api.test:443 is https://api.test, but
    // api.test:80 is not (another port for https).
    await expect(
      verifier.authenticate(
        view({
          token,
          headers: { 'x-forwarded-host': 'api.test:443' },
          proof: await client.proof({ url: 'https://api.test/orders', token }),
        }),
      ),
    ).resolves.toBeDefined();
    const otherPort = await rejection(
      verifier.authenticate(
        view({
          token,
          headers: { 'x-forwarded-host': 'api.test:80' },
          proof: await client.proof({ url: 'https://api.test/orders', token }),
        }),
      ),
    );
    expect(otherPort.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    const forwarded = makeVerifier({
      publicOrigins: ['https://a.test', 'https://b.test'],
      trustedProxyHeader: 'forwarded',
    });
    await expect(
      forwarded.authenticate(
        view({
          token,
          headers: { forwarded: 'for=1.2.3.4;host="b.test";proto=https' },
          proof: await client.proof({ url: 'https://b.test/orders', token }),
        }),
      ),
    ).resolves.toBeDefined();
  });

  it('puts dpop.publicPathPrefix in front of the request path, for a proxy that strips it', async () => {
    const verifier = makeVerifier({ publicPathPrefix: '/shop' });
    const token = await boundToken();
    // The client called https://api.test/shop/orders; the proxy forwarded /orders.
    await expect(
      verifier.authenticate(view({ token, proof: await client.proof({ url: 'https://api.test/shop/orders', token }) })),
    ).resolves.toBeDefined();
    for (const url of [
      URL_,
      'https://api.test/shop',
      'https://api.test/shop/shop/orders',
      'https://api.test/x/orders',
    ]) {
      const error = await rejection(verifier.authenticate(view({ token, proof: await client.proof({ url, token }) })));
      expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    }
    await expect(
      verifier.authenticate(
        view({ token, url: '/', proof: await client.proof({ url: 'https://api.test/shop/', token }) }),
      ),
    ).resolves.toBeDefined();
    // Dot segments in the forwarded path must not lead to a sibling service's URL.
    for (const url of ['/%2e%2e/admin', '/../admin', '/%2E%2E/%2e%2e/admin', '/./../admin']) {
      const proof = await client.proof({ url: 'https://api.test/admin', token });
      const error = await rejection(verifier.authenticate(view({ token, url, proof })));
      expect(error.code, url).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
    }
  });

  it('ignores query and fragment in htu', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    await expect(
      verifier.authenticate(view({ token, proof: await client.proof({ url: `${URL_}?page=3#x`, token }) })),
    ).resolves.toBeDefined();
  });

  it('compares htu after RFC 3986 normalization of percent-encodings, as RFC 9449 asks', async () => {
    const verifier = makeVerifier();
    for (const [requestPath, proofUrl] of [
      ['/orders/%7e', 'https://api.test/orders/~'],
      ['/orders/~a', 'https://api.test/orders/%7Ea'],
      ['/orders/a%2fb', 'https://api.test/orders/a%2Fb'],
    ] as const) {
      const token = await boundToken();
      await expect(
        verifier.authenticate(view({ token, url: requestPath, proof: await client.proof({ url: proofUrl, token }) })),
      ).resolves.toBeDefined();
    }
    // An encoded slash is not a slash: /orders/a%2Fb is another resource than /orders/a/b.
    const token = await boundToken();
    const error = await rejection(
      verifier.authenticate(
        view({ token, url: '/orders/a%2Fb', proof: await client.proof({ url: 'https://api.test/orders/a/b', token }) }),
      ),
    );
    expect(error.code).toBe('ERR_BEARER_DPOP_PROOF_INVALID');
  });

  it('answers 503, never acceptance, when the replay store is down', async () => {
    const down: ReplayStore = { check: async () => Promise.reject(new Error('ECONNREFUSED 10.0.0.1')) };
    const verifier = makeVerifier({ replayStore: down });
    const token = await boundToken();
    const error = await rejection(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) })),
    );
    expect(error.code).toBe('ERR_BEARER_REPLAY_STORE_UNAVAILABLE');
    expect(error.retryable).toBe(true);
    const response = verifier.toResponse(error);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(error.message).not.toContain('10.0.0.1');
  });

  it('only records proofs that pass every other check', async () => {
    const ids: string[] = [];
    const verifier = makeVerifier({
      replayStore: {
        check: async (id) => {
          ids.push(id);
          return true;
        },
      },
    });
    const token = await boundToken();
    await rejection(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token, method: 'PUT' }) })),
    );
    expect(ids).toHaveLength(0);
  });

  it('refuses proofs for verify(token) without a request', async () => {
    const verifier = makeVerifier();
    expect((await rejection(verifier.verify(await boundToken()))).code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('never accepts random DPoP header values (property)', async () => {
    const verifier = makeVerifier();
    const token = await boundToken();
    const valid = await client.proof({ url: URL_, token });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc
            .tuple(fc.nat(valid.length - 1), fc.string({ minLength: 1, maxLength: 3 }))
            .map(([at, insert]) => valid.slice(0, at) + insert + valid.slice(at + 1)),
        ),
        async (proof) => {
          fc.pre(proof !== valid);
          const error = await rejection(verifier.authenticate(view({ token, proof })));
          expect(['ERR_BEARER_DPOP_PROOF_INVALID']).toContain(error.code);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('DPoP nonces', () => {
  const secret = randomBytes(32);

  it('answers use_dpop_nonce with a DPoP-Nonce header when the proof has none, then accepts it', async () => {
    const verifier = makeVerifier({ nonces: hmacDpopNonces({ secret }) });
    const token = await boundToken();
    const error = await rejection(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token }) })),
    );
    expect(error.code).toBe('ERR_BEARER_DPOP_NONCE_REQUIRED');
    const response = verifier.toResponse(error);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toContain('DPoP realm="api", error="use_dpop_nonce"');
    expect(JSON.parse(response.body).error).toBe('use_dpop_nonce');
    const nonce = response.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{30}$/);
    await expect(
      verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token, nonce }) })),
    ).resolves.toBeDefined();
  });

  it('refuses a forged, foreign or expired nonce', async () => {
    let now = Date.now();
    const nonces = hmacDpopNonces({ secret, lifetimeSeconds: 60 });
    const verifier = makeVerifier({ nonces }, { now: () => now });
    const token = await boundToken();
    const foreign = hmacDpopNonces({ secret: randomBytes(32) }).issue(now);
    for (const nonce of ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', foreign, 'x']) {
      const error = await rejection(
        verifier.authenticate(view({ token, proof: await client.proof({ url: URL_, token, nonce }) })),
      );
      expect(error.code).toBe('ERR_BEARER_DPOP_NONCE_REQUIRED');
    }
    const old = nonces.issue(now);
    now += 61_000;
    const error = await rejection(
      verifier.authenticate(
        view({
          token,
          proof: await client.proof({ url: URL_, token, nonce: old, claims: { iat: Math.floor(now / 1000) } }),
        }),
      ),
    );
    expect(error.code).toBe('ERR_BEARER_DPOP_NONCE_REQUIRED');
  });

  it('shares nonces between pods that share the secret', () => {
    const now = Date.now();
    expect(hmacDpopNonces({ secret }).check(hmacDpopNonces({ secret }).issue(now), now)).toBe(true);
  });

  it('never accepts a nonce it did not issue (property)', () => {
    const nonces = hmacDpopNonces({ secret });
    const now = Date.now();
    const issued = nonces.issue(now);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{30}$/)), (candidate) => {
        fc.pre(candidate !== issued && candidate !== nonces.issue(now - 150_000));
        expect(nonces.check(candidate, now)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses short secrets', () => {
    expect(() => hmacDpopNonces({ secret: new Uint8Array(8) })).toThrow(/at least 32 bytes/);
  });
});

describe('dpop options', () => {
  it('lists every problem at once', () => {
    try {
      createBearerVerifier({
        issuer: 'https://id.test',
        audience: 'a',
        algorithms: ['ES256'],
        jwksUri: 'https://id.test/jwks',
        dpop: {
          publicOrigins: ['https://a.test/path', 'https://b.test'],
          publicPathPrefix: 'shop/',
          algorithms: ['HS256' as 'ES256'],
          maxProofAgeSeconds: 3600,
        } as never,
      });
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      for (const part of [
        'publicOrigins',
        'trustedProxyHeader',
        'replayStore',
        'dpop.algorithms',
        'maxProofAgeSeconds',
        'publicPathPrefix',
      ]) {
        expect(message).toContain(part);
      }
    }
  });

  it('accepts only a plain, normalized publicPathPrefix', () => {
    const build = (publicPathPrefix: string) =>
      createBearerVerifier({
        issuer: 'https://id.test',
        audience: 'a',
        algorithms: ['ES256'],
        jwksUri: 'https://id.test/jwks',
        dpop: { publicOrigins: ['https://a.test'], replayStore: memoryReplayStore(), publicPathPrefix },
      });
    for (const good of ['/shop', '/api/v1', '/a-b_c.d', '/%C3%A9']) expect(() => build(good)).not.toThrow();
    for (const bad of ['', '/', 'shop', '/shop/', '/a/../b', '/./a', '/a?x', '/a#x', '//a', '/a b', '/é', '/a\\b']) {
      expect(() => build(bad), bad).toThrow(/publicPathPrefix/);
    }
  });
});

describe('extractAccessToken with DPoP', () => {
  it('answers only typed errors for arbitrary Authorization headers (property)', async () => {
    const { extractAccessToken } = await import('./request.ts');
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (line) => {
        try {
          const { scheme } = extractAccessToken(
            { method: 'GET', authorization: [line], header: () => undefined },
            {},
            { bearer: true, dpop: true },
          );
          expect(['Bearer', 'DPoP']).toContain(scheme);
        } catch (error) {
          expect(error).toBeInstanceOf(BearerError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('memoryReplayStore', () => {
  it('answers first time once per id within the TTL, and fails closed when full', async () => {
    let now = 0;
    const store = memoryReplayStore({ maxEntries: 2, now: () => now });
    expect(await store.check('a', 1000)).toBe(true);
    expect(await store.check('a', 1000)).toBe(false);
    expect(await store.check('b', 1000)).toBe(true);
    await expect(store.check('c', 1000)).rejects.toMatchObject({ code: 'ERR_BEARER_REPLAY_STORE_UNAVAILABLE' });
    now = 1001;
    expect(await store.check('c', 1000)).toBe(true);
    expect(await store.check('a', 1000)).toBe(true);
  });

  it('evicts expired ids when verifiers with different TTLs share the store', async () => {
    let now = 0;
    const store = memoryReplayStore({ maxEntries: 2, now: () => now });
    expect(await store.check('long', 60_000)).toBe(true);
    expect(await store.check('short', 100)).toBe(true);
    now = 200; // "short" expired; "long" (inserted first) is still live
    expect(await store.check('next', 100)).toBe(true);
    expect(await store.check('long', 60_000)).toBe(false);
    await expect(store.check('more', 100)).rejects.toMatchObject({ code: 'ERR_BEARER_REPLAY_STORE_UNAVAILABLE' });
  });

  it('answers like a reference model for any mix of TTLs, waits and ids', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.tuple(
            fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'),
            fc.integer({ min: 0, max: 300 }),
            fc.integer({ min: 0, max: 200 }),
          ),
          { maxLength: 60 },
        ),
        async (maxEntries, steps) => {
          let now = 1_000;
          const store = memoryReplayStore({ maxEntries, now: () => now });
          const model = new Map<string, number>();
          for (const [id, ttl, advance] of steps) {
            now += advance;
            const live = [...model].filter(([key, expires]) => key !== id && expires > now).length;
            const known = model.get(id);
            const outcome = await store.check(id, ttl).then(
              (first) => first,
              (error: unknown) => (error as BearerError).code,
            );
            if (known !== undefined && known > now) {
              expect(outcome).toBe(false);
            } else if (live >= maxEntries) {
              expect(outcome).toBe('ERR_BEARER_REPLAY_STORE_UNAVAILABLE');
              model.delete(id);
            } else {
              expect(outcome).toBe(true);
              model.set(id, now + ttl);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('jwkThumbprint', () => {
  it('equals jose.calculateJwkThumbprint for every key type, whatever other members the jwk has', async () => {
    const keys = [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      generateKeyPairSync('ec', { namedCurve: 'P-384' }),
      generateKeyPairSync('ec', { namedCurve: 'P-521' }),
      generateKeyPairSync('ed25519'),
      generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ].map((pair) => pair.publicKey.export({ format: 'jwk' }) as JWK);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...keys),
        fc.dictionary(
          fc.constantFrom('alg', 'use', 'kid', 'key_ops', 'ext', 'x5t', 'z'),
          fc.oneof(fc.string(), fc.boolean(), fc.array(fc.string())),
        ),
        async (jwk, extra) => {
          const withExtra = { ...extra, ...jwk } as JsonObject;
          expect(jwkThumbprint(withExtra)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers undefined for an unknown kty or a missing or non-string member', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JsonObject;
    expect(jwkThumbprint({ ...ec, kty: 'oct' })).toBeUndefined();
    expect(jwkThumbprint({ ...ec, kty: '__proto__' })).toBeUndefined();
    const { y: _y, ...noY } = ec;
    expect(jwkThumbprint(noY)).toBeUndefined();
    expect(jwkThumbprint({ ...ec, x: 1 })).toBeUndefined();
    expect(jwkThumbprint({ ...ec, crv: ['P-256'] })).toBeUndefined();
  });
});
