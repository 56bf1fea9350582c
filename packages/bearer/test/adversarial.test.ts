/**
 * Attacks a verifier must refuse. Every rejection is also checked for leaks: the error message
 * never contains the token, a segment of it, or a claim value.
 */
import { createHmac, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import fc from 'fast-check';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BearerError,
  type BearerErrorCode,
  type BearerVerifier,
  createBearerVerifier,
  fromWebRequest,
  staticJwks,
} from '../src/index.ts';
import { startIntrospectionServer } from './introspection-server.ts';

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);
const MARKER = 'SECRET-CLAIM-VALUE-7f3a';

let rs: TestIssuer;
let es: TestIssuer;
let verifier: BearerVerifier;
let legacy: BearerVerifier;

const header = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  alg: 'RS256',
  kid: rs.kid,
  typ: 'at+jwt',
  ...extra,
});
const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: rs.issuer,
  aud: rs.audience,
  sub: 'user-1',
  client_id: 'c1',
  iat: now(),
  exp: now() + 300,
  jti: MARKER,
  ...extra,
});
const signed = (h: Record<string, unknown>, c: Record<string, unknown>): string =>
  rs.signRaw(JSON.stringify(h), JSON.stringify(c));

async function rejects(
  token: string,
  code: BearerErrorCode | readonly BearerErrorCode[],
  using: BearerVerifier = verifier,
): Promise<BearerError> {
  const error = await using.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BearerError);
  const bearerError = error as BearerError;
  expect(Array.isArray(code) ? code : [code]).toContain(bearerError.code);
  expect(bearerError.message).not.toContain(MARKER);
  for (const segment of token.split('.')) {
    if (segment.length >= 8) expect(bearerError.message).not.toContain(segment);
  }
  const response = using.toResponse(bearerError);
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  return bearerError;
}

beforeAll(async () => {
  rs = await createTestIssuer({ algorithm: 'RS256' });
  es = await createTestIssuer({ algorithm: 'ES256' });
  verifier = createBearerVerifier({
    issuers: {
      [rs.issuer]: { audience: rs.audience, algorithms: ['RS256'], keys: staticJwks(rs.jwks()) },
      [es.issuer]: { audience: es.audience, algorithms: ['ES256'], keys: staticJwks(es.jwks()) },
    },
  });
  legacy = createBearerVerifier({
    issuer: rs.issuer,
    audience: rs.audience,
    algorithms: ['RS256'],
    keys: staticJwks(rs.jwks()),
    requireAccessTokenType: false,
  });
});

afterAll(async () => {
  await rs?.close();
  await es?.close();
});

describe('createBearerVerifier: baseline', () => {
  it('accepts a well-formed token (the control for every attack below)', async () => {
    const result = await verifier.verify(signed(header(), claims()));
    expect(result.subject).toBe('user-1');
    expect(Object.getPrototypeOf(result.claims)).toBeNull();
  });
});

