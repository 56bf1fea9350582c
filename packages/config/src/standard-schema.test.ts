import { inspect } from 'node:util';
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorOf, rejectionOf } from '../test/config-error.ts';
import { ConfigError } from './errors.ts';
import { checkConfig, loadConfig, loadConfigSync } from './load.ts';
import { port } from './scalars.ts';
import { runValidator, type StandardSchemaV1 } from './standard-schema.ts';
import { json } from './structured.ts';

const VALUE = 'hunter2-Zx81kfP0qL2mVb7T';

/** A Standard Schema whose validate() does `behave` with the value: what a broken validator does. */
function validator(behave: (value: unknown) => unknown): StandardSchemaV1<unknown, string> {
  return { '~standard': { version: 1, vendor: 'test', validate: behave as never } };
}

/** Everything a ConfigError can print or serialize, checked for any 8-character piece of `value`. */
function expectNoValue(error: ConfigError, value: string): void {
  expect(error.cause).toBeUndefined();
  const output = [
    error.message,
    String(error.stack),
    JSON.stringify(error),
    inspect(error, { depth: 10, showHidden: true }),
  ].join('\n');
  for (let i = 0; i + 8 <= value.length; i++) expect(output).not.toContain(value.slice(i, i + 8));
}

describe('runValidator', () => {
  it('reports a throw, a rejection and a non-result by the kind of error only', async () => {
    expect(
      runValidator(
        validator(() => ({ value: 'ok' })),
        VALUE,
        VALUE,
      ),
    ).toEqual({ value: 'ok' });
    expect(
      runValidator(
        validator((value) => {
          throw new TypeError(`bad ${String(value)}`);
        }),
        VALUE,
        VALUE,
      ),
    ).toEqual({ broken: 'threw a TypeError instead of returning issues' });
    expect(
      await runValidator(
        validator(async (value) => {
          throw new RangeError(`bad ${String(value)}`);
        }),
        VALUE,
        VALUE,
      ),
    ).toEqual({ broken: 'returned a promise that rejected with a RangeError' });
    // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is what is under test
    const thenable = { then: (_: unknown, reject: (e: unknown) => void) => reject(new Error(VALUE)) };
    expect(
      await runValidator(
        validator(() => thenable),
        VALUE,
        VALUE,
      ),
    ).toEqual({
      broken: 'returned a promise that rejected with an Error',
    });
    const throwingGetter = {
      get issues(): never {
        throw new Error(VALUE);
      },
    };
    for (const result of [undefined, null, 'ok', { issues: 'bad' }, { issues: [null] }, throwingGetter]) {
      expect(
        runValidator(
          validator(() => result),
          VALUE,
          VALUE,
        ),
      ).toEqual({
        broken: 'returned something that is not a Standard Schema result',
      });
    }
  });

  it('does not name what was thrown when it is not an Error or its class name quotes the value', () => {
    const named = { [VALUE.slice(0, 7)]: class extends Error {} }[VALUE.slice(0, 7)]!;
    const cases: [unknown, string][] = [
      [VALUE, 'a value that is not an Error'],
      [{ message: VALUE }, 'a value that is not an Error'],
      [new named('x'), 'an error'],
      [
        new Proxy(new Error(VALUE), {
          getPrototypeOf() {
            throw new Error(VALUE);
          },
        }),
        'an error',
      ],
    ];
    for (const [thrown, kind] of cases) {
      const outcome = runValidator(
        validator(() => {
          throw thrown;
        }),
        VALUE,
        VALUE,
      );
      expect(outcome).toEqual({ broken: `threw ${kind} instead of returning issues` });
    }
  });
});

