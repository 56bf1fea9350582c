/**
 * A JWT as `assessSecret` reads it: its `alg`, its signature and what was signed, the signature
 * size its `alg` makes, and whether a documented demo key signed it.
 */
import { createHmac } from 'node:crypto';
import { JWT_DEMO_KEYS } from './known-demo-secrets.ts';

// A compact JWS (RFC 7515 §7.1): three base64url parts, the last the signature (empty for `alg: none`).
const COMPACT_JWS = /^(([A-Za-z0-9_-]{1,4096})\.[A-Za-z0-9_-]{1,65536})\.([A-Za-z0-9_-]{0,4096})$/;

/** A JWT's header `alg` and its signature in base64url (see {@link jwsSignature}). */
export interface CompactJws {
  readonly alg: string;
  readonly signature: string;
  /** The header and payload as written, which the signature signs. */
  readonly signingInput: string;
}

/**
 * The `alg` and signature of a compact JWS whose header is a JSON object with an `alg` (a JWT: an
 * OIDC `id_token`, a Kubernetes service-account token), or undefined for any other value. Its
 * header and payload are structure and claims, which repeat by format (Google's `azp` and `aud`, a
 * service account's `kubernetes.io/serviceaccount/…` claims); only the signature cannot be guessed.
 */
export function jwsSignature(value: string): CompactJws | undefined {
  const parts = COMPACT_JWS.exec(value);
  if (parts === null) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[2] as string, 'base64url').toString('utf8'));
    const alg = typeof header === 'object' && header !== null ? (header as { alg?: unknown }).alg : undefined;
    return typeof alg === 'string'
      ? { alg, signature: parts[3] as string, signingInput: parts[1] as string }
      : undefined;
  } catch {
    return undefined;
  }
}

// The signature sizes of the JWS algorithms (RFC 7518 §3, RFC 8037, RFC 8812): HMAC's hash size,
// ECDSA's two coordinates, Ed25519's 64 bytes (Ed448's 114 reach it too). RSA's is its modulus,
// at least 256 bytes (2048 bits) for a key worth trusting.
const SIGNATURE_BYTES: Readonly<Record<string, number>> = {
  HS256: 32,
  HS384: 48,
  HS512: 64,
  ES256: 64,
  ES256K: 64,
  ES384: 96,
  ES512: 132,
  EdDSA: 64,
  Ed25519: 64,
  Ed448: 114,
  RS256: 256,
  RS384: 256,
  RS512: 256,
  PS256: 256,
  PS384: 256,
  PS512: 256,
};

/**
 * The fewest bytes a signature of `alg` has, or undefined for an algorithm not listed (judged by
 * the kind's length floor). A shorter one is not that algorithm's (a 16-byte "HS256" signature is
 * no HMAC-SHA256), and a longer floor does not apply: the size is the algorithm's, whatever key
 * signed it.
 */
export function jwsSignatureBytes(alg: string): number | undefined {
  return Object.hasOwn(SIGNATURE_BYTES, alg) ? SIGNATURE_BYTES[alg] : undefined;
}

/**
 * True for an unsigned JWT: `alg: none` in any case (RFC 7518 §3.6; a verifier that refuses only
 * the lowercase name lets `None` or `NONE` through), whatever bytes follow it as a signature, or an
 * empty signature under any `alg`.
 */
export function isUnsignedJws({ alg, signature }: CompactJws): boolean {
  return signature === '' || alg.toLowerCase() === 'none';
}

// The hash of each HMAC JWS algorithm (RFC 7518 §3.2).
const HMAC_HASHES: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** True for an HMAC JWT whose signature one of the {@link JWT_DEMO_KEYS} makes. */
export function isDemoSigned({ alg, signingInput }: CompactJws, signed: Buffer): boolean {
  const hash = Object.hasOwn(HMAC_HASHES, alg) ? HMAC_HASHES[alg] : undefined;
  if (hash === undefined) return false;
  return JWT_DEMO_KEYS.some((key) => createHmac(hash, key).update(signingInput).digest().equals(signed));
}
