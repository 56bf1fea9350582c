import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENCODINGS, everyForm, gcpServiceAccount, PATTERN_RULES, random, seeded } from '../test/secret-forms.ts';
import { generateDevSecret } from './dev-profile.ts';
import { ConfigError } from './errors.ts';
import { KNOWN_DEMO_SECRETS } from './known-demo-secrets.ts';
import { loadConfigSync } from './load.ts';
import { foldLookalikes } from './lookalikes.ts';
import { isPlaceholderShape } from './placeholder-shape.ts';
import { encodedTexts } from './secret-encoding.ts';
import { secret } from './secret-spec.ts';
import {
  type AssessSecretOptions,
  assessSecret,
  DEV_SECRET_PREFIX,
  minimumSecretBytes,
  SECRET_KINDS,
  type SecretKind,
  WEAK_RULE_HINTS,
} from './weak-secret.ts';

const KINDS = SECRET_KINDS;

describe('assessSecret', () => {
  it('rejects none of 1,000 random 32-byte keys in each of hex, base64 and base64url (seeded)', () => {
    const next = seeded(0x5eed);
    for (const encoding of ENCODINGS) {
      for (let i = 0; i < 1000; i++) {
        const value = Buffer.from(Array.from({ length: 32 }, () => next(256))).toString(encoding);
        expect(assessSecret(value, { kind: 'hmac-sha256' }), value).toEqual([]);
        expect(assessSecret(value, { kind: 'key', encoding: encoding === 'hex' ? 'hex' : encoding }), value).toEqual(
          [],
        );
      }
    }
  });

  it('rejects none of 10,000 generated passwords drawn from all 94 printable characters (seeded)', () => {
    const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i));
    const next = seeded(0x94);
    for (let i = 0; i < 10_000; i++) {
      const length = 12 + next(53);
      const value = Array.from({ length }, () => printable[next(94)]).join('');
      expect(assessSecret(value, { kind: length >= 32 ? 'key' : 'password' }), value).toEqual([]);
    }
  });

  it('never takes a bracketed run of capitals inside a random password for a placeholder', () => {
    // Found by the 94-character property above: `<VMVRA_UD>` looks like `<YOUR_KEY>` by chance.
    const value = "r{3{K2=rdOF=<VMVRA_UD>I-M2.6e=|%<g']S}f/n7:0H[IHMlnjSD";
    expect(assessSecret(value, { kind: 'key' })).toEqual([]);
    expect(assessSecret('sk_live_<YOUR_API_KEY>', { kind: 'password' })).toContain('placeholder');
  });

  it('rejects none of 75 random keys of the minimum size of each kind in each encoding (seeded)', () => {
    const next = seeded(0x3333);
    for (const kind of KINDS) {
      for (const encoding of ENCODINGS) {
        for (let i = 0; i < 75; i++) {
          const bytes = Array.from({ length: minimumSecretBytes(kind) }, () => next(256));
          const value = Buffer.from(bytes).toString(encoding);
          expect(assessSecret(value, { kind }), value).toEqual([]);
        }
      }
    }
  });

  it('finds the dev marker anywhere: a gen-dev secret pasted with its quotes or its .env line', () => {
    const dev = generateDevSecret(32);
    for (const value of [`"${dev}"`, `'${dev}'`, `JWT_KEY=${dev}`, `export JWT_KEY=${dev}`]) {
      expect(assessSecret(value, { kind: 'key' }), value).toContain('dev-marker');
    }
  });

  it('rejects every built-in demo secret and its trivial variants', () => {
    for (const { value, match } of KNOWN_DEMO_SECRETS) {
      const variants = [value, value.toUpperCase(), `${value}1`, `${value}2024!`];
      if (match !== 'prefix') variants.push(`!${value}`, `${value.replace(/[\s-]/g, '_')}`);
      if (match === 'contains') variants.push(`prefix-${value}-suffix`);
      if (match === 'prefix') variants.push(`${value}${randomBytes(32).toString('hex')}`);
      for (const variant of variants) {
        for (const kind of ['key', 'password', 'token'] as const) {
          expect(assessSecret(variant, { kind }), `${variant} as ${kind}`).toContain('known-demo');
        }
      }
    }
  });

  it('rejects documented examples even when they are long and random-looking', () => {
    const examples = [
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
      'django-insecure-9x!w@b3k$2n#j8m&p1q^r5t*v7y(z0a)c4e+g6i-h8l=o2s',
      'super-secret-jwt-token-with-at-least-32-characters-long',
      'your-256-bit-secret-your-256-bit-secret',
      'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
    ];
    for (const value of examples) expect(assessSecret(value, { kind: 'key' }), value).toContain('known-demo');
  });

  it('rejects the default keys of widely deployed products: Supabase self-hosting and CLI, Superset, Grafana', () => {
    const examples = [
      // Supabase self-hosting docker/.env.example ANON_KEY and SERVICE_ROLE_KEY
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJhbm9uIiwKICAgICJpc3MiOiAic3VwYWJhc2UtZGVtbyIsCiAgICAiaWF0IjogMTY0MTc2OTIwMCwKICAgICJleHAiOiAxNzk5NTM1NjAwCn0.dc_X5iR_VP_qT0zsiyj_I_OZ2T9FtRU2BBNWN8Bu4GE',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJzZXJ2aWNlX3JvbGUiLAogICAgImlzcyI6ICJzdXBhYmFzZS1kZW1vIiwKICAgICJpYXQiOiAxNjQxNzY5MjAwLAogICAgImV4cCI6IDE3OTk1MzU2MDAKfQ.DaYlNEoUrrEn2Ig7tqibS-PHK5vgusbcbo7X36XVt4Q',
      // Supabase CLI local development anon and service_role keys
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU',
      // Superset SECRET_KEY defaults (CVE-2023-27524): the bytes, as written in superset/config.py, and as quoted
      '\x02\x01thisismyscretkey\x01\x02\\e\\y\\y\\h',
      '\\2\\1thisismyscretkey\\1\\2\\e\\y\\y\\h',
      '\\x02\\x01thisismyscretkey\\x01\\x02\\\\e\\\\y\\\\y\\\\h',
      'CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET',
      'thisISaSECRET_1234',
      'YOUR_OWN_RANDOM_GENERATED_SECRET_KEY',
      'TEST_NON_DEV_SECRET',
      // Grafana's default [security] secret_key
      'SW2YcwTIb9zpOOhoPsMm',
    ];
    for (const value of examples) {
      for (const kind of ['key', 'token', 'password'] as const) {
        expect(assessSecret(value, { kind }), `${value} as ${kind}`).toContain('known-demo');
      }
    }
  });

  it('rejects placeholder shapes', () => {
    const placeholders = [
      '<your-jwt-secret>',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder shape under test
      '${JWT_SECRET}',
      '{{ jwt_secret }}',
      '$JWT_SECRET',
      '%JWT_SECRET%',
      'changeme-changeme-changeme-changeme',
      'CHANGE_ME_BEFORE_DEPLOYING_TO_PRODUCTION',
      'your-api-key-here-0123456789-abcdefghij',
      'insert_token_here_1234567890abcdefghijklm',
      'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx',
      'TBD',
      '********************************',
      'todo-set-a-real-key-before-launch-2024',
      'TBD',
    ];
    for (const value of placeholders) expect(assessSecret(value, { kind: 'key' }), value).toContain('placeholder');
  });

  it('rejects human-made secrets by weak words, entropy, distinct characters and patterns', () => {
    expect(assessSecret('my-super-secret-key-for-signing-jwts-123', { kind: 'key' })).toContain('weak-word');
    expect(assessSecret('P@ssw0rd-for-the-production-database!', { kind: 'password' })).toContain('weak-word');
    expect(assessSecret('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', { kind: 'key' })).toEqual(
      expect.arrayContaining(['low-entropy', 'few-distinct-characters', 'repeated-pattern']),
    );
    expect(assessSecret('abababababababababababababababababab', { kind: 'key' })).toContain('repeated-pattern');
    expect(assessSecret('Zx81kfP0qL2mVb7TnR4wQ9aaZx81kfP0qL2m', { kind: 'key' })).toEqual(['repeated-pattern']);
    expect(assessSecret('abcdefghijklmnopqrstuvwxyz0123456789', { kind: 'key' })).toContain('sequential');
    expect(assessSecret('Zx81kfP0qL2mVb7T', { kind: 'hmac-sha256' })).toEqual(['too-short']);
  });

  it('rejects sentence-like keys and season, company and xkcd passwords people make up', () => {
    for (const value of [
      'this-is-a-very-long-jwt-signing-key-for-production',
      'thisismyjwtsigningkeyfortheapplication',
      'ThisIsMyVeryLongAndSecureKeyForHs256!!',
      'our_app_signing-key_2025_do_not_share_x',
      'The-JWT-Key-For-The-Billing-Service-2025',
    ]) {
      expect(assessSecret(value, { kind: 'jwt-hs256' }), value).not.toEqual([]);
    }
    for (const value of [
      'correcthorsebatterystaple',
      'Correct-Horse-Battery-Staple-9',
      'Summer2025!!',
      'Companyname1!',
    ]) {
      expect(assessSecret(value, { kind: 'password' }), value).not.toEqual([]);
    }
  });

  it('measures the length floor in decoded bytes (RFC 7518 §3.2 for HS256/384/512)', () => {
    expect(minimumSecretBytes('jwt-hs256')).toBe(32);
    expect(minimumSecretBytes('jwt-hs384')).toBe(48);
    expect(minimumSecretBytes('hmac-sha512')).toBe(64);
    const hex31 = randomBytes(31).toString('hex');
    expect(assessSecret(hex31, { kind: 'hmac-sha256' })).toEqual([]); // 62 UTF-8 bytes
    expect(assessSecret(hex31, { kind: 'hmac-sha256', encoding: 'hex' })).toEqual(['too-short']);
    expect(assessSecret(randomBytes(32).toString('base64'), { kind: 'hmac-sha256', encoding: 'base64' })).toEqual([]);
    expect(assessSecret(randomBytes(47).toString('base64url'), { kind: 'jwt-hs384', encoding: 'base64url' })).toEqual([
      'too-short',
    ]);
    expect(assessSecret('not hex at all, clearly', { kind: 'key', encoding: 'hex' })).toContain('bad-encoding');
  });

  it('recognises generated development secrets by their marker', () => {
    const dev = generateDevSecret(32);
    expect(dev.startsWith(DEV_SECRET_PREFIX)).toBe(true);
    expect(assessSecret(dev, { kind: 'key' })).toEqual(['dev-marker']);
  });

  it('refuses weak words and demo secrets hidden by lookalike letters, fullwidth forms, accents or invisible characters', () => {
    const disguised = [
      '\uff43\uff48\uff41\uff4e\uff47\uff45\uff4d\uff45', // ｃｈａｎｇｅｍｅ
      '\u0441hangeme', // Cyrillic с
      '\u0440\u0430ssword', // Cyrillic р, а
      'pa\u0301ssword', // combining acute
      'p\u00e1ssword', // precomposed á: used to be dropped, leaving `pssword`
      'pass\u200bword', // zero-width space
      'my-\u0440\u0430ssword-for-the-production-db-1234',
      'k\u0435yboard cat, but long enough to pass the length floor',
      '\u{1d42c}\u{1d41e}\u{1d41c}\u{1d42b}\u{1d41e}\u{1d42d}-signing-key-0123456789abcdef', // mathematical bold
    ];
    for (const value of disguised) {
      const rules = assessSecret(value, { kind: 'password' });
      expect(
        rules.some((rule) => WORD_RULES.includes(rule)),
        JSON.stringify(value),
      ).toBe(true);
    }
    // Rules that read the start or the shape of the value see through invisible characters too.
    expect(assessSecret('django\u200b-insecure-9x!w@b3k$2n#j8m&p1q^r5t*v7y(z0a)c4e', { kind: 'key' })).toContain(
      'known-demo',
    );
    expect(assessSecret(`\uff52\uff41\uff4d\uff50\uff41\uff52\uff54-dev-${randomBytes(32).toString('hex')}`)).toContain(
      'dev-marker',
    );
    expect(assessSecret('\uff1c\uff59\uff4f\uff55\uff52-\uff41\uff50\uff49-\uff4b\uff45\uff59\uff1e')).toContain(
      'placeholder',
    );
  });

  it('still finds a denylisted value with non-ASCII characters, and the Flask key written with escapes', () => {
    const leaked = `p\u00e4ssw\u00f6rt-${randomBytes(16).toString('base64url')}-\u0436`;
    expect(assessSecret(leaked, { kind: 'key', denylist: [leaked] })).toContain('known-demo');
    expect(assessSecret(leaked.normalize('NFD'), { kind: 'key', denylist: [leaked] })).toContain('known-demo');
    expect(assessSecret('_5#y2L"F4Q8z\n\xec]/', { kind: 'key' })).toContain('known-demo');
    expect(assessSecret(String.raw`b'_5#y2L"F4Q8z\n\xec]/'`, { kind: 'key' })).toContain('known-demo');
  });

  it('applies a per-key denylist', () => {
    const leaked = randomBytes(32).toString('base64url');
    expect(assessSecret(leaked, { kind: 'key' })).toEqual([]);
    expect(assessSecret(leaked, { kind: 'key', denylist: [leaked] })).toEqual(['known-demo']);
  });
});