describe('loadConfig, loadConfigSync and checkConfig with a validator that breaks the contract', () => {
  const throwing = validator((value) => {
    throw new Error(`cannot parse ${String(value)}`);
  });
  const rejecting = validator(async (value) => {
    throw new Error(`cannot parse ${String(value)}`);
  });

  it('lists a validator that throws as an invalid key, with every other problem, without its error', () => {
    const error = errorOf(() => loadConfigSync({ TOKEN: throwing, PORT: port() }, { env: { TOKEN: VALUE } }));
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.issues.map((issue) => [issue.key, issue.code])).toEqual([
      ['TOKEN', 'invalid'],
      ['PORT', 'missing'],
    ]);
    expect(error.issues[0]?.message).toMatch(
      /^TOKEN: its Standard Schema validator threw an Error instead of returning/,
    );
    expectNoValue(error, VALUE);
  });

  it('lists a validator whose promise rejects as an invalid key, without its error', async () => {
    const error = await rejectionOf(loadConfig({ TOKEN: rejecting }, { env: { TOKEN: VALUE } }));
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.issues[0]?.message).toMatch(/^TOKEN: its Standard Schema validator returned a promise that rejected/);
    expectNoValue(error, VALUE);
    const report = await checkConfig({ TOKEN: rejecting, UNSET: throwing }, { env: { TOKEN: VALUE } });
    expect(report.issues.map((issue) => [issue.key, issue.code])).toEqual([
      ['TOKEN', 'invalid'],
      ['UNSET', 'invalid'],
    ]);
    expect(JSON.stringify(report)).not.toContain(VALUE.slice(0, 8));
  });

  it('handles zod and valibot transforms that throw (zod answers them with a rejected promise)', async () => {
    const zodSchema = z.string().transform((value): string => {
      throw new Error(`cannot parse ${value}`);
    });
    const valibotSchema = v.pipe(
      v.string(),
      v.transform((value): string => {
        throw new Error(`cannot parse ${value}`);
      }),
    );
    expectNoValue(await rejectionOf(loadConfig({ Z: zodSchema }, { env: { Z: VALUE } })), VALUE);
    expectNoValue(
      errorOf(() => loadConfigSync({ V: valibotSchema }, { env: { V: VALUE } })),
      VALUE,
    );
  });

  it('refuses a rejecting validator in loadConfigSync without leaving an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const collect = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', collect);
    try {
      const error = errorOf(() => loadConfigSync({ TOKEN: rejecting }, { env: { TOKEN: VALUE } }));
      expect(error.code).toBe('ERR_CONFIG_ASYNC_REQUIRED');
      expectNoValue(error, VALUE);
      // Node reports unhandled rejections once the microtask queue is empty, before the next macrotask.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', collect);
    }
  });

  it('reports a json() schema that throws as an invalid key, without its error', () => {
    const schema = validator((value) => {
      throw new Error(`cannot parse ${JSON.stringify(value)}`);
    });
    const error = errorOf(() =>
      loadConfigSync({ LIMITS: json({ schema }) }, { env: { LIMITS: JSON.stringify({ token: VALUE }) } }),
    );
    expect(error.issues).toEqual([
      expect.objectContaining({
        key: 'LIMITS',
        code: 'invalid',
        message: expect.stringMatching(/schema that threw an Error/),
      }),
    ]);
    expectNoValue(error, VALUE);
  });

  it('never shows a value that a throwing or rejecting validator quotes (seeded)', async () => {
    const kinds = [Error, TypeError, RangeError, SyntaxError] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9]{16,32}$/),
        fc.constantFrom(...kinds),
        fc.boolean(),
        async (value, Kind, reject) => {
          const fail = (input: unknown): never => {
            throw new Kind(`${String(input)} is not valid: ${JSON.stringify({ input })}`);
          };
          const schema = validator(reject ? async (input) => fail(input) : fail);
          const error = await rejectionOf(loadConfig({ KEY: schema }, { env: { KEY: value } }));
          expect(error.code).toBe('ERR_CONFIG_INVALID');
          expectNoValue(error, value);
        },
      ),
      { seed: 0x7401, numRuns: 100 },
    );
  });
});

/** `text` with every character written as a JSON `\uXXXX` escape. */
function escapeAll(text: string): string {
  return [...text].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
}

/** The text of the schema issues in a `json()` key's issue, without the fixed wording around them. */
function issueText(error: ConfigError): string {
  return (error.issues[0]?.message ?? '')
    .replace(/^J: does not satisfy its schema: /, '')
    .replace(/; expected a JSON document\.$/, '')
    .replaceAll('(issue withheld: it quotes the value)', '');
}

