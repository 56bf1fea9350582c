/** A test DPoP client: a key pair, its thumbprint, and proof minting with every member overridable. */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface ProofOptions {
  readonly method?: string;
  readonly url?: string;
  readonly token?: string;
  /** Claims merged over the defaults; `undefined` removes one. */
  readonly claims?: Record<string, unknown>;
  /** Header members merged over `{ typ: 'dpop+jwt', alg, jwk }`; `undefined` removes one. */
  readonly header?: Record<string, unknown>;
  readonly nonce?: string;
}

export interface DpopClient {
  readonly jwk: JWK;
  readonly privateJwk: JWK;
  readonly thumbprint: string;
  readonly alg: string;
  proof(options?: ProofOptions): Promise<string>;
}

export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

export async function createDpopClient(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256' = 'ES256'): Promise<DpopClient> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
  return {
    jwk,
    privateJwk,
    thumbprint,
    alg,
    async proof(options = {}) {
      const claims: Record<string, unknown> = {
        jti: randomUUID(),
        htm: options.method ?? 'GET',
        htu: options.url ?? 'https://api.test/any-token',
        iat: Math.floor(Date.now() / 1000),
        ...(options.token === undefined ? {} : { ath: ath(options.token) }),
        ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
      };
      for (const [name, value] of Object.entries(options.claims ?? {})) {
        if (value === undefined) delete claims[name];
        else claims[name] = value;
      }
      const header: Record<string, unknown> = { typ: 'dpop+jwt', alg, jwk };
      for (const [name, value] of Object.entries(options.header ?? {})) {
        if (value === undefined) delete header[name];
        else header[name] = value;
      }
      return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(privateKey);
    },
  };
}