/** The rules that read words and shapes, which folding applies to. */
const WORD_RULES: readonly string[] = ['weak-word', 'known-demo', 'placeholder', 'dev-marker'];

/** Weak words, demo secrets and markers refused in plain ASCII; the property disguises them. */
const REFUSED_WORDS = [
  'password',
  'changeme',
  'secret',
  'qwerty',
  'letmein',
  'example',
  'placeholder',
  'insecure',
  'dummy',
  'sample',
  'keyboard cat',
  'supersecret',
  'minioadmin',
  'trustno1',
  'iloveyou',
  'your-256-bit-secret',
  'rampart-dev-',
] as const;

// Lookalikes written out here rather than imported, so the test does not trust the fold's table.
const HOMOGLYPHS: Readonly<Record<string, string>> = {
  a: '\u0430\u03b1\u0251',
  c: '\u0441',
  e: '\u0435',
  i: '\u0456\u03b9\u0131',
  j: '\u0458',
  o: '\u043e\u03bf',
  p: '\u0440\u03c1',
  s: '\u0455',
  x: '\u0445',
  y: '\u0443',
};
const INVISIBLES = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e', '\ufe0f'];

/** One way to write `char` that looks like it: itself, fullwidth, a homoglyph, or with an accent. */
const disguisedChar = (char: string): fc.Arbitrary<string> => {
  const forms = [fc.constant(char)];
  const code = char.charCodeAt(0);
  if (code >= 0x21 && code <= 0x7e) forms.push(fc.constant(String.fromCharCode(code + 0xfee0)));
  if (HOMOGLYPHS[char]) forms.push(fc.constantFrom(...HOMOGLYPHS[char]));
  if (/[a-z]/.test(char))
    forms.push(fc.integer({ min: 0x300, max: 0x36f }).map((mark) => char + String.fromCharCode(mark)));
  return fc.oneof(...forms);
};