describe('json() schema issues that quote the decoded document', () => {
  it('withholds an issue quoting a key or value written with \\u escapes', () => {
    const cases: [StandardSchemaV1, string][] = [
      [v.record(v.picklist(['a']), v.string()), `{"${escapeAll('secretkeyname')}":"x"}`],
      [z.record(z.enum(['a']), z.string()), `{"a":"x","${escapeAll('secretkeyname')}":"x"}`],
      [v.object({ a: v.picklist(['x']) }), `{"a":"${escapeAll('secretvalue')}"}`],
      [v.object({ a: v.literal(5) }), '{"a":1E3}'],
    ];
    for (const [schema, raw] of cases) {
      const error = errorOf(() => loadConfigSync({ J: json({ schema }) }, { env: { J: raw } }));
      expect(error.issues[0]?.message).toContain('(issue withheld: it quotes the value)');
      expect(error.message.toLowerCase()).not.toMatch(/secret|keyname|1000/);
    }
  });

  it('withholds an issue quoting the value upper-cased, NFC/NFKC-normalized, whitespace-collapsed or short', () => {
    const cases = [
      [
        v.pipe(
          v.string(),
          v.transform((s) => s.toUpperCase()),
          v.picklist(['x']),
        ),
        'abc',
      ],
      [
        v.pipe(
          v.string(),
          v.transform((s) => s.normalize('NFKC')),
          v.picklist(['x']),
        ),
        'ｓｅｃｒｅｔｖａｌ',
      ],
      [
        v.pipe(
          v.string(),
          v.transform((s) => s.toUpperCase()),
          v.picklist(['x']),
        ),
        'straße-key',
      ],
      [
        v.pipe(
          v.string(),
          v.transform((s) => s.normalize('NFC')),
          v.picklist(['x']),
        ),
        'cafe\u0301s',
      ],
      [
        v.pipe(
          v.string(),
          v.transform((s) => s.replace(/\s+/g, ' ')),
          v.picklist(['x']),
        ),
        'ab  \t cd',
      ],
    ] as const;
    for (const [schema, raw] of cases) {
      const error = errorOf(() => loadConfigSync({ K: schema }, { env: { K: raw } }));
      expect(error.issues[0]?.message).toBe('K: does not satisfy its schema: (issue withheld: it quotes the value).');
    }
  });

  it('never shows a decoded piece of a record key or value, however it is escaped (seeded)', () => {
    const text = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ é€ß/'),
      minLength: 4,
      maxLength: 16,
    });
    const escapes = fc.array(fc.constantFrom('plain', 'unicode', 'upper-unicode'), { minLength: 16, maxLength: 16 });
    const encode = (value: string, how: readonly string[]): string =>
      [...value]
        .map((char, index) => {
          const code = char.charCodeAt(0).toString(16).padStart(4, '0');
          if (how[index] === 'unicode') return `\\u${code}`;
          if (how[index] === 'upper-unicode') return `\\u${code.toUpperCase()}`;
          return char === '/' ? '\\/' : char;
        })
        .join('');
    const schemas = [
      v.record(v.picklist(['a']), v.picklist(['b'])),
      z.record(z.enum(['a']), z.enum(['b'])),
      v.record(v.string(), v.picklist(['b'])),
      z.array(z.object({ k: z.literal('b') })),
    ];
    fc.assert(
      fc.property(text, text, escapes, escapes, fc.nat(schemas.length - 1), (key, value, keyHow, valueHow, which) => {
        const k = encode(key, keyHow);
        const val = encode(value, valueHow);
        const raw = which === 3 ? `[{"k":"${val}"},{"${k}":"b"}]` : `{"${k}":"${val}"}`;
        const result = jsonError(schemas[which]!, raw);
        if (result === undefined) return;
        const shown = issueText(result).toLowerCase();
        for (const decoded of [key, value].map((t) => t.toLowerCase()))
          for (let i = 0; i + 4 <= decoded.length; i++) expect(shown).not.toContain(decoded.slice(i, i + 4));
      }),
      { seed: 0x7402, numRuns: 300 },
    );
  });
});

/** The ConfigError of loading `raw` into a `json({ schema })` key, or undefined when it is valid. */
function jsonError(schema: StandardSchemaV1, raw: string): ConfigError | undefined {
  try {
    loadConfigSync({ J: json({ schema }) }, { env: { J: raw } });
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}