describe('createBearerVerifier: algorithm confusion and none', () => {
  it('refuses alg none with an empty signature', async () => {
    await rejects(
      `${b64(JSON.stringify(header({ alg: 'none' })))}.${b64(JSON.stringify(claims()))}.`,
      'ERR_BEARER_TOKEN_MALFORMED',
    );
  });

  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    it(`refuses alg ${alg} with a fake signature`, async () => {
      await rejects(
        `${b64(JSON.stringify(header({ alg })))}.${b64(JSON.stringify(claims()))}.${b64('sig')}`,
        'ERR_BEARER_TOKEN_INVALID',
      );
    });
  }

  it('refuses a token HMAC-signed with the public key PEM as secret', async () => {
    const { createPublicKey } = await import('node:crypto');
    const jwk = rs.jwks().keys[0] as import('node:crypto').JsonWebKey;
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    for (const secret of [pem, pem.trim(), ` ${pem}`, JSON.stringify(jwk)]) {
      const input = `${b64(JSON.stringify(header({ alg: 'HS256' })))}.${b64(JSON.stringify(claims()))}`;
      const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await rejects(token, 'ERR_BEARER_TOKEN_INVALID');
    }
  });

  it('refuses an RS256 token at an issuer that only allows ES256', async () => {
    await rejects(signed(header(), claims({ iss: es.issuer, aud: es.audience })), 'ERR_BEARER_TOKEN_INVALID');
  });

  it('refuses a header alg that differs from the key type', async () => {
    const input = `${b64(JSON.stringify(header({ alg: 'PS256' })))}.${b64(JSON.stringify(claims()))}`;
    await rejects(`${input}.${b64('x'.repeat(256))}`, 'ERR_BEARER_TOKEN_INVALID');
  });

  for (const alg of [['RS256'], 256, null, { alg: 'RS256' }, 'RS256 ', 'rs256', '']) {
    it(`refuses a non-canonical alg ${JSON.stringify(alg)}`, async () => {
      await rejects(signed(header({ alg }), claims()), ['ERR_BEARER_TOKEN_MALFORMED', 'ERR_BEARER_TOKEN_INVALID']);
    });
  }

  it('refuses HS256, none and unknown algorithms in the configuration', () => {
    for (const algorithms of [['HS256'], ['none'], ['RS256', 'HS512'], [], ['RSA-OAEP']]) {
      expect(() =>
        createBearerVerifier({
          issuer: rs.issuer,
          audience: rs.audience,
          algorithms: algorithms as ['RS256'],
          keys: staticJwks(rs.jwks()),
        }),
      ).toThrow(expect.objectContaining({ code: 'ERR_BEARER_INVALID_OPTIONS' }));
    }
  });

  it('refuses an ECDSA signature in DER form instead of IEEE P1363', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'ES256' };
    const der = createBearerVerifier({
      issuer: 'https://der.test',
      audience: 'a',
      algorithms: ['ES256'],
      keys: staticJwks({ keys: [jwk] }),
    });
    const input = `${b64(JSON.stringify({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }))}.${b64(JSON.stringify({ iss: 'https://der.test', aud: 'a', exp: now() + 60 }))}`;
    const signature = nodeSign('sha256', Buffer.from(input), privateKey);
    await rejects(`${input}.${signature.toString('base64url')}`, 'ERR_BEARER_TOKEN_INVALID', der);
  });
});

describe('createBearerVerifier: weak and ambiguous keys', () => {
  it('refuses a token signed with an RSA key under 2048 bits, even when the JWKS publishes it', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak = createBearerVerifier({
      issuer: 'https://weak.test',
      audience: 'a',
      algorithms: ['RS256'],
      keys: staticJwks({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'weak' }] }),
    });
    const input = `${b64(JSON.stringify({ alg: 'RS256', kid: 'weak', typ: 'at+jwt' }))}.${b64(JSON.stringify({ iss: 'https://weak.test', aud: 'a', exp: now() + 60 }))}`;
    const signature = nodeSign('sha256', Buffer.from(input), privateKey);
    await rejects(`${input}.${signature.toString('base64url')}`, 'ERR_BEARER_TOKEN_INVALID', weak);
  });

  it('tries each key when several match a token without kid, and accepts only a real signature', async () => {
    const other = await generateKeyPair('RS256', { extractable: true });
    const ambiguous = createBearerVerifier({
      issuer: rs.issuer,
      audience: rs.audience,
      algorithms: ['RS256'],
      keys: staticJwks({
        keys: [{ ...(await exportJWK(other.publicKey)), kid: 'x' }, ...rs.jwks().keys.map((k) => ({ ...k, kid: 'x' }))],
      }),
    });
    await expect(ambiguous.verify(signed(header({ kid: undefined }), claims()))).resolves.toBeDefined();
    const forged = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
      .sign((await generateKeyPair('RS256')).privateKey);
    await rejects(forged, 'ERR_BEARER_TOKEN_INVALID', ambiguous);
  });
});