/** `word` with each character disguised and invisible characters inserted anywhere. */
const disguised = (word: string): fc.Arbitrary<string> =>
  fc
    .tuple(
      ...[...word].map((char) =>
        fc.tuple(disguisedChar(char), fc.array(fc.constantFrom(...INVISIBLES), { maxLength: 2 })),
      ),
    )
    .map((parts) => parts.map(([char, invisible]) => char + invisible.join('')).join(''));

const ONE_ASCII = { unit: 'binary-ascii', minLength: 1, maxLength: 1 } as const;
const ONE_ANY = { unit: 'binary', minLength: 1, maxLength: 1 } as const;

describe('assessSecret (properties)', () => {
  it('keeps refusing a weak word, demo secret or marker written with lookalikes and invisible characters (seeded)', () => {
    const around = fc.stringMatching(/^[A-Za-z0-9]{0,12}$/);
    const word = fc.constantFrom(...REFUSED_WORDS);
    fc.assert(
      fc.property(
        word.chain((w) => fc.tuple(fc.constant(w), disguised(w))),
        around,
        around,
        fc.constantFrom<SecretKind>('key', 'password', 'token'),
        ([plain, hidden], before, after, kind) => {
          const plainRules = assessSecret(`${before}${plain}${after}`, { kind }).filter((r) => WORD_RULES.includes(r));
          const hiddenRules = assessSecret(`${before}${hidden}${after}`, { kind });
          // Exact entries (`iloveyou`) are refused alone or with digits around, not inside other letters.
          fc.pre(plainRules.length > 0);
          expect(hiddenRules).toEqual(expect.arrayContaining(plainRules));
        },
      ),
      { seed: 0x100c, numRuns: 1000 },
    );
  });

  it('always refuses a value listed in its own denylist, whatever its characters (seeded)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.string(ONE_ASCII), fc.string(ONE_ANY)), minLength: 1 }), (value) => {
        // A value with nothing the rules compare (no Latin letter or digit once folded) matches nothing.
        fc.pre(/[A-Za-z0-9@$]/.test(foldLookalikes(value)));
        const rules = assessSecret(value, { kind: 'key', denylist: [value] });
        expect(rules).toContain('known-demo');
      }),
      { seed: 0xde11, numRuns: 300 },
    );
  });

  it('never throws and always returns known rules', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom(...KINDS), (value, kind) => {
        for (const rule of assessSecret(value, { kind })) expect(Object.keys(WEAK_RULE_HINTS)).toContain(rule);
      }),
    );
  });
});

