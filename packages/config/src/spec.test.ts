import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { errorOf } from '../test/config-error.ts';
import { ConfigError } from './errors.ts';
import { loadConfigSync } from './load.ts';
import { boolean, duration, number, oneOf, port, string, url } from './scalars.ts';
import type { Secret } from './secret.ts';
import { secret } from './secret-spec.ts';
import type { InferConfig, Schema } from './spec.ts';
import { json, list } from './structured.ts';

const TEST = { NODE_ENV: 'test' } as const;

describe('InferConfig', () => {
  it('infers every kind, optional keys and Standard Schema outputs', () => {
    const schema = {
      NAME: string(),
      MAYBE: string({ optional: true }),
      COUNT: number({ default: 1 }),
      PORT: port(),
      DEBUG: boolean({ default: false }),
      ISSUER: url(),
      LEVEL: oneOf(['debug', 'info'], { default: 'info' }),
      TTL: duration({ default: '5m' }),
      ORIGINS: list({ of: url() }),
      TAGS: list(),
      LIMITS: json({ schema: z.object({ perMinute: z.number() }) }),
      RAW: json(),
      KEY: secret({ kind: 'jwt-hs256' }),
      OPTIONAL_KEY: secret({ optional: true }),
      MODE: z.enum(['a', 'b']),
      RETRIES: v.pipe(v.string(), v.transform(Number)),
    } satisfies Schema;
    type C = InferConfig<typeof schema>;
    expectTypeOf<C['NAME']>().toEqualTypeOf<string>();
    expectTypeOf<C['MAYBE']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<C['COUNT']>().toEqualTypeOf<number>();
    expectTypeOf<C['PORT']>().toEqualTypeOf<number>();
    expectTypeOf<C['DEBUG']>().toEqualTypeOf<boolean>();
    expectTypeOf<C['ISSUER']>().toEqualTypeOf<string>();
    expectTypeOf<C['LEVEL']>().toEqualTypeOf<'debug' | 'info'>();
    expectTypeOf<C['TTL']>().toEqualTypeOf<number>();
    expectTypeOf<C['ORIGINS']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<C['TAGS']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<C['LIMITS']>().toEqualTypeOf<{ readonly perMinute: number }>();
    expectTypeOf<C['RAW']>().toEqualTypeOf<unknown>();
    expectTypeOf<C['KEY']>().toEqualTypeOf<Secret>();
    expectTypeOf<C['OPTIONAL_KEY']>().toEqualTypeOf<Secret | undefined>();
    expectTypeOf<C['MODE']>().toEqualTypeOf<'a' | 'b'>();
    expectTypeOf<C['RETRIES']>().toEqualTypeOf<number>();
  });
});

describe('secret', () => {
  it('has no default at the type level or at run time', () => {
    // @ts-expect-error secrets have no default
    expect(() => secret({ default: 'dev-key' })).toThrow(ConfigError);
    // @ts-expect-error secrets have no devDefault either
    expect(() => secret({ devDefault: 'dev-key' })).toThrow(/does not accept `devDefault`/);
    expect(() => secret({ fallback: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA' }));
  });

  it('refuses unknown kinds, encodings and sources', () => {
    expect(() => secret({ kind: 'rsa' as never })).toThrow(/kind must be one of/);
    expect(() => secret({ encoding: 'latin1' as never })).toThrow(/encoding/);
    expect(() => secret({ sources: [] })).toThrow(/sources/);
  });

  it('refuses a minBytes that is not a positive safe integer', () => {
    for (const minBytes of [Number.NaN, 0, -32, 1.5, Number.POSITIVE_INFINITY, 2 ** 60, 'abc', '64', null]) {
      expect(() => secret({ minBytes: minBytes as never }), String(minBytes)).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFIG_SCHEMA',
          message: expect.stringMatching(/minBytes must be a positive safe integer/),
        }),
      );
    }
    expect(secret({ minBytes: 64 }).secret?.minBytes).toBe(64);
  });
});

