import { describe, expect, it } from 'vitest';
import { judged, seeded, seededBytes } from '../test/secret-forms.ts';
import { basicSecret, credentialAfterScheme } from './auth-scheme.ts';
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
    // An empty password or GitHub's `x-oauth-basic`: the user is the token, as in a URL.
    expect(basicSecret(`basic  ${b64('deploy:')}`)).toBe('deploy');
    expect(basicSecret(`Basic ${b64('ghp_x:x-oauth-basic')}`)).toBe('ghp_x');
    // Base64 that is no `user:password`: the text after the scheme.
    expect(credentialAfterScheme('Basic abc')).toBe('abc');
    expect(basicSecret('Basic abc')).toBeUndefined();
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
      // Under a secret-named key, by the kind's minimums (32 bytes here), not a password's.
      { auth: 'basic', password: `Basic ${b64(`deploy:${random(18, 0x5411)}`)}` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    for (const bundle of [
      { token: `Bearer ${random(24, 0x540e)}` },
      { id_token: `Bearer ${jwt(256, 0x540f)}` },
      { authorization: `Basic ${b64(`deploy:${random(18, 0x5410)}`)}` },
      { auth: 'basic', password: `Basic ${b64(`deploy:${random(32, 0x5411)}`)}` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  // Stripe documents `sk_live_…:` (empty password), GitHub `ghp_…:x-oauth-basic`: the token is the user.
  const stripe = `Basic ${b64(`sk_live_${random(24, 0x5430)}:`)}`;
  const github = `Basic ${b64(`ghp_${random(27, 0x5431)}:x-oauth-basic`)}`;

  it('judges the user of a Basic value whose password is empty or x-oauth-basic, as a URL does', () => {
    for (const value of [stripe, github]) {
      expect(assessSecret(value, { kind: 'key' }), value.slice(0, 12)).toEqual([]);
      expect(assessSecret(value, { kind: 'token' }), value.slice(0, 12)).toEqual([]);
    }
    for (const bundle of [
      { authorization: stripe },
      { headers: { Authorization: github } },
      { token: stripe },
      { api_key: github },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    // A short or known token in the user is refused like any.
    expect(assessSecret(`Basic ${b64(`${random(7, 0x5432)}:`)}`, { kind: 'token' })).toEqual(['too-short']);
    expect(assessSecret(`Basic ${b64('hunter2:x-oauth-basic')}`, { kind: 'password' })).toContain('known-demo');
    // GitHub's fixed password in any case; a Docker `auth` (no prefix) likewise, without an identitytoken.
    expect(assessSecret(`Basic ${b64(`ghp_${random(27, 0x5431)}:X-OAuth-Basic`)}`, { kind: 'token' })).toEqual([]);
    for (const [label, rules] of judged({
      auths: { 'r.io': { auth: b64(`ghp_${random(27, 0x5431)}:X-OAuth-Basic`) } },
    }))
      expect(rules, label).toEqual([]);
    // An empty Docker password is a login without a secret, whatever the user: no registry takes a
    // token as the user alone (GCR's fixed user `oauth2accesstoken` with its token left out).
    for (const user of ['oauth2accesstoken', 'my-company-deploy-bot', `sk_live_${random(24, 0x5430)}`])
      for (const [label, rules] of judged({ auths: { 'r.io': { auth: b64(`${user}:`) } } }))
        expect(rules, label).toContain('too-short');
    for (const [label, rules] of judged({ authorization: `Basic ${b64(`${random(7, 0x5433)}:`)}` }))
      expect(rules, label).toContain('too-short');
  });

  it("judges a Basic value under a secret-named key by the kind's minimums, as the value given alone", () => {
    const weak = `Basic ${b64('svc:q7Rz2mXk9Lp4')}`;
    for (const kind of ['key', 'jwt-hs256'] as const) {
      expect(assessSecret(weak, { kind }), kind).toEqual(['too-short']);
      for (const bundle of [{ secret: weak }, { client_secret: weak }, { credentials: { password: weak } }])
        expect(assessSecret(JSON.stringify(bundle), { kind }), `${kind} ${JSON.stringify(bundle)}`).toEqual([
          'too-short',
        ]);
    }
    // Under an Authorization header it is a password the bundle carries: a password's minimums.
    for (const bundle of [{ authorization: weak }, { headers: { Authorization: weak } }])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('decodes the base64 after Basic as servers do: unpadded, non-canonical, with a control character', () => {
    const unpadded = b64('deploy:hunter2').replace(/=+$/, '');
    // Decodes to `deploy:hunter2!xy` (its last character's trailing bits are not zero).
    expect(assessSecret('Basic ZGVwbG95Omh1bnRlcjIheHl=', { kind: 'password' })).toContain('too-short');
    for (const value of [
      `Basic ${unpadded}`,
      `Basic ${b64('admin:hunter2\n')}`,
      `Basic ${b64('admin:hunter2\u0000')}`,
      // Extra or too little padding, as Node's and Python's decoders take it.
      `Basic ${b64('admin:hunter2')}=`,
      `Basic ${unpadded}=`,
      // URL-safe base64 (`-`, `_`), as the basic-auth package Express uses takes it: `u~~:hunter2!?`.
      `Basic ${b64('u~~:hunter2!?').replace(/\+/g, '-').replace(/\//g, '_')}`,
      // `.` and `~`, which basic-auth lets through and Node's decoder skips.
      `Basic ${b64('admin:hunter2').slice(0, 8)}.~${b64('admin:hunter2').slice(8)}`,
    ]) {
      const rules = assessSecret(value, { kind: 'password' });
      expect(rules, value).toContain('too-short');
      expect(rules, value).toContain('known-demo');
    }
    expect(credentialAfterScheme('Basic ZGVwbG95Omh1bnRlcjIheHl=')).toBe('hunter2!xy');
    expect(credentialAfterScheme(`Basic ${unpadded}`)).toBe('hunter2');
    // Base64 of text that is no `user:password`: the decoded text, not the base64 of it.
    expect(credentialAfterScheme(`Basic ${b64('hunter2hunter2')}`)).toBe('hunter2hunter2');
    expect(assessSecret(`Basic ${b64('hunter2hunter2')}`, { kind: 'password' })).toContain('repeated-pattern');
    // Without the prefix (a Docker `auth`), only canonical base64 is read as `user:password`.
    for (const [label, rules] of judged({ auths: { 'r.io': { auth: 'ZGVwbG95Omh1bnRlcjIheHl=' } } }))
      expect(rules, label).not.toContain('known-demo');
  });

  it('measures a Bearer token under an Authorization key, and after a prefix its base64 or hex carries', () => {
    const short = random(7, 0x5434);
    for (const bundle of [
      { headers: { Authorization: `Bearer ${short}` } },
      { authorization: `bearer ${short}` },
      { proxy_authorization: `Bearer ${short}` },
      { token: b64(`Bearer ${short}`) },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    for (const encoding of ['base64', 'hex', 'base64url'] as const)
      expect(assessSecret(Buffer.from(`Bearer ${short}`).toString(encoding), { kind: 'token' }), encoding).toEqual([
        'too-short',
      ]);
    const strong = random(24, 0x5435);
    for (const bundle of [
      { url: 'https://hooks.acme.io/in', headers: { Authorization: `Bearer ${strong}` } },
      { authorization: `Bearer ${jwt(256, 0x5436)}` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    expect(assessSecret(b64(`Bearer ${strong}`), { kind: 'token' })).toEqual([]);
    // A Bearer value under an ordinary key is text, not read as a token.
    expect(
      assessSecret(JSON.stringify({ description: 'Bearer token auth', api_key: strong }), { kind: 'token' }),
    ).toEqual([]);
  });
});