describe('assessSecret (encoded values)', () => {
  const encode = (text: string, encoding: (typeof ENCODINGS)[number]): string =>
    Buffer.from(text, 'utf8').toString(encoding);

  it('reads the decoded text of a hex, base64 or base64url value for demo secrets, denylists and the dev marker', () => {
    const jwtIo = 'a-string-secret-at-least-256-bits-long';
    const supabase = 'super-secret-jwt-token-with-at-least-32-characters-long';
    expect(assessSecret(encode(jwtIo, 'base64'), { kind: 'jwt-hs256', encoding: 'base64' })).toContain('known-demo');
    for (const encoding of ENCODINGS) {
      expect(assessSecret(encode(supabase, encoding), { kind: 'jwt-hs256', encoding }), encoding).toContain(
        'known-demo',
      );
    }
    const dev = generateDevSecret(32);
    expect(assessSecret(encode(dev, 'base64url'), { kind: 'key', encoding: 'base64url' })).toContain('dev-marker');
    const leaked = randomBytes(24).toString('base64url');
    expect(assessSecret(encode(leaked, 'base64'), { kind: 'key', encoding: 'base64', denylist: [leaked] })).toContain(
      'known-demo',
    );
    expect(
      assessSecret(encode('<your-api-key-goes-here-please-xx>', 'hex'), { kind: 'key', encoding: 'hex' }),
    ).toContain('placeholder');
    expect(
      assessSecret(encode('correct horse battery staple password!', 'base64'), { kind: 'key', encoding: 'base64' }),
    ).toContain('weak-word');
  });

  it('still checks the encoded text itself, and leaves random bytes that are not UTF-8 alone', () => {
    // The encoded text of a base64 value can be a demo secret on its own (the Azurite account key).
    const azurite = KNOWN_DEMO_SECRETS.find((entry) => entry.origin.startsWith('Azure Storage emulator (Azurite)'))!;
    expect(assessSecret(azurite.value, { kind: 'key', encoding: 'base64' })).toContain('known-demo');
    const next = seeded(0xb17e);
    for (const encoding of ENCODINGS) {
      for (let i = 0; i < 300; i++) {
        const value = Buffer.from(Array.from({ length: 32 }, () => next(256))).toString(encoding);
        expect(assessSecret(value, { kind: 'key', encoding }), value).toEqual([]);
      }
    }
  });

  it('refuses every built-in demo secret in every encoding (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KNOWN_DEMO_SECRETS),
        fc.constantFrom(...ENCODINGS),
        fc.stringMatching(/^[A-Za-z0-9]{0,16}$/),
        fc.constantFrom<SecretKind>('key', 'password', 'token', 'jwt-hs256'),
        (entry, encoding, tail, kind) => {
          // Exact entries are refused alone (or with digits added); the others with anything after them.
          const text = entry.match === 'exact' ? entry.value : `${entry.value}${tail}`;
          expect(assessSecret(encode(text, encoding), { kind, encoding }), `${entry.value} as ${encoding}`).toContain(
            'known-demo',
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('assessSecret (encoded copies under the default utf8 encoding)', () => {
  const encodings = ['hex', 'base64', 'base64url'] as const;
  const encode = (text: string, encoding: (typeof encodings)[number]): string =>
    Buffer.from(text, 'utf8').toString(encoding);

  it('reads a hex, base64 or base64url copy of a demo or dev secret when no encoding is declared', () => {
    // A Kubernetes Secret's base64 `data:` copied into an env var: the service uses the encoded text.
    const supabase = 'super-secret-jwt-token-with-at-least-32-characters-long';
    const dev = generateDevSecret(32);
    for (const encoding of encodings) {
      expect(assessSecret(encode(supabase, encoding), { kind: 'jwt-hs256' }), encoding).toContain('known-demo');
      expect(assessSecret(encode(dev, encoding), { kind: 'key' }), encoding).toContain('dev-marker');
    }
    expect(assessSecret(encode(encode(supabase, 'base64'), 'base64'), { kind: 'jwt-hs256' })).toContain('known-demo');
    expect(assessSecret(encode(encode(dev, 'hex'), 'base64url'), { kind: 'key' })).toContain('dev-marker');
    const django = `django-insecure-${randomBytes(30).toString('base64url')}`;
    expect(assessSecret(encode(django, 'base64'), { kind: 'key' })).toContain('known-demo');
    // Declared encodings see through a second layer too.
    expect(assessSecret(encode(encode(supabase, 'base64'), 'hex'), { kind: 'jwt-hs256', encoding: 'hex' })).toContain(
      'known-demo',
    );
  });

  it('goes no deeper than two encodings', () => {
    const supabase = 'super-secret-jwt-token-with-at-least-32-characters-long';
    const triple = encode(encode(encode(supabase, 'base64'), 'base64'), 'base64');
    expect(assessSecret(triple, { kind: 'jwt-hs256' })).not.toContain('known-demo');
  });

  it('refuses a base64 copy of a demo secret in production through loadConfigSync()', () => {
    let thrown: unknown;
    try {
      loadConfigSync(
        { JWT: secret({ kind: 'jwt-hs256', sources: ['env'] }) },
        {
          env: {
            JWT: encode('super-secret-jwt-token-with-at-least-32-characters-long', 'base64'),
            NODE_ENV: 'production',
          },
        },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).issues?.[0]?.rules).toContain('known-demo');
  });

  it("finds no text in random keys of each kind's length in any encoding (property)", () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom(...KINDS)
          .chain((kind) =>
            fc.tuple(
              fc.constant(kind),
              fc.uint8Array({ minLength: minimumSecretBytes(kind), maxLength: minimumSecretBytes(kind) + 16 }),
            ),
          ),
        fc.constantFrom(...encodings),
        ([kind, bytes], encoding) => {
          const value = Buffer.from(bytes).toString(encoding);
          expect(encodedTexts(value, 'utf8'), value).toEqual([]);
          expect(assessSecret(value, { kind }), value).toEqual([]);
        },
      ),
      // Seeded like the samples above: a random base64 key spells a weak word by chance about once
      // in 375 000, which the rules flag by design.
      { numRuns: 3000, seed: 0x16 },
    );
  });
});

describe('assessSecret (known-demo prefixes)', () => {
  it('finds a prefix entry in a value pasted with its quotes or its NAME= line', () => {
    const tail = randomBytes(24).toString('hex');
    for (const prefix of ['sk_test_', 'rk_test_', 'django-insecure-']) {
      for (const value of [
        `"${prefix}${tail}"`,
        `'${prefix}${tail}'`,
        `\`${prefix}${tail}\``,
        `STRIPE_KEY=${prefix}${tail}`,
        `export SECRET_KEY="${prefix}${tail}"`,
        `SECRET_KEY = '${prefix}${tail}'`,
      ]) {
        expect(assessSecret(value, { kind: 'key' }), value).toContain('known-demo');
      }
    }
  });
});

describe('assessSecret (options)', () => {
  it('throws ERR_CONFIG_SCHEMA for a minBytes that is not a positive safe integer, never quoting the value', () => {
    const value = `Zq${randomBytes(32).toString('base64url')}`;
    for (const minBytes of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 60, 'abc', '32', null]) {
      let thrown: unknown;
      try {
        assessSecret(value, { kind: 'key', minBytes: minBytes as never });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(minBytes)).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_SCHEMA');
      expect((thrown as ConfigError).message).toMatch(/minBytes must be a positive (safe )?integer/);
      expect((thrown as ConfigError).message).not.toContain(value.slice(0, 8));
    }
    expect(assessSecret(value, { kind: 'key', minBytes: 64 })).toContain('too-short');
    for (const options of [{ kind: 'toString' }, { kind: 'rsa' }, { encoding: 'latin1' }]) {
      expect(() => assessSecret(value, options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA' }),
      );
    }
  });

  it('throws ERR_CONFIG_SCHEMA for a denylist that is not a list of strings, as secret() does', () => {
    // Read as given, a string or a number in the list threw a TypeError.
    const value = `Zq${randomBytes(32).toString('base64url')}`;
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const denylist of ['a', [5], [, 'old-key'], new Array(1), new Set(['old-key']), null, {}]) {
      expect(() => assessSecret(value, { denylist: denylist as never })).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFIG_SCHEMA',
          message: expect.stringMatching(/^assessSecret\(\): denylist must be a list of strings/),
        }),
      );
    }
    expect(assessSecret(`our-old-staging-key-${value}`, { denylist: ['our-old-staging-key'] })).toContain('known-demo');
    expect(assessSecret(value, { denylist: [] })).toEqual([]);
  });
});

