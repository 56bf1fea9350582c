import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../test/config-error.ts';
import { seeded, seededBytes } from '../test/secret-forms.ts';
import { loadConfigSync } from './load.ts';
import { secret } from './secret-spec.ts';
import { assessSecret } from './weak-secret.ts';

const part = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');
/** `bytes` random-looking bytes in base64url, the same every run for its `seed`. */
const random = (bytes: number, seed: number): string => seededBytes(seeded(seed), bytes).toString('base64url');
const claims = part({ iss: 'https://login.acme.io', sub: 'deployer', aud: 'api', iat: 1764000000, exp: 1764003600 });
const RANDOM_ADVICE = /Generate a random one, e\.g\. `openssl rand/;
const ISSUER_ADVICE = /A JWT is fixed by its issuer: ask for a token signed with a stronger key/;

/** The weak-secret issue of `TOKEN` holding `value`, checked to quote no 8 characters of it. */
function weakSecretIssue(
  value: string,
  kind: 'token' | 'key' = 'token',
  extra: { minBytes?: number; denylist?: string[] } = {},
): { message: string; rules: readonly string[] } {
  const error = errorOf(() =>
    loadConfigSync(
      { TOKEN: secret({ kind, sources: ['env'], ...extra }) },
      { env: { NODE_ENV: 'production', TOKEN: value } },
    ),
  );
  const issue = error.issues.find((candidate) => candidate.code === 'weak-secret');
  if (issue === undefined) throw new Error('expected a weak-secret issue');
  const output = `${error.message}${JSON.stringify(error.issues)}`;
  for (let i = 0; i + 8 <= value.length; i++) expect(output).not.toContain(value.slice(i, i + 8));
  return { message: issue.message, rules: issue.rules ?? [] };
}

describe('loadConfigSync (the advice of a weak-secret error)', () => {
  it("tells a JWT's holder to get a token signed with a stronger key, not to generate a random one", () => {
    const rs256 = `${part({ alg: 'RS256', typ: 'JWT' })}.${claims}`;
    const hs256 = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}`;
    const half = random(128, 0x5420);
    for (const [token, rule, hint] of [
      // An RSA key of 1024 bits signed it.
      [`${rs256}.${random(128, 0x5421)}`, 'too-short', 'a JWT whose signature is shorter than its `alg` makes it'],
      [`${rs256}.${half}${half}`, 'repeated-pattern', 'a JWT whose signature repeats a pattern'],
      [
        `${hs256}.${Buffer.from('this-is-my-jwt-signing-key-for-prod').toString('base64url')}`,
        'weak-word',
        'a JWT whose signature holds a word',
      ],
      [
        `${hs256}.${createHmac('sha256', 'your-256-bit-secret').update(hs256).digest('base64url')}`,
        'known-demo',
        'a well-known demo JWT',
      ],
      [`${part({ alg: 'none' })}.${claims}.`, 'unsigned-jwt', 'an unsigned JWT'],
      // Also after a Bearer prefix, and in a bundle.
      [
        `Bearer ${rs256}.${random(128, 0x5422)}`,
        'too-short',
        'a JWT whose signature is shorter than its `alg` makes it',
      ],
      [
        JSON.stringify({ id_token: `${rs256}.${random(128, 0x5423)}`, token_type: 'Bearer' }),
        'too-short',
        'a JWT whose signature is shorter',
      ],
    ] as const) {
      const { message, rules } = weakSecretIssue(token);
      expect(rules, rule).toContain(rule);
      expect(message, rule).toContain(`${rule}: ${hint}`);
      expect(message, rule).toMatch(ISSUER_ADVICE);
      expect(message, rule).not.toMatch(RANDOM_ADVICE);
    }
  });

  it('gives both pieces of advice when a JWT and another secret of a bundle break rules', () => {
    const bundle = JSON.stringify({
      client_secret: 'hunter2',
      id_token: `${part({ alg: 'RS256' })}.${claims}.${random(128, 0x5424)}`,
    });
    const { message, rules } = weakSecretIssue(bundle);
    expect(rules).toContain('too-short');
    expect(message).toContain(
      'too-short: shorter than this kind of secret needs, and a JWT whose signature is shorter than its `alg` makes it',
    );
    expect(message).toMatch(RANDOM_ADVICE);
    expect(message).toMatch(ISSUER_ADVICE);
  });

  it('asks only for the whitespace to be removed when that is all that is wrong, in a JWT or any value', () => {
    const token = `${part({ alg: 'RS256' })}.${claims}.${random(256, 0x5427)}`;
    for (const value of [`${token}\n`, `${random(32, 0x5428)}\n`]) {
      const { message, rules } = weakSecretIssue(value);
      expect(rules).toEqual(['surrounding-whitespace']);
      expect(message).toContain('surrounding-whitespace: starts or ends with whitespace');
      expect(message).toMatch(/Remove the whitespace around it\.$/);
      expect(message).not.toMatch(ISSUER_ADVICE);
      expect(message).not.toMatch(RANDOM_ADVICE);
    }
  });

  it('says a secret inside a bundle has the whitespace, not the bundle, which has none around it', () => {
    const token = `${part({ alg: 'RS256' })}.${claims}.${random(256, 0x542a)}`;
    for (const value of [
      JSON.stringify({ id_token: `${token}\n` }),
      JSON.stringify({ client_id: 'web', client_secret: `${random(32, 0x5429)}\n` }),
    ]) {
      const { message, rules } = weakSecretIssue(value);
      expect(rules).toEqual(['surrounding-whitespace']);
      expect(message).toContain(
        'surrounding-whitespace: a secret inside the bundle starts or ends with whitespace: remove it there',
      );
      expect(message).toMatch(/Remove the whitespace around the secret inside the bundle\.$/);
      expect(message).not.toContain('Remove the whitespace around it.');
      expect(message).not.toMatch(ISSUER_ADVICE);
      expect(message).not.toMatch(RANDOM_ADVICE);
    }
  });

  it('tells a JWT under a minBytes longer than the token to lower minBytes, not to generate a random value', () => {
    const token = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${random(32, 0x542b)}`;
    for (const value of [token, `Bearer ${token}`, Buffer.from(token).toString('base64')]) {
      const { message, rules } = weakSecretIssue(value, 'token', { minBytes: 4096 });
      expect(rules, value).toEqual(['too-short']);
      expect(message, value).toContain(
        'too-short: a JWT shorter than the `minBytes` set for this key, which its issuer decides, not you)',
      );
      expect(message, value).not.toContain('a JWT whose signature');
      expect(message, value).toMatch(
        /A JWT cannot be replaced by a random value, nor lengthened: lower `minBytes` for this key to at most the length of the tokens its issuer gives\.$/,
      );
      expect(message, value).not.toMatch(RANDOM_ADVICE);
      expect(message, value).not.toMatch(ISSUER_ADVICE);
    }
  });

  it('keeps the issuer advice beside the minBytes advice for a short JWT with a weak signature', () => {
    const half = random(16, 0x542d);
    const token = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${half}${half}`;
    const { message, rules } = weakSecretIssue(token, 'token', { minBytes: 4096 });
    expect(rules).toEqual(['too-short', 'repeated-pattern']);
    expect(message).toContain('repeated-pattern: a JWT whose signature repeats a pattern');
    expect(message).toMatch(ISSUER_ADVICE);
    expect(message).toMatch(/lower `minBytes` for this key/);
    expect(message).not.toMatch(RANDOM_ADVICE);
  });

  it('gives the ordinary minBytes advice to a value that is no JWT, and to a bundle (its whole length is measured)', () => {
    const token = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${random(32, 0x542e)}`;
    for (const value of [random(64, 0x542f), JSON.stringify({ id_token: token })]) {
      const { message, rules } = weakSecretIssue(value, 'token', { minBytes: 4096 });
      expect(rules, value).toEqual(['too-short']);
      expect(message, value).toContain('too-short: shorter than this kind of secret needs)');
      expect(message, value).toMatch(/Generate a random one, e\.g\. `openssl rand -base64 4096`/);
      expect(message, value).not.toMatch(/lower `minBytes`/);
    }
  });

  it('gives no lower-minBytes advice to an unsigned JWT, which no minBytes lets through', () => {
    const token = `${part({ alg: 'none', typ: 'JWT' })}.${claims}.`;
    const { message, rules } = weakSecretIssue(token, 'token', { minBytes: 4096 });
    expect(rules).toEqual(['too-short', 'unsigned-jwt']);
    expect(message).toContain('an unsigned JWT');
    expect(message).not.toMatch(/lower `minBytes`/);
  });

  it("measures a carried JWT's signature by a password's minimums, a bundle's own JWT by the kind's", () => {
    // 32 bytes whose base64url text draws on 8 characters only: too flat for a key, enough for a password.
    const next = seeded(0x5432);
    const signature = Array.from({ length: 43 }, () => 'AEIMQUYc'[next(8)]).join('');
    const token = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${signature}`;
    expect(assessSecret(JSON.stringify({ url: `https://deploy:${token}@api.acme.io/v1` }), { kind: 'key' })).toEqual(
      [],
    );
    expect(assessSecret(JSON.stringify({ id_token: token }), { kind: 'key' })).toEqual([
      'low-entropy',
      'few-distinct-characters',
    ]);
  });

  it('tells the holder of a JWT carried as a password (URL userinfo, Basic) to ask its issuer', () => {
    const hs256 = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}`;
    const repeated = `${hs256}.${Buffer.from('k7Qz'.repeat(8)).toString('base64url')}`;
    const flat = `${hs256}.${Buffer.alloc(32, 0x41).toString('base64url')}`;
    // A signing key's bytes counting up (`\x10\x11\x12…`) inside random ones.
    const run = Buffer.from(Array.from({ length: 12 }, (_, i) => 0x10 + i));
    const sequential = `${hs256}.${Buffer.concat([seededBytes(seeded(0x5430), 8), run, seededBytes(seeded(0x5431), 12)]).toString('base64url')}`;
    const basic = (token: string): string => `Basic ${Buffer.from(`deploy:${token}`).toString('base64')}`;
    for (const [value, expected] of [
      [JSON.stringify({ url: `https://deploy:${repeated}@api.acme.io/v1` }), ['repeated-pattern']],
      [
        JSON.stringify({ url: `https://deploy:${flat}@api.acme.io/v1` }),
        ['low-entropy', 'few-distinct-characters', 'repeated-pattern'],
      ],
      [
        JSON.stringify({ api_key: `https://deploy:${flat}@api.acme.io/v1` }),
        ['low-entropy', 'few-distinct-characters'],
      ],
      [JSON.stringify({ headers: { Authorization: basic(repeated) } }), ['repeated-pattern']],
      [JSON.stringify({ headers: { Authorization: basic(sequential) } }), ['sequential']],
      // The token as the user, beside GitHub's fixed password.
      [JSON.stringify({ remote: `https://${repeated}:x-oauth-basic@git.acme.io/app.git` }), ['repeated-pattern']],
    ] as const) {
      const { message, rules } = weakSecretIssue(value);
      for (const rule of expected) {
        expect(rules, `${rule} in ${value}`).toContain(rule);
        expect(message, `${rule} in ${value}`).toMatch(new RegExp(`${rule}: a JWT whose signature`));
      }
      expect(message, value).toMatch(ISSUER_ADVICE);
      expect(message, value).not.toMatch(RANDOM_ADVICE);
    }
  });

  it('gives both pieces of advice for a weak carried JWT beside a weak carried password', () => {
    const flat = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${Buffer.alloc(32, 0x41).toString('base64url')}`;
    const bundle = JSON.stringify({
      api: `https://deploy:${flat}@api.acme.io/v1`,
      database_url: 'postgres://app:aaaaaaaaaaaaaaaa@db:5432/app',
    });
    const { message } = weakSecretIssue(bundle);
    expect(message).toContain(
      'few-distinct-characters: too few distinct characters, and a JWT whose signature has too few distinct characters',
    );
    expect(message).toMatch(RANDOM_ADVICE);
    expect(message).toMatch(ISSUER_ADVICE);
  });

  it('asks for a new token, not a stronger key, for a JWT on the denylist', () => {
    const token = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${random(32, 0x542c)}`;
    for (const value of [token, `Bearer ${token}`, JSON.stringify({ id_token: token })]) {
      const { message, rules } = weakSecretIssue(value, 'token', { denylist: [token] });
      expect(rules, value).toEqual(['known-demo']);
      expect(message, value).toContain('known-demo: a JWT on your denylist (a leaked or revoked token)');
      expect(message, value).toMatch(/A denylisted JWT is fixed by a new token, not a stronger key/);
      expect(message, value).not.toMatch(ISSUER_ADVICE);
      expect(message, value).not.toMatch(RANDOM_ADVICE);
    }
  });

  it('keeps the advice to generate a random value for any other secret', () => {
    for (const value of [
      'hunter2',
      `Bearer ${random(7, 0x5425)}`,
      JSON.stringify({ client_id: 'web', client_secret: 'hunter2' }),
    ]) {
      const { message } = weakSecretIssue(value, 'key');
      expect(message, value).toMatch(RANDOM_ADVICE);
      expect(message, value).not.toMatch(ISSUER_ADVICE);
    }
  });
});
