import { randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose';
import { accessTokenHash } from './dpop.ts';

/** A client's DPoP key pair (RFC 9449 §4). Keep it for the lifetime of the tokens bound to it. */
export interface DpopKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The proof algorithm, e.g. `ES256` or `EdDSA`. */
  readonly algorithm: string;
}

/** What a proof is for. */
export interface DpopProofRequest {
  readonly method: string;
  /** The full request URL; query and fragment are dropped. */
  readonly url: string;
  /** The access token the request carries (sets `ath`). */
  readonly accessToken?: string;
  /** The latest `DPoP-Nonce` the server sent. */
  readonly nonce?: string;
}

/** Signs DPoP proofs with one key pair. */
export interface DpopProofSigner {
  /** `cnf.jkt` of tokens bound to this key. */
  thumbprint(): Promise<string>;
  proof(request: DpopProofRequest): Promise<string>;
}

/**
 * Creates DPoP proofs (RFC 9449 §4.2) for outbound calls: a fresh `jti` each time, `htm`, `htu`
 * without query and fragment, `iat`, and `ath`/`nonce` when given.
 *
 * @example
 * ```ts
 * import { generateKeyPair } from 'jose';
 * import { dpopProofSigner } from '@rampart/bearer';
 * const signer = dpopProofSigner({ ...(await generateKeyPair('ES256')), algorithm: 'ES256' });
 * const proof = await signer.proof({ method: 'GET', url: 'https://api.example.com/orders', accessToken });
 * ```
 */
export function dpopProofSigner(keys: DpopKeyPair, now: () => number = Date.now): DpopProofSigner {
  let jwk: Promise<JWK> | undefined;
  const publicJwk = (): Promise<JWK> => {
    jwk ??= exportJWK(keys.publicKey).then(({ kty, crv, x, y, n, e }) => {
      // Only the public members: never `d` or other private parts, whatever the key exported.
      const entries = Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined);
      return Object.fromEntries(entries) as JWK;
    });
    return jwk;
  };
  return {
    thumbprint: async () => calculateJwkThumbprint(await publicJwk(), 'sha256'),
    async proof(request) {
      const url = new URL(request.url);
      url.search = '';
      url.hash = '';
      return new SignJWT({
        htm: request.method.toUpperCase(),
        htu: url.href,
        ...(request.accessToken === undefined ? {} : { ath: accessTokenHash(request.accessToken) }),
        ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
      })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: keys.algorithm, jwk: await publicJwk() })
        .setJti(randomUUID())
        .setIssuedAt(Math.floor(now() / 1000))
        .sign(keys.privateKey);
    },
  };
}