describe('assessSecret (PEM keys)', () => {
  // The armor lines repeat each other (` PRIVATE KEY-----` in BEGIN and END), and so does their
  // base64: every PEM key was refused as `repeated-pattern`, raw or base64-encoded.
  const pems = [
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
  ].map(String);

  it('measures a PEM key by its body, raw, base64-encoded or declared base64', () => {
    for (const pem of pems) {
      const raw = pem.trim();
      expect(assessSecret(raw, { kind: 'key' }), raw.split('\n')[0]).toEqual([]);
      expect(assessSecret(raw.replaceAll('\n', '\r\n'), { kind: 'key' })).toEqual([]);
      const encoded = Buffer.from(pem).toString('base64');
      expect(assessSecret(encoded, { kind: 'key' })).toEqual([]);
      expect(assessSecret(encoded, { kind: 'key', encoding: 'base64' })).toEqual([]);
    }
  });

  it('still refuses a PEM block whose body is weak, and keeps the whitespace rule on the value', () => {
    const weak = `-----BEGIN PRIVATE KEY-----\n${'QUFBQUFBQUFB'.repeat(6)}\n-----END PRIVATE KEY-----`;
    expect(assessSecret(weak, { kind: 'key' })).toContain('repeated-pattern');
    expect(assessSecret(`${(pems[0] as string).trim()}\n`, { kind: 'key' })).toEqual(['surrounding-whitespace']);
  });
});

