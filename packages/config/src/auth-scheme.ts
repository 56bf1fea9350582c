/**
 * HTTP authentication schemes written in front of a secret (RFC 9110 §11.4): `Bearer <token>`
 * (RFC 6750) and `Basic <base64 of user:password>` (RFC 7617). The scheme name is format, not key
 * material: the rules measure the credential after it.
 */
import { decodeUtf8, sniffedTexts } from './secret-encoding.ts';

// The scheme name in any case, then one or more spaces (RFC 9110's `1*SP`).
const SCHEME_PREFIX = /^(bearer|basic) +/i;

// Passwords that mean the token is the user name, in a URL's userinfo and in `Basic` alike: none
// (Stripe's `sk_live_…:`), or GitHub's fixed `x-oauth-basic` (`ghp_…:x-oauth-basic`).
const TOKEN_IN_USER_PASSWORDS: ReadonlySet<string> = new Set(['', 'x-oauth-basic']);

/** The secret of a `user:password` pair: the password, or the user when the password says the token is there. */
export function userinfoSecret(user: string, password: string): string {
  return TOKEN_IN_USER_PASSWORDS.has(password.toLowerCase()) ? user : password;
}

/**
 * Base64 of `user:password` (a Docker `auth`) split in its two parts: canonical base64 of UTF-8
 * text without control characters, with a non-empty user before the first `:`; undefined for any
 * other value. Strict, as such a value has no prefix to say it is one.
 */
export function basicCredentials(value: string): { readonly user: string; readonly password: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(value, 'base64');
  const text = bytes.toString('base64') === value ? decodeUtf8(bytes) : undefined;
  const colon = text?.indexOf(':') ?? -1;
  if (text === undefined || colon <= 0 || /[\p{Cc}]/u.test(text)) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The UTF-8 text of base64 read as Node's Buffer and HTTP servers read the credentials of `Basic`
 * (the basic-auth package Express uses takes `[A-Za-z0-9._~+/-]+=*` and hands it to Buffer): any
 * number of `=` (or none), non-zero trailing bits ignored, the URL-safe `-` and `_` taken for `+`
 * and `/`, `.` and `~` skipped; undefined when it is not base64 of UTF-8 text.
 */
function lenientBase64Text(value: string): string | undefined {
  if (!/^[A-Za-z0-9._~+/-]+=*$/.test(value)) return undefined;
  const bare = value.replace(/=+$/, '').replace(/[.~]/g, '');
  // A lone last character carries no byte.
  if (bare.length % 4 === 1) return undefined;
  return decodeUtf8(Buffer.from(bare, 'base64'));
}

/** What follows a scheme prefix: the secret the rules measure, and the user beside it, for `Basic`. */
export interface SchemeCredential {
  readonly scheme: 'bearer' | 'basic';
  /**
   * `Bearer`: the token. `Basic`: the password of the `user:password` its base64 decodes to (the
   * user when the password is empty or `x-oauth-basic`), the decoded text when that has no `:`,
   * the text after the prefix when it is no base64 of text.
   */
  readonly secret: string;
  /** The account name of a `Basic` pair whose password is the secret: no key material. */
  readonly user?: string;
  /** True for a `Basic` value that decodes to `user:password`. */
  readonly pair: boolean;
}

/**
 * The credential after a `Bearer ` or `Basic ` prefix (any case, one or more spaces), or undefined
 * without one. After `Basic`, base64 is decoded as servers decode it (see {@link lenientBase64Text})
 * and a control character in the password is part of the password. `Bearer` alone, or a scheme
 * after whitespace, is no prefix.
 */
function schemeCredential(value: string): SchemeCredential | undefined {
  const prefix = SCHEME_PREFIX.exec(value);
  if (prefix === null) return undefined;
  const rest = value.slice(prefix[0].length);
  if (prefix[1]?.toLowerCase() === 'bearer') return { scheme: 'bearer', secret: rest, pair: false };
  const text = lenientBase64Text(rest);
  if (text === undefined) return { scheme: 'basic', secret: rest, pair: false };
  const colon = text.indexOf(':');
  if (colon < 0) return { scheme: 'basic', secret: text, pair: false };
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  const secret = userinfoSecret(user, password);
  return secret === password ? { scheme: 'basic', secret, user, pair: true } : { scheme: 'basic', secret, pair: true };
}

/**
 * The credential of a value written with a scheme prefix, or of the first text it strictly decodes
 * to that is (base64 or hex of `Bearer <token>`: see {@link sniffedTexts}); undefined for any other.
 */
export function schemeCredentialIn(value: string): SchemeCredential | undefined {
  return (
    schemeCredential(value) ??
    sniffedTexts(value)
      .map(schemeCredential)
      .find((found) => found !== undefined)
  );
}

/** The secret of a `Basic <base64 of user:password>` value (see {@link SchemeCredential.secret}), or undefined for any other value. */
export function basicSecret(value: string): string | undefined {
  const credential = schemeCredential(value);
  return credential?.scheme === 'basic' && credential.pair ? credential.secret : undefined;
}

/**
 * What the rules measure of a secret: the credential after a scheme prefix, written on the value
 * or on a text it strictly decodes to (see {@link schemeCredentialIn}); the value itself without one.
 */
export function credentialAfterScheme(value: string): string {
  return schemeCredentialIn(value)?.secret ?? value;
}
