import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { armor, everyForm, gcpServiceAccount, random, seeded } from '../test/secret-forms.ts';
import { assessSecret } from './weak-secret.ts';

/** An SSH wire-format string: a uint32 length, then the bytes. */
function sshString(bytes: Buffer | string): Buffer {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/**
 * An unencrypted Ed25519 key in OpenSSH's `openssh-key-v1` format (PROTOCOL.key), as
 * `ssh-keygen -t ed25519` writes it: its zero-length fields and the public key stored twice repeat
 * by format.
 */
function opensshEd25519(comment = 'deploy@ci'): string {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d as string, 'base64url');
  const pub = Buffer.from(jwk.x as string, 'base64url');
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const padding = Buffer.from(Array.from({ length: (8 - (secret.length % 8)) % 8 }, (_, i) => i + 1));
  secret = Buffer.concat([secret, padding]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    count,
    sshString(publicBlob),
    sshString(secret),
  ]);
  return armor('OPENSSH PRIVATE KEY', body.toString('base64'), { width: 70 });
}

describe('assessSecret (private keys whose format repeats itself)', () => {
  // PBES2/PBKDF2 parameters repeat their OID prefix (`GCSqGSIb`); an OpenSSH key has zero-length
  // fields (`AAAAAAAA`) and holds its public key twice. Both were refused as `repeated-pattern`.
  const encryptedPkcs8 = (): string =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: {
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: randomBytes(16).toString('hex'),
      },
    }).privateKey;

  it('accepts 15 generated encrypted PKCS#8 keys, raw and in every encoding', () => {
    for (let i = 0; i < 15; i++) {
      const pem = encryptedPkcs8();
      expect(pem).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
      for (const [value, options] of everyForm(pem.trim()))
        expect(assessSecret(value, options), `${i} ${options.encoding}`).toEqual([]);
    }
  });

  it('accepts 15 generated OpenSSH private keys, raw and in every encoding', () => {
    for (let i = 0; i < 15; i++) {
      const pem = opensshEd25519();
      for (const [value, options] of everyForm(pem.trim()))
        expect(assessSecret(value, options), `${i} ${options.encoding}`).toEqual([]);
    }
  });

  it('still refuses a weak body that is not a key structure, and a too-short or low-entropy one that is', () => {
    // Not DER (first byte is not 0x30) and not openssh-key-v1: the pattern rules still read it.
    const repeated = armor('ENCRYPTED PRIVATE KEY', 'QUFBQUFBQUFB'.repeat(20));
    expect(assessSecret(repeated, { kind: 'key' })).toContain('repeated-pattern');
    // A DER SEQUENCE whose length does not match the body is not a key structure either.
    const badLength = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), Buffer.alloc(60, 0xab)]);
    expect(assessSecret(armor('PRIVATE KEY', badLength.toString('base64')), { kind: 'key' })).toContain(
      'repeated-pattern',
    );
    // A well-formed DER SEQUENCE of zeros: entropy and distinct characters still measure it.
    const zeros = Buffer.concat([Buffer.from([0x30, 0x81, 0x80]), Buffer.alloc(128)]);
    expect(assessSecret(armor('PRIVATE KEY', zeros.toString('base64')), { kind: 'key' })).toEqual(
      expect.arrayContaining(['few-distinct-characters']),
    );
    // Text behind a well-formed DER header is still text.
    const sentence = Buffer.from('ThisIsMyCompanySigningKeyForProduction2024-'.repeat(3));
    const wrapped = Buffer.concat([Buffer.from([0x30, 0x81, sentence.length]), sentence]);
    expect(assessSecret(armor('PRIVATE KEY', wrapped.toString('base64')).trim(), { kind: 'key' })).toContain(
      'weak-word',
    );
    // Too short, however well-formed.
    const short = Buffer.concat([Buffer.from([0x30, 0x0a]), randomBytes(10)]);
    expect(assessSecret(armor('PRIVATE KEY', short.toString('base64')), { kind: 'key' })).toContain('too-short');
  });
});