describe('string, number, port, boolean, url, oneOf, duration, list, json', () => {
  it('validate defaults when the schema is defined', () => {
    expect(() => port({ default: 70_000 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA' }));
    expect(() => url({ default: 'not a url' })).toThrow(/default is invalid/);
    expect(() => oneOf(['a', 'b'], { default: 'c' as 'a' })).toThrow(/default is invalid/);
    expect(() => duration({ default: 'soon' })).toThrow(/not a duration/);
    expect(() => string({ defualt: 'x' } as never)).toThrow(/defualt/);
  });

  it('parse what they promise and refuse the rest', () => {
    const schema = {
      A: number({ integer: true, min: 0 }),
      B: boolean(),
      C: port(),
      D: url({ protocols: ['https:'] }),
      E: list({ of: port(), separator: ';' }),
      F: duration(),
      G: json({ schema: z.object({ n: z.number() }) }),
      H: string({ pattern: /[a-z]+/ }),
    };
    const config = loadConfigSync(schema, {
      env: {
        ...TEST,
        A: '42',
        B: 'Yes',
        C: '8080',
        D: 'https://x.test/',
        E: '1; 2;3',
        F: '1h30m',
        G: '{"n":1}',
        H: 'abc',
      },
    });
    expect(config).toEqual({
      A: 42,
      B: true,
      C: 8080,
      D: 'https://x.test/',
      E: [1, 2, 3],
      F: 5_400_000,
      G: { n: 1 },
      H: 'abc',
    });
    const error = errorOf(() =>
      loadConfigSync(schema, {
        env: {
          ...TEST,
          A: '1.5',
          B: 'maybe',
          C: '0',
          D: 'http://x.test',
          E: '1;;2',
          F: '10',
          G: '{"n":"1"}',
          H: 'abc1',
        },
      }),
    );
    expect(error.issues.map((issue) => [issue.key, issue.code])).toEqual(
      ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'].map((key) => [key, 'invalid']),
    );
  });

  it('refuse URLs that embed a password unless allowed', () => {
    const env = { ...TEST, DB: 'postgres://app:hunter2hunter2@db.internal/app' };
    expect(errorOf(() => loadConfigSync({ DB: url() }, { env })).issues[0]?.message).toMatch(/embeds a password/);
    expect(loadConfigSync({ DB: url({ allowCredentials: true }) }, { env }).DB).toBe(env.DB);
  });

  it('refuse URLs that carry a credential in a query parameter unless allowed, naming the parameter only', () => {
    const cases = [
      ['postgres://app@db.internal/prod?password=hunter2hunter2', 'password'],
      ['mongodb://db.internal/prod?authSource=admin&password=hunter2hunter2', 'password'],
      ['https://api.example.com/v1?api_key=hunter2hunter2', 'api_key'],
      ['https://api.example.com/v1?x=1&API-Key=hunter2hunter2', 'API-Key'],
      ['https://api.example.com/v1?apikey=hunter2hunter2', 'apikey'],
      ['https://auth.example.com/cb?client_secret=hunter2hunter2', 'client_secret'],
      ['https://api.example.com/v1?access_token=hunter2hunter2', 'access_token'],
      ['https://api.example.com/v1?Token=hunter2hunter2', 'Token'],
      ['mysql://app@db.internal/prod?pwd=hunter2hunter2', 'pwd'],
      ['postgres://app@db.internal/prod?sslmode=verify-full&sslpassword=hunter2hunter2', 'sslpassword'],
      ['https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=hunter2hunter2', 'sig'],
    ] as const;
    for (const [value, name] of cases) {
      const env = { ...TEST, U: value };
      const issue = errorOf(() => loadConfigSync({ U: url() }, { env })).issues[0];
      expect(issue?.code, value).toBe('invalid');
      expect(issue?.message, value).toContain(`query parameter ${name}`);
      expect(issue?.message, value).not.toContain('hunter2');
      expect(loadConfigSync({ U: url({ allowCredentials: true }) }, { env }).U).toBe(value);
    }
    // Ordinary parameters, and an empty credential parameter, are fine.
    for (const value of [
      'postgres://app@db.internal/prod?sslmode=verify-full&application_name=billing',
      'mongodb://db.internal/prod?authSource=admin&replicaSet=rs0',
      'https://api.example.com/v1?page=2&passive=true&tokens_per_minute=10',
      'postgres://app@db.internal/prod?password=',
    ]) {
      expect(loadConfigSync({ U: url() }, { env: { ...TEST, U: value } }).U).toBe(value);
    }
  });

  it('number parsing accepts exactly decimal numbers', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const parsed = number().parse(String(n));
        expect(parsed).toEqual({ ok: true, value: Number(String(n)) });
      }),
    );
    for (const bad of ['', ' ', '0x10', 'Infinity', '1e', '--1', '1,5', 'NaN']) {
      expect(number().parse(bad).ok).toBe(false);
    }
  });
});

describe('spec parsers (properties)', () => {
  it('boolean() accepts exactly its spellings in any case', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = boolean().parse(text);
        const known = ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(text.trim().toLowerCase());
        expect(parsed.ok).toBe(known);
      }),
    );
  });

  it('list() round-trips items that contain no separator', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[^,\s]+$/), { minLength: 1 }), (items) => {
        expect(list().parse(items.join(','))).toEqual({ ok: true, value: items });
        expect(list().parse(items.join(' , '))).toEqual({ ok: true, value: items });
      }),
    );
  });

  it('port() accepts exactly the integers 1-65535', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), (n) => {
        expect(port().parse(String(n)).ok).toBe(n >= 1 && n <= 65_535);
      }),
    );
  });

  it('no parser throws on arbitrary input', () => {
    const specs = [
      string(),
      number(),
      port(),
      boolean(),
      url(),
      oneOf(['a']),
      duration(),
      list({ of: port() }),
      json(),
      secret(),
    ];
    fc.assert(
      fc.property(fc.string(), (text) => {
        for (const spec of specs) spec.parse(text);
      }),
    );
  });
});
