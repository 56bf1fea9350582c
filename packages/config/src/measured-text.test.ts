import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { armor, ENCODINGS, everyForm, gcpServiceAccount, PATTERN_RULES, random, seeded } from '../test/secret-forms.ts';
import { type AssessSecretOptions, assessSecret } from './weak-secret.ts';

const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** Only the encoded forms a real bundle is stored in (the raw text is read for weak words). */
const encodedForms = (text: string): [string, AssessSecretOptions][] =>
  everyForm(text).filter(([value]) => value !== text);

const encryptionHeaders = `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${randomBytes(16).toString('hex').toUpperCase()}\n\n`;

describe('assessSecret (the text inside a PEM body)', () => {
  // The known-value rules read a value's decodings, but not the base64 body inside PEM armor: a
  // gen-dev secret or the Supabase demo key, base64-encoded, was refused bare and accepted armored.
  const hidden: [string, string][] = [
    [`${'rampart-dev-'}${random(32)}`, 'dev-marker'],
    ['super-secret-jwt-token-with-at-least-32-characters-long', 'known-demo'],
    ['your-private-key-goes-here-replace-me-before-deploying', 'placeholder'],
    // Two layers: the body is base64 of a base64 copy.
    [base64(`rampart-dev-${random(32)}`), 'dev-marker'],
  ];

  it('refuses a dev, demo or placeholder secret base64-encoded as a PEM body, in every form', () => {
    for (const [text, rule] of hidden) {
      expect(assessSecret(base64(text), { kind: 'key' }), `${rule} bare`).toContain(rule);
      for (const pem of [
        armor('PRIVATE KEY', base64(text)),
        armor('RSA PRIVATE KEY', base64(text), { headers: encryptionHeaders }),
        JSON.stringify({ type: 'service_account', private_key: armor('PRIVATE KEY', base64(text)) }),
      ])
        for (const [value, options] of everyForm(pem))
          expect(assessSecret(value, options), `${rule} ${options.encoding} ${pem.slice(0, 20)}`).toContain(rule);
    }
  });

  it('still accepts real PEM keys, whose bodies are DER, not text', () => {
    const pems = [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ].map((pem) => String(pem).trim());
    for (const pem of pems)
      for (const [value, options] of everyForm(pem)) expect(assessSecret(value, options)).toEqual([]);
  });
});

describe('assessSecret (PEM blocks that are not private keys)', () => {
  it('refuses a public key or a certificate given as a secret, in every form, as its armor repeats', () => {
    // Measured by its body, a public key or certificate passed as random bytes: it is not secret.
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const blocks = [
      String(publicKey.export({ type: 'spki', format: 'pem' })),
      armor('CERTIFICATE', randomBytes(400).toString('base64')),
      armor('X509 CRL', randomBytes(64).toString('base64')),
    ].map((pem) => pem.trim());
    for (const pem of blocks)
      for (const [value, options] of everyForm(pem))
        expect(assessSecret(value, options), `${options.encoding} ${pem.split('\n')[0]}`).toContain('repeated-pattern');
  });
});

