import { constants, KeyObject, verify } from 'node:crypto';
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
  /** The same for node:crypto's one-shot `verify`: the digest (null for Ed25519)… */
  readonly digest: string | null;
  /** …the exact RSA-PSS salt length, when PSS… */
  readonly pssSaltLength?: number;
  /** …and for ECDSA the size of R and S in the JWS signature (R ‖ S, RFC 7518 §3.4). */
  readonly ecCoordinateBytes?: number;
}

const rsa = (bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'RSASSA-PKCS1-v1_5',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  params: { name: 'RSASSA-PKCS1-v1_5' },
  digest: `sha${bits}`,
});
const pss = (bits: 256 | 384 | 512): SigningAlgorithm => ({
  name: 'RSA-PSS',
  hash: `SHA-${bits}`,
  minRsaBits: 2048,
  params: { name: 'RSA-PSS', saltLength: bits / 8 } as RsaPssParams,
  digest: `sha${bits}`,
  // The exact salt length, as WebCrypto checks it (node's default for verify would accept any).
  pssSaltLength: bits / 8,
});
const ecdsa = (curve: string, bits: 256 | 384 | 512, coordinateBytes: number): SigningAlgorithm => ({
  name: 'ECDSA',
  namedCurve: curve,
  params: { name: 'ECDSA', hash: `SHA-${bits}` } as EcdsaParams,
  digest: `sha${bits}`,
  ecCoordinateBytes: coordinateBytes,
});
const ed25519: SigningAlgorithm = { name: 'Ed25519', params: { name: 'Ed25519' }, digest: null };

const SIGNING: Readonly<Record<AsymmetricAlgorithm, SigningAlgorithm>> = {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: pss(256),
  PS384: pss(384),
  PS512: pss(512),
  ES256: ecdsa('P-256', 256, 32),
  ES384: ecdsa('P-384', 384, 48),
  ES512: ecdsa('P-521', 512, 66),
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

/** node:crypto's names of the JWS curves (`KeyObject.asymmetricKeyDetails.namedCurve`). */
const NODE_CURVES: Readonly<Record<string, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
};

/**
 * True when `key` can sign under `alg` as jose requires: a private CryptoKey made for exactly this
 * algorithm (with the `sign` usage), or a private KeyObject of its type and curve; RSA keys of at
 * least 2048 bits. Checked when options are validated, so a misfit fails at start-up, not per call.
 */
export function isPrivateKeyForAlgorithm(key: unknown, alg: string): boolean {
  const expected = Object.hasOwn(SIGNING, alg) ? SIGNING[alg as AsymmetricAlgorithm] : undefined;
  if (expected === undefined) return false;
  if (key instanceof CryptoKey) {
    if (key.type !== 'private' || !key.usages.includes('sign')) return false;
    const algorithm = key.algorithm as Partial<RsaHashedKeyAlgorithm & EcKeyAlgorithm>;
    if (algorithm.name !== expected.name) return false;
    if (expected.hash !== undefined && algorithm.hash?.name !== expected.hash) return false;
    if (expected.namedCurve !== undefined && algorithm.namedCurve !== expected.namedCurve) return false;
    return expected.minRsaBits === undefined || (algorithm.modulusLength ?? 0) >= expected.minRsaBits;
  }
  if (!(key instanceof KeyObject) || key.type !== 'private') return false;
  const details = key.asymmetricKeyDetails ?? {};
  switch (expected.name) {
    case 'RSASSA-PKCS1-v1_5':
    case 'RSA-PSS':
      // jose signs with a KeyObject through its JWK, which node cannot export for `rsa-pss` keys.
      return key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= (expected.minRsaBits ?? 0);
    case 'ECDSA':
      return key.asymmetricKeyType === 'ec' && details.namedCurve === NODE_CURVES[expected.namedCurve ?? ''];
    default:
      return key.asymmetricKeyType === 'ed25519';
  }
}

/** Token verifications in flight in this process, across every verifier (a DPoP proof is part of its token's). */
let verificationsInFlight = 0;

/** Marks the start of one verification; pair with {@link endVerification} in a `finally`. */
export function beginVerification(): void {
  verificationsInFlight += 1;
}

export function endVerification(): void {
  verificationsInFlight -= 1;
}

/**
 * True when the calling verification is the only one in flight in this process: its signatures
 * are then verified inline (see {@link verifyJwsSignature}); with others in flight they go to
 * WebCrypto on the thread pool, so other cores verify while this thread serves requests.
 */
export function verificationIsAlone(): boolean {
  return verificationsInFlight <= 1;
}

/** The KeyObject of each CryptoKey that was verified inline, made once per key. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/**
 * Verifies a JWS signature. `signingInput` is the ASCII `header.payload` of the compact form;
 * `signature` its decoded third segment. False for any mismatch, never throws for bad input.
 *
 * `inline: true` verifies on the calling thread with node:crypto's one-shot `verify` instead of
 * WebCrypto, which hands the work to the libuv thread pool and back: for a verification with
 * nothing else in flight the hand-over costs more than it saves (measured on a 2-core box:
 * 15-40 µs per verification). Under concurrency the thread pool lets other cores verify while
 * this thread serves requests, so callers pass `inline` only when {@link verificationIsAlone}.
 * Only extractable keys go inline (jose imports JWKS keys extractable; node deprecates making a
 * KeyObject of a non-extractable one). Both paths apply the same key checks first and give the
 * same answers (see the tests).
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
    if (inline && key.extractable) return verifyInline(spec, key, signingInput, signature);
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
  // The KeyObject itself, not `{ key, …options }`: node re-reads the key from an options object
  // (measured: +17 µs per RSA and +42 µs per P-256 verification). So ECDSA signatures are turned
  // into DER here instead of passing `dsaEncoding`; only PSS needs the options form.
  if (spec.pssSaltLength !== undefined) {
    const options = { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pssSaltLength };
    return verify(spec.digest, signingInput, options, signature);
  }
  if (spec.ecCoordinateBytes !== undefined) {
    const der = ecdsaSignatureToDer(signature, spec.ecCoordinateBytes);
    return der !== undefined && verify(spec.digest, signingInput, keyObject, der);
  }
  return verify(spec.digest, signingInput, keyObject, signature);
}

/** One DER INTEGER of an unsigned big-endian value: no redundant leading zeros, positive. */
function derInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const pad = (bytes[start] as number) >= 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + bytes.length - start);
  out[0] = 0x02;
  out[1] = pad + bytes.length - start;
  out.set(bytes.subarray(start), 2 + pad);
  return out;
}

/**
 * A JWS ECDSA signature (R ‖ S, each exactly `coordinateBytes` long) as the DER
 * `SEQUENCE { INTEGER r, INTEGER s }` OpenSSL verifies; undefined for any other length, which
 * WebCrypto refuses too. Exported for tests.
 */
export function ecdsaSignatureToDer(signature: Uint8Array, coordinateBytes: number): Uint8Array | undefined {
  if (signature.length !== 2 * coordinateBytes) return undefined;
  const r = derInteger(signature.subarray(0, coordinateBytes));
  const s = derInteger(signature.subarray(coordinateBytes));
  const length = r.length + s.length;
  // P-521 needs the long form of the length (two INTEGERs of up to 69 bytes each).
  const head = length < 0x80 ? [0x30, length] : [0x30, 0x81, length];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  out.set(r, head.length);
  out.set(s, head.length + r.length);
  return out;
}
