import { inspect } from 'node:util';
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorOf, rejectionOf } from '../test/config-error.ts';
import type { ConfigError } from './errors.ts';
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