describe('assessSecret (random text in a PEM key or a bundle)', () => {
  const WORDS = ['sample', 'unsafe', 'dummy', 'secret', 'example', 'qwerty'];
  /** A random DER-looking key body with a weak word spliced in, in random case: what chance spells. */
  const body = (next: (below: number) => number): string => {
    const length = 1190 + next(100);
    const bytes = Buffer.from(Array.from({ length }, () => next(256)));
    bytes[0] = 0x30;
    bytes[1] = 0x82;
    bytes.writeUInt16BE(length - 4, 2);
    const base64 = bytes.toString('base64');
    const word = [...(WORDS[next(WORDS.length)] as string)]
      .map((char) => (next(2) === 0 ? char : char.toUpperCase()))
      .join('');
    const at = 8 + 4 * next((base64.length - 32) / 4);
    return base64.slice(0, at) + word + base64.slice(at + word.length);
  };

  it('refuses no random PEM key body or service-account JSON holding one by a weak word (seeded)', () => {
    const next = seeded(0x5eed);
    let refused = 0;
    for (let i = 0; i < 150; i++) {
      const pem = armor('PRIVATE KEY', body(next));
      const account = JSON.stringify(gcpServiceAccount(pem));
      for (const [value, options] of [...everyForm(pem.trim()), ...everyForm(account)])
        if (assessSecret(value, options).includes('weak-word')) refused++;
    }
    expect(refused).toBe(0);
  });
});

describe('assessSecret (bundle keys are format, not content)', () => {
  it('accepts random credentials under keys that name a secret, raw and in every encoding', () => {
    const bundles = [
      // `aws configure export-credentials`, `aws sts assume-role`
      { Version: 1, AccessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, SecretAccessKey: random(30) },
      // `az ad sp create-for-rbac`
      { appId: crypto.randomUUID(), displayName: 'deployer', password: random(30), tenant: crypto.randomUUID() },
      { client_id: random(18), client_secret: random(32) },
      { publishable_key: `pk_live_${random(24)}`, secret_key: `sk_live_${random(32)}` },
    ].map((bundle) => JSON.stringify(bundle));
    for (const bundle of bundles)
      for (const [value, options] of everyForm(bundle))
        expect(assessSecret(value, options), `${options.encoding} ${bundle.slice(0, 20)}`).toEqual([]);
  });

  it('still refuses a weak word in a secret value', () => {
    for (const [value, options] of everyForm(
      JSON.stringify({ client_id: random(18), client_secret: `MyS3cretPassw0rd${random(24)}` }),
    ))
      expect(assessSecret(value, options), options.encoding).toContain('weak-word');
  });
});

describe('assessSecret (placeholders in any bundle value)', () => {
  const id = randomBytes(18).toString('base64url');
  const secret = randomBytes(32).toString('base64url');

  it('refuses an interpolation, a bracketed prompt, xxxx or change-me under a key that names no secret', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder shapes under test
    const placeholders = ['${HMAC_SIGNING}', '{{ hmac_signing }}', '<your-hmac-here>', 'xxxxxxx', 'change-me'];
    for (const placeholder of placeholders)
      for (const [value, options] of everyForm(JSON.stringify({ client_id: id, client_hmac: placeholder })))
        expect(assessSecret(value, options), `${placeholder} ${options.encoding}`).toContain('placeholder');
  });

  it('keeps reading dev, test and localhost as ordinary values of a field', () => {
    const bundle = JSON.stringify({ env: 'dev', stage: 'test', host: 'localhost', client_secret: secret });
    for (const [value, options] of everyForm(bundle))
      expect(assessSecret(value, options), options.encoding).toEqual([]);
  });
});