describe('createBearerVerifier: forged key headers', () => {
  let attackerJwk: Record<string, unknown>;
  let attackerKey: CryptoKey;
  let hits = 0;
  let attackerUrl = '';
  let server: ReturnType<typeof createServer>;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    attackerKey = pair.privateKey;
    attackerJwk = { ...(await exportJWK(pair.publicKey)), kid: 'attacker' };
    server = createServer((_req, res) => {
      hits++;
      res.end(JSON.stringify({ keys: [attackerJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const forge = (extra: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker', ...extra })
      .sign(attackerKey);

  it('refuses an embedded jwk header and never trusts it', async () => {
    await rejects(await forge({ jwk: attackerJwk }), 'ERR_BEARER_TOKEN_MALFORMED');
  });

  for (const member of ['jku', 'x5u']) {
    it(`refuses a ${member} header without fetching it`, async () => {
      const before = hits;
      await rejects(await forge({ [member]: attackerUrl }), 'ERR_BEARER_TOKEN_MALFORMED');
      expect(hits).toBe(before);
    });
  }

  it('refuses an x5c header', async () => {
    await rejects(await forge({ x5c: ['MIIB'] }), 'ERR_BEARER_TOKEN_MALFORMED');
  });

  it("refuses a token signed by another key that reuses the issuer's kid", async () => {
    await rejects(await forge({ kid: rs.kid }), 'ERR_BEARER_TOKEN_INVALID');
  });

  it('refuses a token whose iss names one issuer but is signed by the other issuer', async () => {
    const token = await es.mint({ claims: { iss: rs.issuer, aud: rs.audience } });
    await rejects(token, 'ERR_BEARER_TOKEN_INVALID');
  });

  it('never builds a URL from iss: an unknown issuer is refused with no fetch', async () => {
    const before = hits;
    await rejects(
      await forge({}).then(() => signed(header(), claims({ iss: attackerUrl }))),
      'ERR_BEARER_TOKEN_INVALID',
    );
    expect(hits).toBe(before);
  });
});

describe('createBearerVerifier: kid abuse', () => {
  for (const [name, kid] of [
    ['an unknown kid', 'nope'],
    ['a path traversal kid', '../../../../etc/passwd'],
    ['a SQL kid', "' OR 1=1 --"],
    ['a __proto__ kid', '__proto__'],
    ['a constructor kid', 'constructor'],
  ] as const) {
    it(`refuses ${name}`, async () => {
      await rejects(signed(header({ kid }), claims()), 'ERR_BEARER_TOKEN_INVALID');
    });
  }

  for (const [name, kid] of [
    ['a numeric kid', 1],
    ['an object kid', { a: 1 }],
    ['a kid with control characters', 'a\nb'],
    ['a 10 000 character kid', 'k'.repeat(10_000)],
    ['an empty kid', ''],
  ] as const) {
    it(`refuses ${name} before any key lookup`, async () => {
      await rejects(signed(header({ kid }), claims()), ['ERR_BEARER_TOKEN_MALFORMED']);
    });
  }
});

describe('createBearerVerifier: claim edge cases', () => {
  const invalid: [string, Record<string, unknown>][] = [
    ['no exp', { exp: undefined }],
    ['exp as a string', { exp: String(now() + 300) }],
    ['exp negative', { exp: -1 }],
    ['exp null', { exp: null }],
    ['exp past the clock tolerance', { exp: now() - 31 }],
    ['nbf in the future', { nbf: now() + 120 }],
    ['iat in the future', { iat: now() + 120 }],
    ['iat as a string', { iat: 'yesterday' }],
    ['no aud', { aud: undefined }],
    ['an empty aud array', { aud: [] }],
    ['aud in another case', { aud: 'HTTPS://API.TEST' }],
    ['aud as an object', { aud: { 0: 'https://api.test' } }],
    ['aud array with a non-string', { aud: ['https://api.test', 1] }],
    ['no iss', { iss: undefined }],
    ['iss with a trailing slash', { iss: 'ISSUER/' }],
    ['iss as an array', { iss: ['ISSUER'] }],
    ['iss toString', { iss: 'toString' }],
    ['iss __proto__', { iss: '__proto__' }],
    ['iss constructor', { iss: 'constructor' }],
    ['sub as a number', { sub: 42 }],
    ['client_id as an object', { client_id: {} }],
    ['a cnf claim with no proof-of-possession configured', { cnf: { jkt: 'abc' } }],
  ];
  for (const [name, extra] of invalid) {
    it(`refuses ${name}`, async () => {
      const patched = Object.fromEntries(
        Object.entries(extra).map(([k, v]) => [
          k,
          v === 'ISSUER/' ? `${rs.issuer}/` : Array.isArray(v) && v[0] === 'ISSUER' ? [rs.issuer] : v,
        ]),
      );
      const body = claims(patched);
      for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
      await rejects(signed(header(), body), ['ERR_BEARER_TOKEN_INVALID', 'ERR_BEARER_TOKEN_EXPIRED']);
    });
  }

  it('refuses exp written as 1e400 (Infinity) in the raw JSON', async () => {
    const raw = JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400');
    await rejects(rs.signRaw(JSON.stringify(header()), raw), 'ERR_BEARER_TOKEN_MALFORMED');
  });

  it('accepts exp just inside the clock tolerance', async () => {
    await expect(verifier.verify(signed(header(), claims({ exp: now() - 5 })))).resolves.toBeDefined();
  });

  it('accepts aud as an array containing the audience', async () => {
    await expect(verifier.verify(signed(header(), claims({ aud: ['x', rs.audience] })))).resolves.toBeDefined();
  });

  it('refuses a token older than maxTokenAgeSeconds', async () => {
    const strict = createBearerVerifier({
      issuer: rs.issuer,
      audience: rs.audience,
      algorithms: ['RS256'],
      keys: staticJwks(rs.jwks()),
      maxTokenAgeSeconds: 60,
    });
    await rejects(signed(header(), claims({ iat: now() - 600 })), 'ERR_BEARER_TOKEN_EXPIRED', strict);
    const noIat = claims();
    delete noIat.iat;
    await rejects(signed(header(), noIat), 'ERR_BEARER_TOKEN_INVALID', strict);
  });

  for (const typ of [undefined, 'JWT', 'jwt', 'dpop+jwt', 'id_token', 'at+jwt+x', 'application/jwt']) {
    it(`refuses typ ${String(typ)} by default (RFC 9068)`, async () => {
      await rejects(signed(header({ typ }), claims()), 'ERR_BEARER_TOKEN_INVALID');
    });
  }

  for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
    it(`accepts typ ${typ}`, async () => {
      await expect(verifier.verify(signed(header({ typ }), claims()))).resolves.toBeDefined();
    });
  }

  it('accepts JWT or no typ for an issuer that opted out, but still refuses other token types', async () => {
    await expect(legacy.verify(signed(header({ typ: 'JWT' }), claims()))).resolves.toBeDefined();
    await expect(legacy.verify(signed(header({ typ: undefined }), claims()))).resolves.toBeDefined();
    await rejects(signed(header({ typ: 'dpop+jwt' }), claims()), 'ERR_BEARER_TOKEN_INVALID', legacy);
  });

  it('refuses a token the revocation hook reports, and answers 503 when the hook fails', async () => {
    const revoking = createBearerVerifier({
      issuer: rs.issuer,
      audience: rs.audience,
      algorithms: ['RS256'],
      keys: staticJwks(rs.jwks()),
      isRevoked: ({ jti }) => {
        if (jti === 'boom') throw new Error('store down');
        return jti === MARKER;
      },
    });
    await rejects(signed(header(), claims()), 'ERR_BEARER_TOKEN_REVOKED', revoking);
    const error = await revoking.verify(signed(header(), claims({ jti: 'boom' }))).catch((e: unknown) => e);
    expect((error as BearerError).code).toBe('ERR_BEARER_REVOCATION_UNAVAILABLE');
    expect(revoking.toResponse(error).status).toBe(503);
    await expect(revoking.verify(signed(header(), claims({ jti: 'fine' })))).resolves.toBeDefined();
  });

  it('refuses, as unavailable, a token whose revocation hook answers anything but true or false', async () => {
    for (const answer of ['revoked', 1, undefined, null, {}]) {
      const sloppy = createBearerVerifier({
        issuer: rs.issuer,
        audience: rs.audience,
        algorithms: ['RS256'],
        keys: staticJwks(rs.jwks()),
        isRevoked: () => answer as unknown as boolean,
      });
      const error = await sloppy.verify(signed(header(), claims())).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_BEARER_REVOCATION_UNAVAILABLE', retryable: true });
    }
  });

  it('refuses issuer-only options at the top level next to issuers, where they would be ignored', () => {
    for (const extra of [{ requiredClaims: ['tenant_id'] }, { audience: 'x' }, { requireAccessTokenType: false }]) {
      expect(() =>
        createBearerVerifier({
          issuers: {
            [rs.issuer]: { audience: rs.audience, algorithms: ['RS256'], keys: staticJwks(rs.jwks()) },
          },
          ...extra,
        } as never),
      ).toThrow(expect.objectContaining({ code: 'ERR_BEARER_INVALID_OPTIONS' }));
    }
  });

  it('answers 503 instead of hanging when the revocation hook never answers', async () => {
    const hanging = createBearerVerifier({
      issuer: rs.issuer,
      audience: rs.audience,
      algorithms: ['RS256'],
      keys: staticJwks(rs.jwks()),
      isRevoked: () => new Promise<boolean>(() => {}),
      revocationTimeoutMs: 50,
    });
    const error = await hanging.verify(signed(header(), claims())).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_BEARER_REVOCATION_UNAVAILABLE', retryable: true });
  });

  it('asks the revocation hook about the iat the token was issued with, even when a step changes the claims', async () => {
    const seen: (number | undefined)[] = [];
    const verifier = createBearerVerifier({
      issuer: rs.issuer,
      audience: rs.audience,
      algorithms: ['RS256'],
      keys: staticJwks(rs.jwks()),
      steps: [
        {
          name: 'rewrites iat',
          run: (context) => {
            (context.claims as { iat?: unknown }).iat = 42;
          },
        },
      ],
      isRevoked: ({ iat }) => {
        seen.push(iat);
        return false;
      },
    });
    const issued = claims();
    await verifier.verify(signed(header(), issued));
    expect(seen).toEqual([issued.iat]);
  });
});

describe('createBearerVerifier: malformed and oversized tokens', () => {
  const h = (): string => b64(JSON.stringify(header()));
  const c = (): string => b64(JSON.stringify(claims()));
  const cases: [string, () => string][] = [
    ['an empty string', () => ''],
    ['a single segment', () => 'abc'],
    ['two segments', () => `${h()}.${c()}`],
    ['four segments', () => `${h()}.${c()}.a.b`],
    ['five segments (JWE)', () => `${h()}.a.b.c.d`],
    ['empty segments', () => '..'],
    ['padding in a segment', () => `${h()}=.${c()}.abcd`],
    ['standard base64 characters', () => `${h()}.${c()}+/.abcd`],
    ['a whitespace inside', () => `${h()}. ${c()}.abcd`],
    ['a header that is not JSON', () => `${b64('{alg:RS256}')}.${c()}.abcd`],
    ['a header that is an array', () => `${b64('["RS256"]')}.${c()}.abcd`],
    ['a claims set that is an array', () => rs.signRaw(JSON.stringify(header()), '[1]')],
    ['a claims set that is a string', () => rs.signRaw(JSON.stringify(header()), '"x"')],
    ['a claims set that is null', () => rs.signRaw(JSON.stringify(header()), 'null')],
    ['a claims set with a BOM', () => rs.signRaw(JSON.stringify(header()), `\uFEFF${JSON.stringify(claims())}`)],
    ['a claims set with trailing data', () => rs.signRaw(JSON.stringify(header()), `${JSON.stringify(claims())}x`)],
    ['invalid UTF-8 in the claims set', () => `${h()}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.abcd`],
    ['a JWS JSON serialization', () => JSON.stringify({ payload: c(), signatures: [] })],
    ['a token larger than 8 KB', () => signed(header(), claims({ pad: 'x'.repeat(9000) }))],
    [
      'a duplicate alg in the header',
      () => rs.signRaw('{"alg":"RS256","alg":"none","typ":"at+jwt"}', JSON.stringify(claims())),
    ],
    [
      'a duplicate member in the claims set',
      () => rs.signRaw(JSON.stringify(header()), JSON.stringify(claims()).replace('{', `{"aud":"https://evil.test",`)),
    ],
    [
      'a duplicate scope via an escaped name',
      () =>
        rs.signRaw(
          JSON.stringify(header()),
          JSON.stringify(claims({ scope: 'a' })).replace('{', '{"\\u0073cope":"admin",'),
        ),
    ],
    [
      'a __proto__ member in the claims',
      () => rs.signRaw(JSON.stringify(header()), JSON.stringify(claims()).replace('{', '{"__proto__":{"admin":true},')),
    ],
    [
      'a nested __proto__ member',
      () => rs.signRaw(JSON.stringify(header()), JSON.stringify(claims()).replace('{', '{"x":{"__proto__":{}},')),
    ],
    [
      'claims nested 100 levels deep',
      () =>
        rs.signRaw(
          JSON.stringify(header()),
          JSON.stringify(claims()).replace('{', `{"d":${'['.repeat(100)}${']'.repeat(100)},`),
        ),
    ],
    ['a crit header', () => signed(header({ crit: ['exp'], exp: 1 }), claims())],
    ['b64 false', () => signed(header({ b64: false, crit: ['b64'] }), claims())],
    ['an enc header', () => signed(header({ enc: 'A256GCM' }), claims())],
    [
      'a non-canonical base64url signature',
      () => {
        const token = signed(header(), claims());
        const last = token.at(-1) as string;
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        return token.slice(0, -1) + alphabet[alphabet.indexOf(last) ^ 1];
      },
    ],
  ];
  for (const [name, make] of cases) {
    it(`refuses ${name}`, async () => {
      await rejects(make(), ['ERR_BEARER_TOKEN_MALFORMED', 'ERR_BEARER_TOKEN_INVALID']);
    });
  }

  it('refuses a non-string token passed to verify(), with or without introspection', async () => {
    const as = await startIntrospectionServer();
    try {
      const introspection = {
        endpoint: as.url,
        issuer: 'https://as.test',
        clientId: 'api',
        authentication: { method: 'client_secret_basic', clientSecret: ['intro', 'spection'].join('-') },
        audience: 'https://api.test',
      } as const;
      const hybrid = createBearerVerifier({
        issuer: rs.issuer,
        audience: rs.audience,
        algorithms: ['RS256'],
        keys: staticJwks(rs.jwks()),
        introspection,
      });
      const introspectionOnly = createBearerVerifier({ introspection });
      for (const using of [verifier, hybrid, introspectionOnly]) {
        for (const value of [undefined, null, 42, {}, ['a.b.c'], { length: 3, indexOf: () => 1 }]) {
          const error = await using.verify(value as unknown as string).catch((e: unknown) => e);
          expect(error).toMatchObject({ code: 'ERR_BEARER_TOKEN_MALFORMED' });
          expect(using.toResponse(error).status).toBe(401);
        }
      }
      expect(as.calls.length).toBe(0);
    } finally {
      await as.close();
    }
  });

  it('refuses a truncated signature', async () => {
    const token = signed(header(), claims());
    await rejects(token.slice(0, -10), ['ERR_BEARER_TOKEN_INVALID', 'ERR_BEARER_TOKEN_MALFORMED']);
  });

  it('refuses a signature copied from another token', async () => {
    const a = signed(header(), claims());
    const b = signed(header(), claims({ sub: 'admin' }));
    const [h, p] = b.split('.') as [string, string];
    await rejects(`${h}.${p}.${a.split('.')[2]}`, 'ERR_BEARER_TOKEN_INVALID');
  });

  it('refuses a flipped payload bit under a valid signature', async () => {
    const token = signed(header(), claims({ scope: 'orders:read' }));
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = Buffer.from(p, 'base64url').toString().replace('orders:read', 'orders:reae');
    await rejects(`${h}.${Buffer.from(payload).toString('base64url')}.${s}`, 'ERR_BEARER_TOKEN_INVALID');
  });

  it('keeps lone surrogates and odd Unicode as data, never as structure', async () => {
    const raw = JSON.stringify(claims()).replace('{', '{"note":"\\ud800 \u202e",');
    const result = await verifier.verify(rs.signRaw(JSON.stringify(header()), raw));
    expect(typeof result.claims.note).toBe('string');
  });

  it('refuses a token with a flipped signature bit', async () => {
    const token = signed(header(), claims());
    const [a, b, s] = token.split('.') as [string, string, string];
    const bytes = Buffer.from(s, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 1;
    await rejects(`${a}.${b}.${bytes.toString('base64url')}`, 'ERR_BEARER_TOKEN_INVALID');
  });

  it('refuses an oversized Authorization header as a bad request or invalid token, never a 500', async () => {
    const request = new Request('http://x/', { headers: { authorization: `Bearer ${'a'.repeat(70_000)}` } });
    const error = await verifier.authenticate(fromWebRequest(request)).catch((e: unknown) => e);
    expect(verifier.toResponse(error).status).toBe(401);
  });

  for (const [name, value] of [
    ['a tab after the scheme', 'Bearer\tabc'],
    ['a comma-joined second token', 'Bearer abc, Bearer def'],
    ['quotes around the token', 'Bearer "abc"'],
    ['a non-ASCII token', 'Bearer ábc'],
    ['a token68 with inner padding', 'Bearer ab=c'],
  ] as const) {
    it(`answers 400 for ${name} in the Authorization header`, async () => {
      const request = new Request('http://x/', { headers: { authorization: value } });
      const error = await verifier.authenticate(fromWebRequest(request)).catch((e: unknown) => e);
      expect(verifier.toResponse(error).status).toBe(400);
    });
  }
});

describe('createBearerVerifier: scope tricks', () => {
  const route = (all: string[]) => ({ scopes: { all } });
  const check = async (extra: Record<string, unknown>, need: string[], using = verifier): Promise<number> => {
    const request = new Request('http://x/', {
      headers: { authorization: `Bearer ${signed(header(), claims(extra))}` },
    });
    return using
      .authenticate(fromWebRequest(request), route(need))
      .then(() => 200)
      .catch((e: unknown) => using.toResponse(e).status);
  };

  it('does not match a scope by prefix, suffix or case', async () => {
    expect(await check({ scope: 'orders:readx' }, ['orders:read'])).toBe(403);
    expect(await check({ scope: 'xorders:read' }, ['orders:read'])).toBe(403);
    expect(await check({ scope: 'ORDERS:READ' }, ['orders:read'])).toBe(403);
  });

  it('does not split scopes on commas or other whitespace', async () => {
    expect(await check({ scope: 'orders:read,admin' }, ['admin'])).toBe(403);
    expect(await check({ scope: 'orders:read\tadmin' }, ['admin'])).toBe(401);
    expect(await check({ scope: 'orders:read\nadmin' }, ['admin'])).toBe(401);
  });

  it('tolerates repeated spaces between scopes', async () => {
    expect(await check({ scope: '  orders:read   admin ' }, ['admin', 'orders:read'])).toBe(200);
  });

  it('refuses a scope claim that is an array, object or number (RFC 9068 wants a string)', async () => {
    expect(await check({ scope: ['admin'] }, ['admin'])).toBe(401);
    expect(await check({ scope: { admin: true } }, ['admin'])).toBe(401);
    expect(await check({ scope: 1 }, ['admin'])).toBe(401);
  });

  it('refuses an scp array with non-string members', async () => {
    expect(await check({ scp: ['admin', { x: 1 }] }, ['admin'])).toBe(401);
  });

  it('reads scp arrays', async () => {
    expect(await check({ scp: ['admin'] }, ['admin'])).toBe(200);
  });

  it('ignores permissions and roles unless configured', async () => {
    expect(await check({ permissions: ['admin'], roles: ['admin'] }, ['admin'])).toBe(403);
    const roles = createBearerVerifier({
      issuer: rs.issuer,
      audience: rs.audience,
      algorithms: ['RS256'],
      keys: staticJwks(rs.jwks()),
      scopeClaims: ['scope', 'roles'],
    });
    expect(await check({ roles: ['admin'] }, ['admin'], roles)).toBe(200);
  });

  it('never matches object-prototype names as scopes', async () => {
    expect(await check({ scope: 'read' }, ['constructor'])).toBe(403);
    expect(await check({ scope: 'read' }, ['__proto__'])).toBe(403);
    expect(await check({ scope: 'read' }, ['toString'])).toBe(403);
  });

  it('refuses a route declaration with an invalid scope token', () => {
    for (const bad of ['a b', 'a"b', 'a\\b', '', 'é']) {
      expect(() => verifier.route({ scopes: { all: [bad] } })).toThrow(
        expect.objectContaining({ code: 'ERR_BEARER_INVALID_OPTIONS' }),
      );
    }
    expect(() => verifier.route({ scopes: { any: [] } })).toThrow(BearerError);
  });
});

describe('createBearerVerifier: properties', () => {
  it('rejects every single-character mutation of a valid token with a 4xx, never accepting it', async () => {
    const token = signed(header(), claims());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    await fc.assert(
      fc.asyncProperty(fc.nat(token.length - 1), fc.constantFrom(...alphabet), async (index, replacement) => {
        fc.pre(token[index] !== replacement);
        const mutated = token.slice(0, index) + replacement + token.slice(index + 1);
        const outcome = await verifier.verify(mutated).then(
          () => 'accepted',
          (error: unknown) => verifier.toResponse(error).status,
        );
        // A change in the unused low bits of a segment's last character is refused as non-canonical.
        expect(outcome).not.toBe('accepted');
        expect([400, 401]).toContain(outcome);
      }),
      { numRuns: 150 },
    );
  });

  it('answers every arbitrary Authorization header with 400 or 401, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (value) => {
        const request = { method: 'GET', authorization: [value], header: () => undefined };
        const status = await verifier.authenticate(request).then(
          () => 200,
          (error: unknown) => verifier.toResponse(error).status,
        );
        expect([400, 401]).toContain(status);
      }),
      { numRuns: 300 },
    );
  });
});
