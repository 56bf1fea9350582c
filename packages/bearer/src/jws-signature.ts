import type { AsymmetricAlgorithm } from './compact-jws.ts';

/**
 * The WebCrypto side of JWS verification, for keys that jose selected and imported (RFC 7518 §3).
 * jose's compactVerify would decode and parse the token a second time after our strict parse;
 * doing the last step here keeps one parse per token. The key checks are jose's own
 * (`checkCryptoKey`, `checkModulusLength`): the key must be a public CryptoKey made for exactly
 * this algorithm, so a key can never be used under an algorithm it was not imported for.
 */
interface SigningAlgorithm {
  /** What the CryptoKey's `algorithm` must say. */
  readonly name: string;
  readonly hash?: string;
  readonly namedCurve?: string;
  readonly minRsaBits?: number;
  /** Parameters of `crypto.subtle.verify`. */
  readonly params: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
}

const rsa = (bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'RSASSA-PKCS1-v1_5',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  params: { name: 'RSASSA-PKCS1-v1_5' },
});
const pss = (bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'RSA-PSS',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  params: { name: 'RSA-PSS', saltLength: bits / 8 } as RsaPssParams,
});
const ecdsa = (curve: string, bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'ECDSA',
  namedCurve: curve,
  params: { name: 'ECDSA', hash: `SHA-${bits}` } as EcdsaParams,
});
const ed25519: SigningAlgorithm = { name: 'Ed25519', params: { name: 'Ed25519' } };

const SIGNING: Readonly<Record<AsymmetricAlgorithm, SigningAlgorithm>> = {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: pss(256),
  PS384: pss(384),
  PS512: pss(512),
  ES256: ecdsa('P-256', 256),
  ES384: ecdsa('P-384', 384),
  ES512: ecdsa('P-521', 512),
  EdDSA: ed25519,
  Ed25519: ed25519,
};

/** True when `key` is a public CryptoKey imported for exactly `alg`, able to verify. */
export function isKeyForAlgorithm(key: unknown, alg: string): key is CryptoKey {
  const expected = Object.hasOwn(SIGNING, alg) ? SIGNING[alg as AsymmetricAlgorithm] : undefined;
  if (expected === undefined || !(key instanceof CryptoKey) || key.type !== 'public') return false;
  if (!key.usages.includes('verify')) return false;
  const algorithm = key.algorithm as Partial<RsaHashedKeyAlgorithm & EcKeyAlgorithm>;
  if (algorithm.name !== expected.name) return false;
  if (expected.hash !== undefined && algorithm.hash?.name !== expected.hash) return false;
  if (expected.namedCurve !== undefined && algorithm.namedCurve !== expected.namedCurve) return false;
  if (expected.minRsaBits !== undefined) {
    if (typeof algorithm.modulusLength !== 'number' || algorithm.modulusLength < expected.minRsaBits) return false;
  }
  return true;
}

/**
 * Verifies a JWS signature. `signingInput` is the ASCII `header.payload` of the compact form;
 * `signature` its decoded third segment. False for any mismatch, never throws for bad input.
 */
export async function verifyJwsSignature(
  alg: string,
  key: unknown,
  signingInput: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  if (!isKeyForAlgorithm(key, alg)) return false;
  try {
    return await crypto.subtle.verify(SIGNING[alg as AsymmetricAlgorithm].params, key, signature, signingInput);
  } catch {
    return false;
  }
}
