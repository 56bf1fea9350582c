import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildChallenge, toBearerResponse } from './challenge.ts';
import { BearerError, type BearerErrorCode } from './errors.ts';

/** RFC 7235 challenge with RFC 6750 §3 value characters. */
const CHALLENGE = /^Bearer(?: [a-z_]+="[\x20\x21\x23-\x5b\x5d-\x7e]*"(?:, [a-z_]+="[\x20\x21\x23-\x5b\x5d-\x7e]*")*)?$/;

describe('toBearerResponse', () => {
  const cases: [BearerErrorCode, number, string | undefined][] = [
    ['ERR_BEARER_TOKEN_MISSING', 401, undefined],
    ['ERR_BEARER_INVALID_REQUEST', 400, 'invalid_request'],
    ['ERR_BEARER_TOKEN_MALFORMED', 401, 'invalid_token'],
    ['ERR_BEARER_TOKEN_INVALID', 401, 'invalid_token'],
    ['ERR_BEARER_TOKEN_EXPIRED', 401, 'invalid_token'],
    ['ERR_BEARER_TOKEN_REVOKED', 401, 'invalid_token'],
    ['ERR_BEARER_CLAIM_CHECK_FAILED', 403, 'insufficient_scope'],
  ];
  for (const [code, status, error] of cases) {
    it(`maps ${code} to ${status} ${error ?? 'without an error code'}`, () => {
      const response = toBearerResponse(new BearerError(code, 'x'), { realm: 'api' });
      expect(response.status).toBe(status);
      const challenge = response.headers['www-authenticate'] as string;
      expect(challenge).toMatch(CHALLENGE);
      if (error === undefined) expect(challenge).toBe('Bearer realm="api"');
      else expect(challenge).toContain(`error="${error}"`);
    });
  }

  it('adds scope= to insufficient_scope unless disclosure is off', () => {
    const error = new BearerError('ERR_BEARER_INSUFFICIENT_SCOPE', 'x', {
      requiredScopes: ['orders:read', 'orders:write'],
    });
    expect(toBearerResponse(error).headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read orders:write"',
    );
    expect(toBearerResponse(error, { discloseScopes: false }).headers['www-authenticate']).not.toContain('scope=');
  });

  it('answers a retryable token endpoint failure (a step calling out) with 503 and Retry-After, others with 500', () => {
    const retryable = new BearerError('ERR_BEARER_TOKEN_ENDPOINT', 'x', { retryable: true, retryAfterSeconds: 7 });
    const response = toBearerResponse(retryable, { realm: 'api' });
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.headers['www-authenticate']).toBeUndefined();
    expect(toBearerResponse(new BearerError('ERR_BEARER_TOKEN_ENDPOINT', 'x', { retryable: false })).status).toBe(500);
  });

  it('sends Retry-After as whole seconds between 1 and 86400', () => {
    const retryAfter = (seconds: number): string | undefined =>
      toBearerResponse(
        new BearerError('ERR_BEARER_TOKEN_ENDPOINT', 'x', { retryable: true, retryAfterSeconds: seconds }),
      ).headers['retry-after'];
    expect(retryAfter(999_999_999)).toBe('86400');
    expect(retryAfter(1e21)).toBe('86400');
    expect(retryAfter(2.5)).toBe('3');
    expect(retryAfter(0)).toBe('1');
    expect(retryAfter(-3)).toBe('1');
    expect(retryAfter(Number.NaN)).toBe('5');
    expect(retryAfter(Number.POSITIVE_INFINITY)).toBe('86400');
  });

  it('answers 503 with Retry-After and no challenge when keys are unavailable', () => {
    const response = toBearerResponse(new BearerError('ERR_BEARER_KEYS_UNAVAILABLE', 'x', { retryAfterSeconds: 7 }));
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.headers['www-authenticate']).toBeUndefined();
  });

  it('answers 500 without details for anything that is not a BearerError', () => {
    const response = toBearerResponse(new Error('db password is hunter2'));
    expect(response.status).toBe(500);
    expect(response.body).not.toContain('hunter2');
  });

  it('adds resource_metadata (RFC 9728) when configured', () => {
    const response = toBearerResponse(new BearerError('ERR_BEARER_TOKEN_MISSING', 'x'), {
      resourceMetadata: 'https://api.example.com/.well-known/oauth-protected-resource',
    });
    expect(response.headers['www-authenticate']).toBe(
      'Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"',
    );
  });
});

describe('buildChallenge', () => {
  it('never emits a quote, backslash or control character inside a value, whatever it is given', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (realm, description, scope) => {
        expect(buildChallenge({ error: 'invalid_token', description, scope }, { realm })).toMatch(CHALLENGE);
      }),
    );
  });
});
