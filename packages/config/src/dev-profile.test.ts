import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../test/config-error.ts';
import { generateDevProfile, parseDevProfile } from './dev-profile.ts';
import { loadConfigSync } from './load.ts';
import { port, string } from './scalars.ts';
import { decodeSecret } from './secret-encoding.ts';
import { secret } from './secret-spec.ts';
import { DEV_SECRET_PREFIX } from './weak-secret.ts';

describe('parseDevProfile', () => {
  it('reads assignments, export prefixes and quotes, and skips everything else', () => {
    const values = parseDevProfile('# comment\nexport A=1\nB = "two words"\nC=\'x=y\'\nnot an assignment\n\nD=\n');
    expect([...values]).toEqual([
      ['A', '1'],
      ['B', 'two words'],
      ['C', 'x=y'],
      ['D', ''],
    ]);
  });

  it('round-trips any single-line value', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,20}$/),
          fc.stringMatching(/^[^\r\n"'#\s][^\r\n]*[^\r\n\s"']$/),
        ),
        (entries) => {
          const text = Object.entries(entries)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n');
          expect(Object.fromEntries(parseDevProfile(text))).toEqual(entries);
        },
      ),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string(), (text) => void parseDevProfile(text)));
  });
});

describe('generateDevProfile', () => {
  it('gives every secret a fresh dev-marked value of its kind`s size and comments the other keys', () => {
    const schema = { PORT: port({ default: 3000 }), NAME: string(), KEY: secret({ kind: 'hmac-sha512' }) };
    const text = generateDevProfile(schema);
    const values = parseDevProfile(text);
    expect([...values.keys()]).toEqual(['KEY']);
    const key = values.get('KEY')!;
    expect(key.startsWith(DEV_SECRET_PREFIX)).toBe(true);
    expect(Buffer.from(key.slice(DEV_SECRET_PREFIX.length), 'base64url')).toHaveLength(64);
    expect(text).toMatch(/# NAME= \(required: a string\)/);
    expect(parseDevProfile(generateDevProfile(schema)).get('KEY')).not.toBe(key);
  });
});

describe('generateDevProfile (encodings)', () => {
  it('encodes secrets declared hex, base64 or base64url so they decode to the key length, and production refuses them', () => {
    const schema = {
      HMAC_HEX: secret({ kind: 'hmac-sha256', encoding: 'hex' }),
      AES_KEY: secret({ kind: 'key', encoding: 'base64' }),
      TOKEN: secret({ kind: 'token', encoding: 'base64url', minBytes: 48 }),
      JWT_KEY: secret({ kind: 'jwt-hs512', encoding: 'base64' }),
    };
    const expected = { HMAC_HEX: 32, AES_KEY: 32, TOKEN: 48, JWT_KEY: 64 };
    const dir = mkdtempSync(join(tmpdir(), 'rampart-dev-profile-'));
    try {
      const path = join(dir, '.env.development');
      writeFileSync(path, generateDevProfile(schema));
      const config = loadConfigSync(schema, { env: { NODE_ENV: 'development' }, devProfile: path });
      for (const [key, bytes] of Object.entries(expected)) {
        const spec = schema[key as keyof typeof schema];
        const value = config[key as keyof typeof schema].reveal();
        expect(decodeSecret(value, spec.secret!.encoding)?.bytes, key).toBe(bytes);
      }
      // A base64 AES-256 key is usable as one.
      expect(() =>
        createCipheriv('aes-256-gcm', Buffer.from(config.AES_KEY.reveal(), 'base64'), randomBytes(12)),
      ).not.toThrow();
      // The same values in production are refused as dev-marked.
      const values = Object.fromEntries(parseDevProfile(readFileSync(path, 'utf8')));
      const error = errorOf(() => loadConfigSync(schema, { env: values, secretSources: ['env'] }));
      expect(error.issues.map((issue) => [issue.key, issue.rules])).toEqual(
        Object.keys(expected).map((key) => [key, expect.arrayContaining(['dev-marker'])]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
