import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { carriedPasswords, jaasPasswords, libpqPasswords } from './carried-passwords.ts';

/** Text made of the characters these parsers treat specially, and a few others. */
const syntax = fc
  .array(
    fc.constantFrom(
      "'",
      '"',
      '\\',
      '=',
      ' ',
      '\t',
      '\n',
      ';',
      '{',
      '}',
      '/',
      '*',
      'a',
      'password',
      'required',
      '0',
      '7',
    ),
    {
      maxLength: 40,
    },
  )
  .map((chars) => chars.join(''));
/** An unquoted libpq value: no whitespace, no quote or backslash, not ending in `;`. */
const bare = fc.stringMatching(/^[A-Za-z0-9_.:/@-]{1,20}$/);
/** Any text a password may be, up to a line (a JAAS string ends at a line end). */
const password = fc.string({ unit: 'grapheme-composite', maxLength: 40 }).filter((text) => !/[\n\r]/.test(text));

describe('libpqPasswords', () => {
  it('never throws', () => {
    fc.assert(
      fc.property(fc.oneof(syntax, fc.string()), (text) => void libpqPasswords(text)),
      { seed: 0x5221 },
    );
  });

  it('reads a quoted password exactly, never past its closing quote', () => {
    fc.assert(
      fc.property(bare, password, bare, (host, secret, user) => {
        const quoted = secret.replaceAll('\\', '\\\\').replaceAll("'", "\\'");
        expect(libpqPasswords(`host=${host} password='${quoted}'user=${user} dbname='${quoted}'`)).toEqual([secret]);
      }),
      { seed: 0x5224 },
    );
  });

  it('reads an unquoted password to the next space, backslash escapes undone', () => {
    fc.assert(
      fc.property(bare, fc.stringMatching(/^[^\s]{1,30}$/), (host, secret) => {
        fc.pre(!secret.endsWith(';'));
        const escaped = secret.replaceAll('\\', '\\\\').replace(/^'/, "\\'");
        expect(libpqPasswords(`host=${host}\tpassword = ${escaped}  sslmode=require`)).toEqual([secret]);
      }),
      { seed: 0x5225 },
    );
  });

  it('reads sslpassword (the client key passphrase) as a password too', () => {
    expect(libpqPasswords("host=db sslkey=/k sslpassword='a b' password=c")).toEqual(['a b', 'c']);
    expect(libpqPasswords('host=db sslmode=verify-full')).toEqual([]);
  });

  it('is not a libpq string when ADO.NET or a single pair', () => {
    for (const text of [
      'Server=db; Password=hunter2;',
      'server=db; password=hunter2;',
      'password=hunter2',
      "host=db password='a",
    ])
      expect(libpqPasswords(text), text).toBeUndefined();
  });
});

describe('jaasPasswords', () => {
  it('never throws', () => {
    fc.assert(
      fc.property(fc.oneof(syntax, fc.string()), (text) => void jaasPasswords(text)),
      { seed: 0x5222 },
    );
  });

  it('reads a quoted password exactly, never past its closing quote', () => {
    fc.assert(
      fc.property(password, password, fc.constantFrom('"', "'"), (secret, user, quote) => {
        const q = (text: string): string =>
          quote + text.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`) + quote;
        expect(
          jaasPasswords(
            `org.apache.kafka.common.security.scram.ScramLoginModule required username=${q(user)} password=${q(secret)} tokenauth=${q(user)};`,
          ),
        ).toEqual([secret]);
      }),
      { seed: 0x5226 },
    );
  });

  it("reads a broker's user_ passwords and OAuth's clientSecret, in a JAAS file with comments", () => {
    const file = `KafkaServer {
      // the broker's own login, then its users
      org.apache.kafka.common.security.plain.PlainLoginModule required
        username="admin" password="p1" /* inline */ user_admin="p2" user_alice='p3';
    };
    KafkaClient { org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="ci" clientSecret="p4" scope="a\\"b"; };`;
    expect(jaasPasswords(file)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(
      jaasPasswords('Kerberos: com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true storeKey=true;'),
    ).toEqual([]);
    expect(jaasPasswords('a field is required here')).toEqual([]);
  });
});

describe('carriedPasswords', () => {
  it('never throws', () => {
    fc.assert(
      fc.property(fc.oneof(syntax, fc.string()), (text) => void carriedPasswords(text)),
      { seed: 0x5223 },
    );
  });

  it("returns a URL's password, not the username beside it; the username when it is the token", () => {
    expect(carriedPasswords('https://secure-deploy:abc@host')).toEqual(['abc']);
    expect(carriedPasswords('https://ops%40secureworks.com:abc@host')).toEqual(['abc']);
    expect(carriedPasswords('https://ghp_x:x-oauth-basic@host')).toEqual(['ghp_x']);
    expect(carriedPasswords('https://sk_live_x:@host')).toEqual(['sk_live_x']);
  });
});
