/**
 * HTTP authentication schemes written in front of a secret (RFC 9110 §11.4): `Bearer <token>`
 * (RFC 6750) and `Basic <base64 of user:password>` (RFC 7617). The scheme name is format, not key
 * material: the rules measure the credential after it.
 */
import { decodeUtf8 } from './secret-encoding.ts';

// The scheme name in any case, then one or more spaces (RFC 9110's `1*SP`).
const SCHEME_PREFIX = /^(bearer|basic) +/i;

/**
 * Base64 of `user:password` (a Docker `auth`, the credentials of `Basic`) split in its two parts:
 * canonical base64 of UTF-8 text without control characters, with a non-empty user before the first
 * `:`; undefined for any other value.
 */
export function basicCredentials(value: string): { readonly user: string; readonly password: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(value, 'base64');
  const text = bytes.toString('base64') === value ? decodeUtf8(bytes) : undefined;
  const colon = text?.indexOf(':') ?? -1;
  if (text === undefined || colon <= 0 || /[\p{Cc}]/u.test(text)) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The password of a `Basic <base64 of user:password>` value, or undefined for any other value. */
export function basicPassword(value: string): string | undefined {
  const prefix = SCHEME_PREFIX.exec(value);
  if (prefix === null || prefix[1]?.toLowerCase() !== 'basic') return undefined;
  return basicCredentials(value.slice(prefix[0].length))?.password;
}

/**
 * What the rules measure of a secret: the token after a `Bearer ` prefix; for `Basic `, the password
 * the base64 after it carries, or the text after the prefix when that is no `user:password`; the
 * value itself without a prefix. `Bearer` alone, or a scheme after whitespace, is no prefix.
 */
export function credentialAfterScheme(value: string): string {
  const prefix = SCHEME_PREFIX.exec(value);
  if (prefix === null) return value;
  const rest = value.slice(prefix[0].length);
  return (prefix[1]?.toLowerCase() === 'basic' ? basicCredentials(rest)?.password : undefined) ?? rest;
}