describe('assessSecret (secrets under key names the heuristic missed)', () => {
  const id = randomBytes(18).toString('base64url');
  const basic = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');

  it('gives every such secret its floor', () => {
    const bundles: Record<string, unknown>[] = [
      { client_id: id, client_credential: 'hunter2' },
      { client_id: id, client_pw: 'hunter2' },
      { app_id: id, api_key: { value: 'hunter2' } },
      { app_id: id, api_key_hex: 'a1b2c3d4' },
      { app_id: id, token_value: 'hunter2' },
      { app_id: id, 'api_k\u0435y': 'hunter2' },
      { auths: { 'registry.acme.io': { auth: basic('deploy-bot', 'weakpass') } } },
      { kty: 'oct', kid: id, k: Buffer.from('secret').toString('base64url') },
    ];
    for (const bundle of bundles)
      for (const [value, options] of everyForm(JSON.stringify(bundle)))
        expect(assessSecret(value, options), `${Object.keys(bundle).at(-1)} ${options.encoding}`).toContain(
          'too-short',
        );
  });

  it('measures an oct JWK by its decoded key bytes against the kind', () => {
    const jwk = (bytes: number): string =>
      JSON.stringify({ kty: 'oct', alg: 'HS512', k: randomBytes(bytes).toString('base64url') });
    // 48 bytes are 64 base64url characters: measured as text they passed the 64-byte floor.
    expect(assessSecret(jwk(48), { kind: 'jwt-hs512' })).toContain('too-short');
    expect(assessSecret(jwk(64), { kind: 'jwt-hs512' })).toEqual([]);
  });

  it('accepts real RSA, EC and OKP JWKs and JWK sets, and a Docker config with a strong password', () => {
    const jwks = [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }),
    ].map((key) => ({ ...key, kid: id, use: 'sig' }));
    const values = [
      ...jwks.map((key) => JSON.stringify(key)),
      JSON.stringify({ keys: jwks }),
      JSON.stringify({
        auths: { 'registry.acme.io': { auth: basic('deploy-bot', randomBytes(32).toString('base64url')) } },
      }),
      JSON.stringify({
        Credentials: {
          AccessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
          SecretAccessKey: randomBytes(30).toString('base64'),
          SessionToken: randomBytes(300).toString('base64'),
          Expiration: '2026-11-24T10:00:00+00:00',
        },
      }),
    ];
    for (const bundle of values)
      for (const [value, options] of everyForm(bundle))
        expect(assessSecret(value, options), `${options.encoding} ${bundle.slice(0, 30)}`).toEqual([]);
  });

  it('reads the RSA and EC private members of a JWK as secrets', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
      expect(assessSecret(JSON.stringify({ ...rsa, [member]: 'aGVsbG8' }), { kind: 'key' }), member).toContain(
        'too-short',
      );
  });
});

describe('assessSecret (text in private-key armor)', () => {
  it('reads the text a private-key body decodes to with every rule, weak words included', () => {
    const text = 'ThisIsMyCompanySigningKeyForProduction2024';
    const pem = armor('PRIVATE KEY', Buffer.from(text).toString('base64'));
    for (const [value, options] of everyForm(pem.trim()))
      expect(assessSecret(value, options), options.encoding).toContain('weak-word');
  });
});

describe('assessSecret (nested values judged by their own names)', () => {
  const alnum = (length: number): string =>
    Array.from(
      randomBytes(length),
      (byte) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[byte % 62],
    ).join('');
  const oauth = (): Record<string, unknown> => ({
    access_token: random(32),
    token_type: 'Bearer',
    expires_in: 3600,
    refresh_token: random(32),
    scope: 'openid profile email',
  });
  const serviceAccount = (): Record<string, unknown> =>
    gcpServiceAccount(
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      }).privateKey,
    );

  it('accepts a Vault login, OAuth, GitHub installation and nested GCP response with random secrets, in every encoding', () => {
    const bundles: Record<string, unknown>[] = [
      // `vault login -format=json`, `vault token create -format=json`
      {
        request_id: crypto.randomUUID(),
        lease_id: '',
        lease_duration: 0,
        renewable: false,
        data: null,
        wrap_info: null,
        warnings: null,
        auth: {
          // A service token is `hvs.` and ~90 characters; its accessor is 24.
          client_token: `hvs.CAESI${alnum(86)}`,
          accessor: alnum(24),
          policies: ['default'],
          token_policies: ['default'],
          identity_policies: null,
          metadata: { username: 'deploy' },
          lease_duration: 2764800,
          renewable: true,
          entity_id: crypto.randomUUID(),
          token_type: 'service',
          orphan: true,
          mfa_requirement: null,
          num_uses: 0,
        },
      },
      { token: oauth() },
      { auth: oauth() },
      { credentials: oauth() },
      {
        token: {
          token: `ghs_${alnum(36)}`,
          expires_at: '2026-11-24T10:00:00Z',
          permissions: { contents: 'read', metadata: 'read' },
          repository_selection: 'selected',
        },
      },
      { credentials: serviceAccount() },
    ];
    for (const bundle of bundles)
      for (const [value, options] of everyForm(JSON.stringify(bundle)))
        expect(assessSecret(value, options), `${Object.keys(bundle).at(-1)} ${options.encoding}`).toEqual([]);
  });

  it('still refuses a weak value under a format word of a secret-named key, and a weak named secret inside', () => {
    for (const bundle of [
      { api_key: { value: 'hunter2' } },
      { api_key: { data: ['hunter2'] } },
      { token: { access_token: 'hunter2', expires_in: 3600 } },
      { auth: { client_token: 'hunter2', num_uses: 0 } },
    ])
      for (const [value, options] of everyForm(JSON.stringify(bundle)))
        expect(assessSecret(value, options), `${JSON.stringify(bundle)} ${options.encoding}`).toContain('too-short');
  });

  it('judges every child of a secret-named object as a secret when none of them names the secret itself', () => {
    for (const bundle of [
      { password: { current: 'P@ssw0rd', previous: 'Passw0rd!' } },
      { secrets: { prod: 'hunter2', staging: 'hunter3' } },
      { credentials: { admin: 'password' } },
      { auth: { user: 'admin', pin: '1234' } },
      { user: 'deploy', password: { value: 73519 } },
    ])
      for (const [value, options] of everyForm(JSON.stringify(bundle), { kind: 'password' }))
        expect(assessSecret(value, options), `${JSON.stringify(bundle)} ${options.encoding}`).toContain('too-short');
  });
});

