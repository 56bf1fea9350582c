import { constants, KeyObject, type VerifyKeyObjectInput, verify } from 'node:crypto';
import type { AsymmetricAlgorithm } from './compact-jws.ts';

/**
 * The signature step of JWS verification, for keys that jose selected and imported (RFC 7518 §3).
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
  /** The same for node:crypto's one-shot `verify`: digest (null for Ed25519) and key options. */
  readonly digest: string | null;
  readonly keyOptions: Omit<VerifyKeyObjectInput, 'key'>;
}

const rsa = (bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'RSASSA-PKCS1-v1_5',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  params: { name: 'RSASSA-PKCS1-v1_5' },
  digest: `sha${bits}`,
  keyOptions: { padding: constants.RSA_PKCS1_PADDING },
});
const pss = (bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'RSA-PSS',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  params: { name: 'RSA-PSS', saltLength: bits / 8 } as RsaPssParams,
  digest: `sha${bits}`,
  // The exact salt length, as WebCrypto checks it (node's default for verify would accept any).
  keyOptions: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 },
});
const ecdsa = (curve: string, bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'ECDSA',
  namedCurve: curve,
  params: { name: 'ECDSA', hash: `SHA-${bits}` } as EcdsaParams,
  digest: `sha${bits}`,
  // JWS carries R ‖ S (RFC 7518 §3.4), as WebCrypto does.
  keyOptions: { dsaEncoding: 'ieee-p1363' },
});
const ed25519: SigningAlgorithm = { name: 'Ed25519', params: { name: 'Ed25519' }, digest: null, keyOptions: {} };

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

/** The KeyObject of each CryptoKey that was verified with inline, made once per key. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/**
 * Verifies a JWS signature. `signingInput` is the ASCII `header.payload` of the compact form;
 * `signature` its decoded third segment. False for any mismatch, never throws for bad input.
 *
 * `inline: true` verifies on the calling thread with node:crypto's one-shot `verify` instead of
 * WebCrypto, which hands the work to the libuv thread pool and back: for a verification with
 * nothing else in flight the hand-over costs more than it saves (measured on a 2-core box:
 * 15-40 µs per verification). Under concurrency the thread pool lets other cores verify while
 * this thread serves requests, so callers pass `inline` only when they have nothing else in flight.
 * Both paths apply the same key checks first and give the same answers (see the tests).
 */
export async function verifyJwsSignature(
  alg: string,
  key: unknown,
  signingInput: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
  inline = false,
): Promise<boolean> {
  if (!isKeyForAlgorithm(key, alg)) return false;
  const spec = SIGNING[alg as AsymmetricAlgorithm];
  try {
    if (inline) return verifyInline(spec, key, signingInput, signature);
    return await crypto.subtle.verify(spec.params, key, signature, signingInput);
  } catch {
    return false;
  }
}

function verifyInline(
  spec: SigningAlgorithm,
  key: CryptoKey,
  signingInput: Uint8Array,
  signature: Uint8Array,
): boolean {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = KeyObject.from(key);
    keyObjects.set(key, keyObject);
  }
  const input: VerifyKeyObjectInput | KeyObject =
    spec.digest === null ? keyObject : { key: keyObject, ...spec.keyOptions };
  return verify(spec.digest, signingInput, input, signature);
}