describe('assessSecret (secrets inside a JSON bundle)', () => {
  const pkcs8 = String(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  const serviceAccount = JSON.stringify(gcpServiceAccount(pkcs8));

  it('judges a value under a secret-like key on its own: a random id next to it does not make it strong', () => {
    const id = random(32);
    const weak: [Record<string, unknown>, string][] = [
      [{ client_id: id, client_secret: 'hunter2' }, 'too-short'],
      [{ client_id: id, client_secret: 'hunter2' }, 'known-demo'],
      [{ client_id: random(64), clientSecret: 'xK9#mQ2$vL7p' }, 'too-short'],
      [{ access_key_id: id, secret_access_key: 'MySecurePassword2024!ForProdUse' }, 'weak-word'],
      [{ username: id, password: 'correct-horse-battery-staple-2024' }, 'known-demo'],
      [{ app_id: id, api_key: '' }, 'too-short'],
      [{ app_id: id, api_key: null }, 'too-short'],
      [{ app_id: id, pin_token: 12345678 }, 'too-short'],
      [{ client_id: id, tokens: [random(32), 'letmein'] }, 'too-short'],
      [{ client_id: id, nested: { webhook_secret: 'changeme' } }, 'placeholder'],
      // A PEM private key under a secret-like key is judged by its body's bytes.
      [{ client_id: id, private_key: armor('PRIVATE KEY', randomBytes(9).toString('base64')) }, 'too-short'],
    ];
    for (const [bundle, rule] of weak)
      for (const [value, options] of everyForm(JSON.stringify(bundle)))
        expect(assessSecret(value, options), `${rule} ${options.encoding} ${JSON.stringify(bundle)}`).toContain(rule);
  });

  it('reads every value for known values: a demo key or dev secret under any key, or encoded in a value', () => {
    const id = random(32);
    const known: [Record<string, unknown>, string][] = [
      [{ client_id: id, stripe: `sk_test_${random(24)}` }, 'known-demo'],
      [
        { client_id: id, client_secret: base64('super-secret-jwt-token-with-at-least-32-characters-long') },
        'known-demo',
      ],
      [{ client_id: id, note: base64(`rampart-dev-${random(24)}`) }, 'dev-marker'],
    ];
    for (const [bundle, rule] of known)
      for (const [value, options] of everyForm(JSON.stringify(bundle)))
        expect(assessSecret(value, options), `${rule} ${options.encoding} ${JSON.stringify(bundle)}`).toContain(rule);
  });

  it('keeps accepting real bundles, with plain words and defaults in fields that are not secrets', () => {
    const bundles = [
      serviceAccount,
      JSON.stringify({ client_id: random(24), client_secret: random(32) }),
      JSON.stringify({
        AccessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
        SecretAccessKey: random(30),
      }),
      JSON.stringify({ username: 'postgres', password: random(32), host: 'localhost', database: 'test', port: 5432 }),
      JSON.stringify({ token_type: 'Bearer', access_token: random(48), refresh_token: random(48), use_token: true }),
      JSON.stringify({ publishable_key: 'pk_live_x', public_key: 'dev', secret_key: random(32) }),
      // A long random token spelling a weak word by chance (`DUmMy`) is not a typed password.
      JSON.stringify({ client_id: random(24), access_token: `${random(100)}DUmMy${random(100)}` }),
      // A certificate beside the key is the bundle's format: measured by its body, not as a secret.
      JSON.stringify({ private_key: pkcs8, certificate: armor('CERTIFICATE', randomBytes(400).toString('base64')) }),
    ];
    for (const bundle of bundles)
      for (const [value, options] of encodedForms(bundle)) {
        // Declared encodings read the decoded bundle's words (`password`, `secret`), as for raw text.
        const expected = options.encoding === undefined ? [] : assessSecret(bundle, { kind: 'key' });
        expect(assessSecret(value, options), `${options.encoding} ${bundle}`).toEqual(expected);
        expect(
          expected.filter((rule) => rule !== 'weak-word'),
          bundle,
        ).toEqual([]);
      }
  });

  it('accepts random secrets under secret-like keys and refuses a short or weak one among them (property)', () => {
    const secretNames = ['client_secret', 'api_key', 'password', 'token', 'secretKey', 'webhook_secret'];
    const otherNames = ['client_id', 'app_id', 'tenant_id', 'username', 'region', 'private_key_id', 'token_uri'];
    fc.assert(
      fc.property(
        fc.integer(),
        fc.uniqueArray(fc.constantFrom(...secretNames), { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(fc.constantFrom(...otherNames), { maxLength: 4 }),
        fc.constantFrom(...ENCODINGS),
        fc.constantFrom('', 'a', 'hunter2', 'Tr0ub4dor&3', 'letmein!', 'xK9#mQ2$vL7p9'),
        (seed, secrets, others, encoding, weakValue) => {
          const next = seeded(seed);
          const bytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => next(256)));
          const bundle: Record<string, string> = {};
          for (const name of others) bundle[name] = name === 'region' ? 'eu-west-1' : bytes(16).toString('hex');
          for (const name of secrets) bundle[name] = bytes(32 + next(16)).toString('base64url');
          const strong = JSON.stringify(bundle);
          for (const options of [{ kind: 'key' }, { kind: 'key', encoding }] as const) {
            const value = Buffer.from(strong).toString(encoding);
            expect(assessSecret(value, options), `${options.encoding} ${strong}`).not.toEqual(
              expect.arrayContaining([expect.stringMatching(PATTERN_RULES)]),
            );
            if (options.encoding === undefined) expect(assessSecret(value, options)).toEqual([]);
          }
          const weak = JSON.stringify({ ...bundle, [secrets[next(secrets.length)] as string]: weakValue });
          for (const options of [{ kind: 'key' }, { kind: 'key', encoding }] as const)
            expect(assessSecret(Buffer.from(weak).toString(encoding), options), weak).toContain('too-short');
        },
      ),
      { seed: 0x5ec2, numRuns: 300 },
    );
  });
});
