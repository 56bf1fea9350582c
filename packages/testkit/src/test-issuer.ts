import { createSign, KeyObject, randomUUID, sign as signOneShot } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { TestkitError } from './errors.ts';
import { refuseInProduction } from './production-guard.ts';

/** Algorithms a {@link TestIssuer} can sign with. */
export type TestIssuerAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

/** Options of {@link createTestIssuer}. */
export interface CreateTestIssuerOptions {
  /** Signing algorithm. Default `RS256`. */
  readonly algorithm?: TestIssuerAlgorithm;
  /** Default `aud` of minted tokens. Default `https://api.test`. */
  readonly audience?: string;
}

/** Claims and header tweaks for {@link TestIssuer.mint}. */
export interface MintOptions {
  /** Claims merged over the defaults (`iss`, `aud`, `sub`, `client_id`, `iat`, `exp`, `jti`). `undefined` removes one. */
  readonly claims?: Record<string, unknown>;
  /** Space-joined into `scope`. */
  readonly scopes?: readonly string[];
  /** Lifetime in seconds. Default 300. */
  readonly expiresInSeconds?: number;
  /** Header members merged over `{ alg, kid, typ: 'at+jwt' }`. `undefined` removes one. */
  readonly header?: Record<string, unknown>;
}

/** A loopback authorization server stand-in: a JWKS endpoint and token minting. */
export interface TestIssuer {
  /** The `iss` of minted tokens (the server's base URL). */
  readonly issuer: string;
  /** URL of the JWKS endpoint. */
  readonly jwksUri: string;
  /** Default audience of minted tokens. */
  readonly audience: string;
  readonly algorithm: TestIssuerAlgorithm;
  /** `kid` of the current signing key. */
  readonly kid: string;
  /** How many times the JWKS endpoint was requested. */
  readonly jwksRequests: number;
  /** Mints a signed access token (RFC 9068 `typ: at+jwt` by default). */
  mint(options?: MintOptions): Promise<string>;
  /** Signs raw header and payload JSON text exactly as given (for malformed-JSON tests). */
  signRaw(headerJson: string, payloadJson: string): string;
  /** New signing key; the old one stays published unless `dropPrevious`. */
  rotate(options?: { dropPrevious?: boolean }): Promise<void>;
  /** Simulate an outage: the JWKS endpoint answers 503 (or drops connections with `'reset'`). */
  setJwksAvailable(available: boolean | 'reset'): void;
  /** The published key set. */
  jwks(): { keys: JWK[] };
  /** Stops the server. */
  close(): Promise<void>;
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

async function newKey(algorithm: TestIssuerAlgorithm): Promise<SigningKey> {
  const kid = randomUUID();
  const { privateKey, publicKey } = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: algorithm, use: 'sig' };
  return { kid, privateKey: KeyObject.from(privateKey), publicJwk };
}

function rawSign(algorithm: TestIssuerAlgorithm, key: KeyObject, input: string): Buffer {
  switch (algorithm) {
    case 'EdDSA':
      return signOneShot(null, Buffer.from(input), key);
    case 'ES256':
      return signOneShot('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    case 'ES384':
      return signOneShot('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    case 'PS256':
      return createSign('sha256').update(input).sign({ key, padding: 6, saltLength: 32 });
    default:
      return createSign('sha256').update(input).sign(key);
  }
}

/**
 * Starts a loopback issuer for tests: a JWKS endpoint on 127.0.0.1 and a `mint()` that signs
 * RFC 9068 access tokens, with key rotation and outage simulation. Refuses to run in production.
 *
 * @example
 * ```ts
 * import { createTestIssuer } from '@rampart/testkit';
 * const issuer = await createTestIssuer({ algorithm: 'ES256' });
 * const verifier = createBearerVerifier({ issuer: issuer.issuer, audience: issuer.audience,
 *   algorithms: ['ES256'], jwksUri: issuer.jwksUri });
 * const token = await issuer.mint({ scopes: ['orders:read'] });
 * await issuer.close();
 * ```
 */
export async function createTestIssuer(options: CreateTestIssuerOptions = {}): Promise<TestIssuer> {
  refuseInProduction('createTestIssuer');
  const algorithm = options.algorithm ?? 'RS256';
  if (!['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'].includes(algorithm)) {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      'createTestIssuer(): algorithm must be RS256, PS256, ES256, ES384 or EdDSA.',
    );
  }
  const audience = options.audience ?? 'https://api.test';
  let keys: SigningKey[] = [await newKey(algorithm)];
  let available: boolean | 'reset' = true;
  let jwksRequests = 0;

  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') {
      jwksRequests++;
      if (available === 'reset') {
        req.socket.destroy();
        return;
      }
      if (!available) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const issuer = `http://127.0.0.1:${port}`;
  const current = (): SigningKey => keys[keys.length - 1] as SigningKey;
  const signRaw = (headerJson: string, payloadJson: string): string => {
    const input = `${Buffer.from(headerJson).toString('base64url')}.${Buffer.from(payloadJson).toString('base64url')}`;
    return `${input}.${rawSign(algorithm, current().privateKey, input).toString('base64url')}`;
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    audience,
    algorithm,
    get kid() {
      return current().kid;
    },
    get jwksRequests() {
      return jwksRequests;
    },
    async mint(mintOptions: MintOptions = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: issuer,
        aud: audience,
        sub: 'test-user',
        client_id: 'test-client',
        iat: now,
        exp: now + (mintOptions.expiresInSeconds ?? 300),
        jti: randomUUID(),
        ...(mintOptions.scopes ? { scope: mintOptions.scopes.join(' ') } : {}),
        ...mintOptions.claims,
      };
      const header: Record<string, unknown> = {
        alg: algorithm,
        kid: current().kid,
        typ: 'at+jwt',
        ...mintOptions.header,
      };
      for (const record of [claims, header]) {
        for (const [name, value] of Object.entries(record)) if (value === undefined) delete record[name];
      }
      if (header.alg !== algorithm) {
        return signRaw(JSON.stringify(header), JSON.stringify(claims));
      }
      return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(current().privateKey);
    },
    signRaw,
    async rotate(rotateOptions: { dropPrevious?: boolean } = {}): Promise<void> {
      const next = await newKey(algorithm);
      keys = rotateOptions.dropPrevious ? [next] : [...keys, next];
    },
    setJwksAvailable(value: boolean | 'reset'): void {
      available = value;
    },
    jwks: () => ({ keys: keys.map((key) => ({ ...key.publicJwk })) }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
