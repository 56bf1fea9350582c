import { randomUUID } from 'node:crypto';
import { type CryptoKey, type KeyObject, SignJWT } from 'jose';
import { ASYMMETRIC_ALGORITHMS } from './compact-jws.ts';
import { isPrivateKeyForAlgorithm } from './jws-signature.ts';

/** How a client authenticates to the authorization server (token or introspection endpoint). */
export type ClientAuthentication =
  | { readonly method: 'client_secret_basic'; readonly clientSecret: string }
  | {
      readonly method: 'private_key_jwt';
      readonly privateKey: CryptoKey | KeyObject;
      /** Signing algorithm of the client assertion, e.g. `RS256`, `ES256`, `EdDSA`. */
      readonly algorithm: string;
      /** `kid` header of the assertion, when the issuer needs it to pick the key. */
      readonly keyId?: string;
      /** `aud` of the assertion. Default the endpoint URL. */
      readonly assertionAudience?: string;
    };

/** Problems with a {@link ClientAuthentication} (empty when fine). */
export function clientAuthenticationProblems(auth: ClientAuthentication | undefined, prefix: string): string[] {
  const problems: string[] = [];
  if (auth?.method === 'client_secret_basic') {
    if (typeof auth.clientSecret !== 'string' || auth.clientSecret === '') {
      problems.push(`${prefix}clientSecret is required for client_secret_basic`);
    }
  } else if (auth?.method === 'private_key_jwt') {
    const algorithm: unknown = auth.algorithm;
    const known = typeof algorithm === 'string' && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm);
    if (!known) {
      problems.push(`${prefix}algorithm must be an asymmetric JWS algorithm (${ASYMMETRIC_ALGORITHMS.join(', ')})`);
    }
    if (auth.privateKey === undefined) {
      problems.push(`${prefix}privateKey is required for private_key_jwt`);
    } else if (known && !isPrivateKeyForAlgorithm(auth.privateKey, algorithm)) {
      // Found at start-up, not as a failed signature on every request later.
      problems.push(
        `${prefix}privateKey does not fit algorithm ${algorithm}: use a private key of its type and curve ` +
          '(RSA at least 2048 bits)',
      );
    }
  } else {
    problems.push(`${prefix}method must be client_secret_basic or private_key_jwt`);
  }
  return problems;
}

/** `application/x-www-form-urlencoded` encoding of one value. */
export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/**
 * Adds client authentication to a form request: an `Authorization: Basic` header (RFC 6749
 * §2.3.1, both parts form-encoded) or a signed client assertion (RFC 7523 `private_key_jwt`).
 */
export async function authenticateClient(
  auth: ClientAuthentication,
  clientId: string,
  endpoint: string,
  params: [string, string][],
  headers: Record<string, string>,
  nowMs: number,
): Promise<void> {
  if (auth.method === 'client_secret_basic') {
    const basic = Buffer.from(`${formEncode(clientId)}:${formEncode(auth.clientSecret)}`).toString('base64');
    headers.authorization = `Basic ${basic}`;
    return;
  }
  const nowSeconds = Math.floor(nowMs / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: auth.algorithm, ...(auth.keyId === undefined ? {} : { kid: auth.keyId }) })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(auth.assertionAudience ?? endpoint)
    .setJti(randomUUID())
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + 60)
    .sign(auth.privateKey);
  params.push(
    ['client_id', clientId],
    ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
    ['client_assertion', assertion],
  );
}
