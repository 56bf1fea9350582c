import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateDevProfile, parseDevProfile } from './dev-profile.ts';
import { port, string } from './scalars.ts';
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