describe('assessSecret (encrypted PEM keys)', () => {
  // A legacy encrypted key (`openssl genrsa -aes256`, node:crypto's pkcs1/sec1 with a cipher) has
  // RFC 1421 headers between BEGIN and the body; such a block was measured as written and refused
  // as `repeated-pattern` (the armor repeats), raw or encoded.
  const passphrase = randomBytes(16).toString('hex');
  const encrypted = (cipher: string): string[] => [
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem', cipher, passphrase },
    }).privateKey,
    generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'sec1', format: 'pem', cipher, passphrase },
    }).privateKey,
  ];
  const pems = [...encrypted('aes-256-cbc'), ...encrypted('des-ede3-cbc')];
  const forms = (pem: string): [string, AssessSecretOptions][] => [
    [pem.trim(), { kind: 'key' }],
    [pem.trim().replaceAll('\n', '\r\n'), { kind: 'key' }],
    ...ENCODINGS.flatMap((encoding): [string, AssessSecretOptions][] => [
      [Buffer.from(pem).toString(encoding), { kind: 'key' }],
      [Buffer.from(pem).toString(encoding), { kind: 'key', encoding }],
    ]),
  ];
  const header = (iv: string): string => `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${iv}\n\n`;
  const block = (label: string, headers: string, body: string): string =>
    `-----BEGIN ${label}-----\n${headers}${body.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END ${label}-----\n`;

  it('measures an encrypted PEM key by its body, raw or in any encoding', () => {
    for (const pem of pems) {
      expect(pem).toContain('Proc-Type: 4,ENCRYPTED');
      for (const [value, options] of forms(pem)) expect(assessSecret(value, options), pem.split('\n')[2]).toEqual([]);
    }
  });

  it('still refuses a weak body behind the headers: repeated, short, or a known value', () => {
    const iv = randomBytes(16).toString('hex').toUpperCase();
    const weak: [string, string][] = [
      [block('RSA PRIVATE KEY', header(iv), 'QUFBQUFBQUFB'.repeat(20)), 'repeated-pattern'],
      // 9 random bytes: the armor and headers are not key bytes.
      [block('EC PRIVATE KEY', header(iv), randomBytes(9).toString('base64')), 'too-short'],
      [
        block(
          'RSA PRIVATE KEY',
          header(iv),
          'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
        ),
        'known-demo',
      ],
    ];
    for (const [pem, rule] of weak)
      for (const [value, options] of forms(pem))
        expect(assessSecret(value, options), `${rule} ${options.encoding}`).toContain(rule);
    // The same holds without headers.
    expect(assessSecret(block('PRIVATE KEY', '', randomBytes(9).toString('base64')), { kind: 'key' })).toContain(
      'too-short',
    );
  });

  it('measures a block with headers it does not recognise as written, so they cannot hide a weak body', () => {
    const iv = randomBytes(16).toString('hex').toUpperCase();
    const body = 'QUFBQUFBQUFB'.repeat(20);
    const odd = [
      'Proc-Type: 4,ENCRYPTED\n\n', // no DEK-Info
      `DEK-Info: AES-256-CBC,${iv}\n\n`, // no Proc-Type
      `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${iv}\n`, // no blank line
      `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${iv}\nComment: ${randomBytes(48).toString('base64')}\n\n`,
      `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,not-an-iv-${randomBytes(48).toString('base64')}\n\n`,
      `Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,${iv}${iv}\n\n`,
      `Proc-Type: 4,MIC-ONLY\nDEK-Info: AES-256-CBC,${iv}\n\n`,
    ];
    for (const headers of odd)
      for (const [value, options] of forms(block('RSA PRIVATE KEY', headers, body)))
        expect(assessSecret(value, options), `${headers} ${options.encoding}`).toContain('repeated-pattern');
    // Headers only where OpenSSL writes them, and BEGIN and END must agree.
    for (const [value, options] of [
      ...forms(block('PRIVATE KEY', header(iv), body)),
      ...forms(block('RSA PRIVATE KEY', header(iv), body).replace('END RSA', 'END EC')),
    ])
      expect(assessSecret(value, options), options.encoding).toContain('repeated-pattern');
  });

  it('accepts random encrypted PEM keys and refuses repeated bodies in every encoding (property)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 90, max: 1300 }),
        fc.constantFrom(...ENCODINGS),
        (seed, length, encoding) => {
          const next = seeded(seed);
          const bytes = Buffer.from(Array.from({ length }, () => next(256)));
          const iv = Buffer.from(Array.from({ length: 16 }, () => next(256)))
            .toString('hex')
            .toUpperCase();
          const strong = block('RSA PRIVATE KEY', header(iv), bytes.toString('base64'));
          const weak = block('RSA PRIVATE KEY', header(iv), bytes.subarray(0, 30).toString('base64').repeat(8));
          for (const [value, options] of [
            [strong, { kind: 'key' }],
            [Buffer.from(strong).toString(encoding), { kind: 'key' }],
            [Buffer.from(strong).toString(encoding), { kind: 'key', encoding }],
          ] as const) {
            expect(assessSecret(value, options), value).not.toEqual(
              expect.arrayContaining([expect.stringMatching(PATTERN_RULES)]),
            );
          }
          expect(assessSecret(weak, { kind: 'key' })).toContain('repeated-pattern');
          expect(assessSecret(Buffer.from(weak).toString(encoding), { kind: 'key' })).toContain('repeated-pattern');
          expect(assessSecret(Buffer.from(weak).toString(encoding), { kind: 'key', encoding })).toContain(
            'repeated-pattern',
          );
        },
      ),
      { seed: 0x1421, numRuns: 300 },
    );
  });
});

