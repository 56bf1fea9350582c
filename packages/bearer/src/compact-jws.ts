import { isUtf8 } from 'node:buffer';
import { BearerError } from './errors.ts';
import { isJsonObject, type JsonObject, type JsonValue, parseStrictJson } from './strict-json.ts';

/**
 * The asymmetric JWS algorithms a verifier may allow. `none` and HMAC are never accepted here.
 *
 * @example
 * ```ts
 * import { ASYMMETRIC_ALGORITHMS } from '@rampart/bearer';
 * ASYMMETRIC_ALGORITHMS.includes('RS256'); // true; 'HS256' and 'none' are not there
 * ```
 */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** One of {@link ASYMMETRIC_ALGORITHMS}. */
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Header members that carry or point to key material: trusting them lets the token pick its own key. */
const KEY_MATERIAL_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;
/** Members that only make sense in a JWE: their presence means this is not a JWS. */
const JWE_HEADERS = ['enc', 'zip', 'epk', 'apu', 'apv', 'iv', 'tag', 'p2s', 'p2c'] as const;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const MAX_KID_LENGTH = 256;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** A compact JWS that passed every structural check; nothing in it is verified yet. */
export interface ParsedCompactJws {
  readonly header: JsonObject;
  /** The ASCII `header.payload` part the signature covers. */
  readonly signingInput: string;
  /** The third segment, base64url (checked canonical, not decoded). */
  readonly signature: string;
  readonly payload: JsonObject;
  readonly alg: string;
  readonly kid: string | undefined;
  readonly typ: string | undefined;
}

/** Limits for {@link parseCompactJws}. */
export interface ParseLimits {
  /** Largest accepted token in bytes. */
  readonly maxTokenBytes: number;
  /**
   * Allow a `jwk` header member (DPoP proofs carry their public key this way, RFC 9449 §4.2).
   * `jku`, `x5u` and `x5c` stay refused.
   */
  readonly embeddedJwk?: boolean;
}

const malformed = (message: string): BearerError => new BearerError('ERR_BEARER_TOKEN_MALFORMED', message);

/**
 * Decodes base64url strictly: alphabet only, no padding, and canonical (the unused low bits of
 * the last character are zero), so one payload has exactly one encoding.
 */
function checkSegment(segment: string, name: string): void {
  const rest = segment.length % 4;
  if (rest === 1 || !BASE64URL.test(segment)) {
    throw malformed(`The token's ${name} segment is not base64url. Send the token exactly as the issuer minted it.`);
  }
  // Canonical iff the bits of the last character that fall past the final byte are zero.
  if (rest !== 0) {
    const last = BASE64URL_ALPHABET.indexOf(segment[segment.length - 1] as string);
    if ((last & (rest === 2 ? 0x0f : 0x03)) !== 0) {
      throw malformed(`The token's ${name} segment is not canonical base64url.`);
    }
  }
}

function decodeJsonObject(segment: string, name: string): JsonObject {
  checkSegment(segment, name);
  const bytes = Buffer.from(segment, 'base64url');
  // isUtf8 (simdutf) + toString is several times cheaper than a fatal TextDecoder.
  if (!isUtf8(bytes)) throw malformed(`The token's ${name} is not UTF-8.`);
  let value: ReturnType<typeof parseStrictJson>;
  try {
    value = parseStrictJson(bytes.toString('utf8'));
  } catch {
    throw malformed(
      `The token's ${name} is not strict JSON (UTF-8, no duplicate or __proto__ members, finite numbers).`,
    );
  }
  if (!isJsonObject(value)) throw malformed(`The token's ${name} is not a JSON object.`);
  return value;
}

/**
 * Structural checks done before any key lookup or signature check: size, exactly one compact JWS
 * (three segments, no JWE, no JSON serialization), canonical base64url, strict JSON, an `alg`
 * from `allowedAlgorithms`, no key material in the header, no `crit`, no unencoded payload.
 */
export function parseCompactJws(
  token: string,
  allowedAlgorithms: ReadonlySet<string>,
  limits: ParseLimits,
): ParsedCompactJws {
  if (typeof token !== 'string') throw malformed('The token is not a string.');
  if (token.length > limits.maxTokenBytes) {
    throw malformed(`The token is larger than maxTokenBytes (${limits.maxTokenBytes}).`);
  }
  const segments = token.split('.');
  if (segments.length === 5) throw malformed('The token is a JWE; only signed JWT access tokens are accepted.');
  if (segments.length !== 3) throw malformed('The token is not a compact JWS (three dot-separated segments).');
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
  if (headerSegment === '' || payloadSegment === '') throw malformed('The token has an empty header or payload.');
  if (signatureSegment === '') throw malformed('The token is unsigned; unsecured JWTs are never accepted.');
  // The signature bytes are decoded by jose; here only its encoding is checked.
  checkSegment(signatureSegment, 'signature');

  const header = decodeJsonObject(headerSegment, 'header');
  const alg = header.alg;
  if (typeof alg !== 'string') throw malformed('The token header has no "alg".');
  if (!allowedAlgorithms.has(alg)) {
    throw new BearerError(
      'ERR_BEARER_TOKEN_INVALID',
      'The token header "alg" is not in this issuer\'s algorithms allowlist.',
    );
  }
  for (const member of JWE_HEADERS) {
    if (Object.hasOwn(header, member)) throw malformed('The token header has JWE members; only JWS is accepted.');
  }
  for (const member of KEY_MATERIAL_HEADERS) {
    if (member === 'jwk' && limits.embeddedJwk === true) continue;
    if (Object.hasOwn(header, member)) {
      throw malformed(
        `The token header carries "${member}": keys are only taken from the configured JWKS, never from a token.`,
      );
    }
  }
  if (Object.hasOwn(header, 'crit')) throw malformed('The token header has "crit": no JWS extensions are supported.');
  if (Object.hasOwn(header, 'b64')) throw malformed('The token header has "b64": unencoded payloads are refused.');
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH || !PRINTABLE_ASCII.test(kid))) {
    throw malformed(`The token header "kid" must be printable ASCII of at most ${MAX_KID_LENGTH} characters.`);
  }
  const typ = header.typ;
  if (typ !== undefined && typeof typ !== 'string') throw malformed('The token header "typ" is not a string.');

  const payload = decodeJsonObject(payloadSegment, 'claims set');
  return {
    header,
    payload,
    alg,
    kid,
    typ,
    signingInput: `${headerSegment}.${payloadSegment}`,
    signature: signatureSegment,
  };
}

/** Makes a parsed JSON value immutable (for values shared between requests). */
export function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

/** `at+jwt` and `application/at+jwt` (any case) per RFC 9068 §2.1. */
export function isAccessTokenType(typ: string | undefined): boolean {
  if (typ === undefined) return false;
  const lower = typ.toLowerCase();
  return lower === 'at+jwt' || lower === 'application/at+jwt';
}

/** Types a legacy issuer may use for access tokens when `requireAccessTokenType` is off. */
export function isLegacyAccessTokenType(typ: string | undefined): boolean {
  if (typ === undefined) return true;
  const lower = typ.toLowerCase();
  return lower === 'jwt' || lower === 'application/jwt' || isAccessTokenType(typ);
}