describe('assessSecret (JWK members and names)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });

  it('reads a non-RFC member of a JWK, and every member of an object whose kty is no JWK type, by its name', () => {
    for (const bundle of [
      { ...rsa, password: 'hunter2' },
      { kty: 'oct', k: randomBytes(32).toString('base64url'), client_secret: 'hunter2' },
      { kty: 'password', password: 'hunter2' },
    ])
      for (const [value, options] of everyForm(JSON.stringify(bundle)))
        expect(assessSecret(value, options), `${bundle.kty} ${options.encoding}`).toContain('too-short');
  });

  it('reads the text a JWK private member decodes to with every rule', () => {
    const k = Buffer.from('this-is-my-jwt-signing-key-for-prod').toString('base64url');
    for (const [value, options] of everyForm(JSON.stringify({ kty: 'oct', alg: 'HS256', k })))
      expect(assessSecret(value, options), options.encoding).toContain('weak-word');
  });
});

describe('assessSecret (unencrypted private keys measured by their private members)', () => {
  /** A PKCS#8 Ed25519 key (RFC 8410) holding `seed`. */
  const ed25519 = (seed: Buffer): string =>
    armor(
      'PRIVATE KEY',
      Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]).toString('base64'),
    );

  it('refuses an Ed25519 PKCS#8 key with a repeated seed, as its JWK is refused', () => {
    const four = randomBytes(4);
    for (const seed of [Buffer.alloc(32, 'abcd'), Buffer.concat(Array.from({ length: 8 }, () => four))])
      for (const [value, options] of everyForm(ed25519(seed).trim()))
        expect(assessSecret(value, options), options.encoding).toContain('repeated-pattern');
    // Inside a bundle too.
    const account = JSON.stringify({ client_email: 'a@b.example', private_key: ed25519(Buffer.alloc(32, 'abcd')) });
    expect(assessSecret(account, { kind: 'key' })).toContain('repeated-pattern');
  });

  it('accepts 10 generated unencrypted RSA (PKCS#8, PKCS#1), EC (SEC 1) and Ed25519 keys in every encoding', () => {
    for (let i = 0; i < 10; i++) {
      const pems = [
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }),
        generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
        ed25519(randomBytes(32)),
      ].map((pem) => String(pem).trim());
      for (const pem of pems)
        for (const [value, options] of everyForm(pem))
          expect(assessSecret(value, options), `${i} ${pem.slice(11, 25)} ${options.encoding}`).toEqual([]);
    }
  });
});

describe('assessSecret (secret names with digits, base, jwt; Docker identity tokens)', () => {
  const id = randomBytes(18).toString('base64url');
  const acr = (identitytoken: string): string =>
    JSON.stringify({
      auths: {
        'acme.azurecr.io': {
          auth: Buffer.from('00000000-0000-0000-0000-000000000000:').toString('base64'),
          identitytoken,
        },
      },
    });

  it('reads key1, secret_1, dbPassword1, secret_key_base and jwt as secrets', () => {
    for (const name of ['key1', 'secret_1', 'dbPassword1', 'secret_key_base', 'jwt'])
      for (const [value, options] of everyForm(JSON.stringify({ app_id: id, [name]: 'hunter2' })))
        expect(assessSecret(value, options), `${name} ${options.encoding}`).toContain('too-short');
  });

  it('measures a Docker identity token instead of the empty password beside it', () => {
    for (const [value, options] of everyForm(acr(randomBytes(300).toString('base64url'))))
      expect(assessSecret(value, options), options.encoding).toEqual([]);
    for (const [value, options] of everyForm(acr('hunter2')))
      expect(assessSecret(value, options), options.encoding).toContain('too-short');
  });
});