describe('assessSecret (JSON credential bundles)', () => {
  // A bundle's keys and quotes repeat (`"client_` in `client_id` and `client_secret`), and hex
  // doubles every repeat of its text: the hex of a bundle was refused as `repeated-pattern` while
  // its base64 was accepted, and a service-account JSON was refused in every form.
  const pkcs8 = String(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  const serviceAccount = (privateKey: string): string => JSON.stringify(gcpServiceAccount(privateKey), null, 2);

  it('measures a bundle by its values, not its keys and quotes, in every encoding', () => {
    const client = JSON.stringify({ client_id: random(24), client_secret: random(32) });
    // Its key names are its format: `client_secret` once made every OAuth client a `weak-word`.
    for (const [value, options] of everyForm(client))
      expect(assessSecret(value, options), `${options.encoding} ${value}`).toEqual([]);
    for (const [value, options] of everyForm(serviceAccount(pkcs8)))
      expect(assessSecret(value, options), `${options.encoding}`).toEqual([]);
  });

  it('still refuses a bundle with a weak value, or a known one, in every encoding', () => {
    const id = random(24);
    const weak: [string, string][] = [
      [JSON.stringify({ id, key: `${id.slice(0, 6)}`.repeat(8) }), 'repeated-pattern'],
      [JSON.stringify({ id, key: `${random(12)}abcdefghijkl` }), 'sequential'],
      [JSON.stringify({ key: 'aAaAaAbBbBbBaAaAbBbB' }), 'few-distinct-characters'],
      [JSON.stringify({ id, jwt: 'super-secret-jwt-token-with-at-least-32-characters-long' }), 'known-demo'],
      [
        serviceAccount(`-----BEGIN PRIVATE KEY-----\n${'QUFBQUFBQUFB'.repeat(6)}\n-----END PRIVATE KEY-----\n`),
        'repeated-pattern',
      ],
    ];
    for (const [bundle, rule] of weak)
      for (const [value, options] of everyForm(bundle))
        expect(assessSecret(value, options), `${rule} ${options.encoding} ${value.slice(0, 2)}`).toContain(rule);
  });

  it('accepts random-keyed bundles and refuses a repeated secret, or a repeated value where no key names one, in every encoding (property)', () => {
    const names = fc.uniqueArray(
      fc.constantFrom(
        'client_id',
        'client_key',
        'api_key',
        'access_key_id',
        'private_key_id',
        'tenant_id',
        'key',
        'token',
        'app_id',
      ),
      { minLength: 1, maxLength: 5 },
    );
    fc.assert(
      fc.property(fc.integer(), names, fc.boolean(), fc.constantFrom(...ENCODINGS), (seed, keys, withPem, encoding) => {
        const next = seeded(seed);
        const bytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => next(256)));
        const values = keys.map((_, i) => bytes(24 + 8 * i).toString(i % 2 === 0 ? 'base64url' : 'hex'));
        const bundle: Record<string, string> = Object.fromEntries(keys.map((key, i) => [key, values[i] as string]));
        if (withPem)
          bundle.private_key = `-----BEGIN PRIVATE KEY-----\n${bytes(138).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
        const strong = JSON.stringify(bundle);
        for (const [value, options] of everyForm(strong).filter(
          ([, o]) => o.encoding === undefined || o.encoding === encoding,
        ))
          expect(assessSecret(value, options), `${options.encoding} ${strong}`).toEqual([]);
        // A repeated value is refused under a key that names a secret, or in a bundle without one;
        // beside a secret (the PEM key), a repeated id is not the secret and is not measured as one.
        const secretKeys = keys.filter((key) => ['client_key', 'api_key', 'key', 'token'].includes(key));
        const refused = secretKeys.length > 0 || !withPem;
        const weak = JSON.stringify({
          ...bundle,
          [secretKeys[0] ?? (keys[0] as string)]: bytes(5).toString('hex').repeat(4),
        });
        for (const [value, options] of everyForm(weak).filter(
          ([, o]) => o.encoding === undefined || o.encoding === encoding,
        )) {
          if (refused)
            expect(assessSecret(value, options), `${options.encoding} ${weak}`).toContain('repeated-pattern');
          else expect(assessSecret(value, options), `${options.encoding} ${weak}`).toEqual([]);
        }
      }),
      { seed: 0x6c5, numRuns: 300 },
    );
  });
});

describe('assessSecret (arguments)', () => {
  it('throws ERR_CONFIG_SCHEMA for a value that is not a string, never quoting it', () => {
    // Node's own TypeError quoted the value ("Received type number (4242…)").
    for (const value of [424242424242, undefined, null, Buffer.from('abc'), { secret: 'x' }, ['s3cr3t']]) {
      let thrown: unknown;
      try {
        assessSecret(value as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(value)).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_SCHEMA');
      expect((thrown as ConfigError).message).toMatch(/^assessSecret\(\): the value must be a string/);
      expect((thrown as ConfigError).message).not.toMatch(/4242|abc|s3cr3t/);
    }
  });

  it('throws ERR_CONFIG_SCHEMA for options that are not an object (null threw a TypeError)', () => {
    const value = `Zq${randomBytes(32).toString('base64url')}`;
    for (const options of [null, 'key', 32, true, ['key']]) {
      expect(() => assessSecret(value, options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFIG_SCHEMA',
          message: expect.stringMatching(/^assessSecret\(\): options must be an object/),
        }),
      );
    }
    expect(assessSecret(value, undefined)).toEqual([]);
  });
});

describe('assessSecret (long values)', () => {
  // Each of these took seconds to minutes when a rule scanned the rest of the value from every
  // position; the default test timeout is the bound.
  it('assesses a long run of digits with a letter at either end in linear time', () => {
    const weak = ['low-entropy', 'few-distinct-characters', 'repeated-pattern'];
    expect(assessSecret(`${'7'.repeat(200_000)}a`).sort()).toEqual([...weak].sort());
    expect(assessSecret(`a${'7'.repeat(200_000)}`).sort()).toEqual([...weak].sort());
    // Digits added to an exact entry are still found, however many.
    expect(assessSecret(`${'7'.repeat(200_000)}admin`)).toContain('known-demo');
    expect(assessSecret(`admin${'7'.repeat(200_000)}`)).toContain('known-demo');
  });

  it('reads placeholder shapes in linear time', () => {
    expect(isPlaceholderShape('your'.repeat(50_000))).toBe(false);
    expect(isPlaceholderShape(`${'your'.repeat(50_000)}here`)).toBe(true);
    expect(isPlaceholderShape('${AAAAA:'.repeat(50_000))).toBe(false);
    expect(isPlaceholderShape(`${'${AAAAA:'.repeat(50_000)}}`)).toBe(true);
    expect(assessSecret('your'.repeat(50_000))).not.toContain('placeholder');
  });

  it('reads placeholder shapes as the former regular expressions did', () => {
    const here = /(your|insert|enter|paste).*here/;
    const interpolation = /\$\{(?:[A-Z_][A-Z0-9_]{4,}|[a-z_][a-z0-9_.]{4,})(?::[^}]*)?\}/;
    const piece = fc.constantFrom(
      'your',
      'insert',
      'here',
      'enter',
      'paste',
      '${',
      'NAME_',
      'name.',
      ':',
      '}',
      'x',
      '-',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const value = pieces.join('');
        const flat = value.toLowerCase().replace(/[^a-z0-9]/g, '');
        if (here.test(flat) || interpolation.test(value)) expect(isPlaceholderShape(value)).toBe(true);
      }),
      { seed: 0x91ace, numRuns: 3000 },
    );
  });
});

describe('assessSecret (structured text found in an undeclared encoding)', () => {
  const encode = (text: string, encoding: 'hex' | 'base64' | 'base64url'): string =>
    Buffer.from(text, 'utf8').toString(encoding);
  const random = 'k7Qm2VxR9tLp4ZwNc8HbJ3yFs6GdA1eUo5TiPrKnM0q';
  const WORD_RULES = /^(?:weak-word|known-demo|placeholder|dev-marker)$/;

  it('does not read words in the text a utf8 value decodes to: real services store JSON and JAAS secrets encoded', () => {
    const probes = [
      `{"auths":{"registry.acme.io":{"username":"deploy-bot","password":"${random}","auth":"${encode(`deploy-bot:${random}`, 'base64')}"}}}`,
      `{"clientId":"0oa9f3kq2vXbN7rT1d","clientSecret":"${random}","issuer":"https://login.acme.io/oauth2/default"}`,
      `org.apache.kafka.common.security.plain.PlainLoginModule required username="svc" password="${random}";`,
    ];
    for (const probe of probes) {
      for (const encoding of ['base64', 'base64url'] as const) {
        expect(assessSecret(encode(probe, encoding), { kind: 'key' }), `${encoding} ${probe}`).toEqual([]);
      }
      // Hex repeats every 4-byte stretch of the text (`auth` in `auths` and `"auth"`): a JSON
      // bundle is measured by its values, so only the JAAS line, measured as written, can still
      // break the repeated-pattern rule; no word rule reads the text.
      if (probe.startsWith('{'))
        expect(assessSecret(encode(probe, 'hex'), { kind: 'key' }), `hex ${probe}`).toEqual([]);
      expect(assessSecret(encode(probe, 'hex'), { kind: 'key' }), `hex ${probe}`).not.toEqual(
        expect.arrayContaining([expect.stringMatching(WORD_RULES)]),
      );
      // Declared, the decoded text is the secret itself and every word rule reads it; a JSON
      // bundle's key names (`"password":`) are its format, and only its values are read.
      const declared = assessSecret(encode(probe, 'base64'), { kind: 'key', encoding: 'base64' });
      if (probe.startsWith('{')) expect(declared).toEqual([]);
      else expect(declared).toContain('weak-word');
    }
  });

  it('still refuses an undeclared encoded copy of a demo, denylisted, dev or placeholder value', () => {
    const dev = generateDevSecret(32);
    for (const encoding of ['hex', 'base64'] as const) {
      expect(assessSecret(encode('super-secret-jwt-token-with-at-least-32-characters-long', encoding))).toContain(
        'known-demo',
      );
      expect(assessSecret(encode(`django-insecure-${random}`, encoding))).toContain('known-demo');
      expect(assessSecret(encode(dev, encoding))).toContain('dev-marker');
      expect(
        assessSecret(encode(`our-old-staging-key-${random}`, encoding), { denylist: ['our-old-staging-key'] }),
      ).toContain('known-demo');
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder shape under test
      expect(assessSecret(encode('${JWT_SIGNING_SECRET}', encoding))).toContain('placeholder');
    }
  });

  const pem = (body: string): string =>
    `-----BEGIN PRIVATE KEY-----\n${body.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;

  it('does not find short demo entries or placeholder words by chance in a long decoded PEM key', () => {
    // Each of these once refused a base64-encoded PEM key: `MYkeY` spelled mykey, `Shhhhh` a demo
    // entry, `YOUR…HeRe` a placeholder prompt.
    const body = `${randomBytes(600).toString('base64')}D4xBSxMYkeY0Shhhhh1YOUR2${randomBytes(300).toString('base64')}HeRe3${randomBytes(300).toString('base64')}`;
    expect(assessSecret(encode(pem(body), 'base64'), { kind: 'key' })).toEqual([]);
  });

  it('refuses no base64-encoded random PEM key (seeded property)', () => {
    // Uniform bytes from the seeded generator: fast-check's own arrays favour zeros, and a key of
    // zeros is rightly refused for its low entropy.
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 900, max: 1300 }), (seed, length) => {
        const next = seeded(seed);
        const bytes = Buffer.from(Array.from({ length }, () => next(256)));
        const value = encode(pem(bytes.toString('base64')), 'base64');
        // Only the word rules: base64 of the `-----BEGIN/END PRIVATE KEY-----` lines repeats an
        // 8-character stretch whenever both fall on the same 3-byte alignment (repeated-pattern).
        expect(assessSecret(value, { kind: 'key' }), value).not.toEqual(
          expect.arrayContaining([expect.stringMatching(WORD_RULES)]),
        );
      }),
      { seed: 0x9e3, numRuns: 1000 },
    );
  });

  it('refuses none of the random keys that once spelled `mykey`', () => {
    expect(assessSecret('o7dpsX3UGAV2Z6phR/dCMBcsL3r7N1OQLL/5MYkeYKA=', { kind: 'key' })).toEqual([]);
    expect(
      assessSecret('qpgWD7U74VPw4akaTw33l7DdLHdfPSD5QyDPXQyNknIymYK3Y/PVUjU/QOnSCcPUCO1EHeKh7/ve3WjOWkm7pw==', {
        kind: 'jwt-hs512',
      }),
    ).toEqual([]);
  });
});
