import { describe, expect, it } from 'vitest';
import { judged, seeded, seededBytes } from '../test/secret-forms.ts';
import { basicPassword, credentialAfterScheme } from './auth-scheme.ts';
import { assessSecret } from './weak-secret.ts';

/** `bytes` random-looking bytes in base64url, the same every run for its `seed`. */
const random = (bytes: number, seed: number): string => seededBytes(seeded(seed), bytes).toString('base64url');
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const part = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');
/** A service-account-shaped RS256 JWT whose signature has `bytes` bytes. */
const jwt = (bytes: number, seed: number): string =>
  `${part({ alg: 'RS256', kid: random(20, seed + 1) })}.${part({ iss: 'https://kubernetes.default.svc', sub: 'system:serviceaccount:prod:deployer', aud: ['https://kubernetes.default.svc'], exp: 1764003600, iat: 1764000000 })}.${random(bytes, seed)}`;

describe('credentialAfterScheme', () => {
  it('takes the token after Bearer and the password of Basic, in any case and after any number of spaces', () => {
    expect(credentialAfterScheme('Bearer abc')).toBe('abc');
    expect(credentialAfterScheme('bEaReR    abc')).toBe('abc');
    expect(credentialAfterScheme(`BASIC ${b64('deploy:pass word')}`)).toBe('pass word');
    expect(basicPassword(`basic  ${b64('deploy:')}`)).toBe('');
    // Base64 that is no `user:password`: the text after the scheme.
    expect(credentialAfterScheme('Basic abc')).toBe('abc');
    expect(basicPassword('Basic abc')).toBeUndefined();
  });

  it('leaves a value without a scheme prefix as it is', () => {
    for (const value of ['Bearer', 'Bearerabc', ' Bearer abc', 'Bearer\tabc', 'Token abc', `Digest ${b64('a:b')}`])
      expect(credentialAfterScheme(value), value).toBe(value);
  });
});

describe('assessSecret (a secret written with an HTTP auth scheme)', () => {
  it('measures the token after a Bearer prefix, given alone: the scheme name adds no length', () => {
    // 10 characters: too short for a token (16 bytes), which the 7 of `Bearer ` used to hide.
    const short = random(7, 0x5400);
    for (const prefix of ['Bearer ', 'bearer ', 'BEARER   '])
      expect(assessSecret(`${prefix}${short}`, { kind: 'token' }), prefix).toEqual(['too-short']);
    for (const prefix of ['Bearer ', 'bearer  ']) {
      expect(assessSecret(`${prefix}${random(24, 0x5401)}`, { kind: 'token' }), prefix).toEqual([]);
      expect(assessSecret(`${prefix}${random(32, 0x5402)}`, { kind: 'key' }), prefix).toEqual([]);
    }
    // Read by the word rules as the token it is: a documented prefix entry, a placeholder.
    expect(assessSecret(`Bearer sk_test_${random(24, 0x5403)}`, { kind: 'token' })).toContain('known-demo');
    expect(assessSecret(`Bearer \${API_TOKEN}`, { kind: 'token' })).toContain('placeholder');
  });

  it('measures a JWT after a Bearer prefix by its signature, as one given alone', () => {
    expect(assessSecret(`Bearer ${jwt(256, 0x5404)}`, { kind: 'token' })).toEqual([]);
    expect(assessSecret(`bearer ${jwt(128, 0x5405)}`, { kind: 'token' })).toEqual(['too-short']);
    const half = random(128, 0x5406);
    expect(assessSecret(`Bearer ${jwt(0, 0x5407)}${half}${half}`, { kind: 'token' })).toEqual(['repeated-pattern']);
  });

  it('judges a Basic value given alone by the password it carries, with the kind of the secret', () => {
    for (const password of ['hunter2', 'correcthorsebatterystaple', 'Summer2025!'])
      expect(assessSecret(`Basic ${b64(`deploy:${password}`)}`, { kind: 'password' }), password).toContain(
        'known-demo',
      );
    expect(assessSecret(`Basic ${b64('deploy:')}`, { kind: 'password' })).toContain('too-short');
    expect(assessSecret(`basic ${b64(`deploy:${random(18, 0x5408)}`)}`, { kind: 'password' })).toEqual([]);
  });

  it('does not read a scheme prefix under a declared encoding: such a value is not valid in it', () => {
    expect(assessSecret(`Bearer ${random(32, 0x5409)}`, { kind: 'key', encoding: 'base64url' })).toContain(
      'bad-encoding',
    );
  });

  it("measures a bundle secret's token after a Bearer prefix, and a Basic value's password under any key", () => {
    for (const bundle of [
      { token: `Bearer ${random(7, 0x540a)}` },
      { api_key: `bearer   ${random(7, 0x540b)}` },
      { id_token: `Bearer ${jwt(128, 0x540c)}` },
      { authorization: `Basic ${b64('deploy:hunter2')}` },
      { headers: { Authorization: `BASIC ${b64(`deploy:${random(5, 0x540d)}`)}` } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    for (const bundle of [
      { token: `Bearer ${random(24, 0x540e)}` },
      { id_token: `Bearer ${jwt(256, 0x540f)}` },
      { authorization: `Basic ${b64(`deploy:${random(18, 0x5410)}`)}` },
      { auth: 'basic', password: `Basic ${b64(`deploy:${random(18, 0x5411)}`)}` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });
});
