import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Fields } from './fields.ts';
import { numberText, parseRequestJson } from './request-json.ts';
import { TransitEngine } from './transit-engine.ts';
import { VaultHttpError } from './vault-http-error.ts';

const b64 = (value: string): string => Buffer.from(value).toString('base64');

function engineWithKey(): TransitEngine {
  const engine = new TransitEngine(() => 0);
  engine.handle({ operation: 'update', path: 'keys/k', data: {} });
  return engine;
}

/** The error a request fails with (the test fails if it does not). */
function refusal(engine: TransitEngine, path: string, data: Fields): VaultHttpError {
  try {
    engine.handle({ operation: 'update', path, data });
  } catch (error) {
    if (error instanceof VaultHttpError) return error;
    throw error;
  }
  throw new Error(`expected ${path} to fail`);
}

/** Vault's wording: a plain Go error around a mapstructure.Error, wrapped by the request handler's multierror. */
const parseFailure = (...problems: string[]): string =>
  `1 error occurred:\n\t* failed to parse batch input: ${problems.length} error(s) decoding:\n\n${problems
    .map((p) => `* ${p}`)
    .join('\n')}\n\n`;

describe('batch_input decoding (encrypt and decrypt)', () => {
  it('refuses every encrypt item without plaintext at once, in sorted order, as a 500', () => {
    const error = refusal(engineWithKey(), 'encrypt/k', {
      batch_input: [{ reference: 'x' }, { plaintext: b64('ok') }, { plaintext: 5 }],
    });
    expect(error.status).toBe(500);
    expect(error.errors).toEqual([
      parseFailure(
        "'[0].plaintext' missing plaintext to encrypt",
        "'[2].plaintext' expected type 'string', got unconvertible type 'json.Number'",
      ),
    ]);
  });

  it('refuses a decrypt item without ciphertext, and one whose fields have the wrong type', () => {
    const error = refusal(engineWithKey(), 'decrypt/k', {
      batch_input: [{ context: true, ciphertext: 'vault:v1:AAAA' }, { key_version: 1.5 }, { key_version: 'two' }],
    });
    expect(error.status).toBe(500);
    expect(error.errors).toEqual([
      parseFailure(
        "'[0].context' expected type 'string', got unconvertible type 'bool'",
        "'[1].ciphertext' missing ciphertext to decrypt",
        "'[2].ciphertext' missing ciphertext to decrypt",
        "'[2].key_version' expected type 'int', got unconvertible type 'string'",
        'error decoding json.Number into [1].key_version: strconv.ParseInt: parsing "1.5": invalid syntax',
      ),
    ]);
  });

  it('reads a null field as absent, except a null plaintext', () => {
    const engine = engineWithKey();
    const nulls = { context: null, associated_data: null, reference: null, key_version: null, nonce: null };
    const encrypted = engine.handle({
      operation: 'update',
      path: 'encrypt/k',
      data: { batch_input: [{ plaintext: b64('a'), ...nulls }] },
    });
    expect(encrypted.status).toBe(200);
    const refused = refusal(engine, 'encrypt/k', { batch_input: [{ plaintext: null }] });
    expect(refused.errors).toEqual([
      parseFailure("'[0].plaintext' expected type 'string', got unconvertible type '<nil>'"),
    ]);
  });

  it('creates no key when an encrypt batch to a new key is refused while decoding', () => {
    const engine = new TransitEngine(() => 0);
    expect(refusal(engine, 'encrypt/fresh', { batch_input: [{}] }).status).toBe(500);
    expect(() => engine.handle({ operation: 'read', path: 'keys/fresh', data: {} })).toThrowError(
      expect.objectContaining({ status: 404 }),
    );
  });

  it('names exactly the items that lack plaintext, whatever the batch', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }), (withPlaintext) => {
        const batch = withPlaintext.map((has) => (has ? { plaintext: b64('x') } : {}));
        const missing = withPlaintext.flatMap((has, i) => (has ? [] : [i]));
        let response: unknown;
        try {
          response = engineWithKey().handle({ operation: 'update', path: 'encrypt/k', data: { batch_input: batch } });
        } catch (error) {
          expect(error).toBeInstanceOf(VaultHttpError);
          const expected = missing.map((i) => `'[${i}].plaintext' missing plaintext to encrypt`).sort();
          expect((error as VaultHttpError).errors).toEqual([parseFailure(...expected)]);
          return;
        }
        expect(missing).toEqual([]);
        expect(response).toMatchObject({ status: 200 });
      }),
    );
  });
});

describe('batch_input decoding (rewrap, plain mapstructure)', () => {
  it('refuses fields of the wrong type with their value, and takes a number as a string', () => {
    const engine = engineWithKey();
    const error = refusal(engine, 'rewrap/k', {
      batch_input: [{ ciphertext: true }, { ciphertext: 'x', key_version: '1', context: { b: [1, null], a: 'z' } }, 7],
    });
    expect(error.status).toBe(500);
    expect(error.errors).toEqual([
      parseFailure(
        "'[0].ciphertext' expected type 'string', got unconvertible type 'bool', value: 'true'",
        "'[1].context' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[a:z b:[1 <nil>]]'",
        "'[1].key_version' expected type 'int', got unconvertible type 'string', value: '1'",
        "'[2]' expected a map, got 'string'",
      ),
    ]);
    const taken = engine.handle({
      operation: 'update',
      path: 'rewrap/k',
      data: { batch_input: [{ ciphertext: 5, plaintext: null, padding_scheme: null }, null] },
    });
    expect(taken.status).toBe(200);
    expect(taken.data).toMatchObject({
      batch_results: [{ error: 'invalid ciphertext: no prefix' }, { error: 'missing ciphertext to decrypt' }],
    });
  });
});

describe('batch_input decoding (rewrap, RewrapBatchRequestItem)', () => {
  const rewrap = (engine: TransitEngine, body: string) =>
    engine.handle({
      operation: 'update',
      path: 'rewrap/k',
      data: parseRequestJson(body, { keepNumberLiterals: true }) as Fields,
    });
  const encrypted = (engine: TransitEngine): string =>
    JSON.stringify(
      (
        engine.handle({ operation: 'update', path: 'encrypt/k', data: { plaintext: b64('ok') } }).data as {
          ciphertext: string;
        }
      ).ciphertext,
    );

  it('ignores fields the rewrap struct lacks (plaintext, padding_scheme), whatever their type', () => {
    const engine = engineWithKey();
    const answer = rewrap(
      engine,
      `{"batch_input":[{"ciphertext":${encrypted(engine)},"plaintext":true,"padding_scheme":{"a":[1]}}]}`,
    );
    expect(answer.status).toBe(200);
    expect(answer.data).toMatchObject({ batch_results: [{ ciphertext: expect.stringMatching(/^vault:v1:/) }] });
  });

  it('type-checks encrypt_padding_scheme and decrypt_padding_scheme as strings', () => {
    const error = refusal(engineWithKey(), 'rewrap/k', {
      batch_input: [{ ciphertext: 'x', encrypt_padding_scheme: false, decrypt_padding_scheme: ['oaep'] }],
    });
    expect(error.errors).toEqual([
      parseFailure(
        "'[0].decrypt_padding_scheme' expected type 'string', got unconvertible type '[]interface {}', value: '[oaep]'",
        "'[0].encrypt_padding_scheme' expected type 'string', got unconvertible type 'bool', value: 'false'",
      ),
    ]);
  });

  it('takes a number in a string field as its literal text, and prints nested numbers as written', () => {
    const engine = engineWithKey();
    const ciphertext = encrypted(engine);
    const echoed = rewrap(
      engine,
      `{"batch_input":[{"ciphertext":${ciphertext},"reference":1.50},{"ciphertext":${ciphertext},"reference":12345678901234567890}]}`,
    );
    const results = (echoed.data as { batch_results: { reference: string }[] }).batch_results;
    expect(results.map((r) => r.reference)).toEqual(['1.50', '12345678901234567890']);
    // "1234" is valid base64 (a context the key, not derived, ignores); "1234.0" is not.
    const asWritten = rewrap(engine, `{"batch_input":[{"ciphertext":${ciphertext},"context":1234.0}]}`);
    expect(asWritten.data).toMatchObject({ batch_results: [{ error: expect.any(String) }] });
    const valid = rewrap(engine, `{"batch_input":[{"ciphertext":${ciphertext},"context":1234}]}`);
    expect(valid.data).toMatchObject({ batch_results: [{ ciphertext: expect.stringMatching(/^vault:v1:/) }] });
    let error: unknown;
    try {
      rewrap(engine, `{"batch_input":[{"ciphertext":${ciphertext},"context":{"b":1e5,"a":1.0},"nonce":[2.50,[-0]]}]}`);
    } catch (caught) {
      error = caught;
    }
    expect((error as VaultHttpError).errors).toEqual([
      parseFailure(
        "'[0].context' expected type 'string', got unconvertible type 'map[string]interface {}', value: 'map[a:1.0 b:1e5]'",
        "'[0].nonce' expected type 'string', got unconvertible type '[]interface {}', value: '[2.50 [-0]]'",
      ),
    ]);
  });

  it('matches field names case-insensitively (Unicode simple folding), an exact name first even when null', () => {
    const engine = engineWithKey();
    const ciphertext = encrypted(engine);
    const folded = rewrap(
      engine,
      `{"batch_input":[{"CIPHERTEXT":${ciphertext},"Reference":"r","\u212Aey_ver\u017Fion":1},{"reference":"e","Reference":"x","ciphertext":null,"Ciphertext":${ciphertext}}]}`,
    );
    expect(folded.status).toBe(200);
    expect(folded.data).toMatchObject({
      batch_results: [
        { reference: 'r', key_version: 1, ciphertext: expect.stringMatching(/^vault:v1:/) },
        { reference: 'e', error: 'missing ciphertext to decrypt' },
      ],
    });
    const error = refusal(engine, 'rewrap/k', { batch_input: [{ cipherText: true, KEY_VERSION: '1' }] });
    expect(error.errors).toEqual([
      parseFailure(
        "'[0].ciphertext' expected type 'string', got unconvertible type 'bool', value: 'true'",
        "'[0].key_version' expected type 'int', got unconvertible type 'string', value: '1'",
      ),
    ]);
  });
});

describe('parseRequestJson', () => {
  const literal = fc
    .tuple(
      fc.boolean(),
      fc.bigInt({ min: 0n, max: 2n ** 70n }),
      fc.option(fc.stringMatching(/^[0-9]{1,5}$/)),
      fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 400 }))),
    )
    .map(
      ([negative, int, fraction, exponent]) =>
        `${negative ? '-' : ''}${int}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : exponent.join('')}`,
    );

  it('parses every JSON text as JSON.parse does, keeping literals or not', () => {
    fc.assert(
      fc.property(fc.json(), fc.boolean(), (text, keepNumberLiterals) => {
        expect(parseRequestJson(text, { keepNumberLiterals })).toEqual(JSON.parse(text));
      }),
    );
  });

  it('keeps the literal of every number, in maps and lists, when asked to', () => {
    fc.assert(
      fc.property(literal, literal, (a, b) => {
        const parsed = parseRequestJson(`{"x":{"y":[${a},{"z":${b}}]}}`, { keepNumberLiterals: true }) as {
          x: { y: [number, { z: number }] };
        };
        expect(numberText(parsed.x.y, '0')).toBe(a);
        expect(numberText(parsed.x.y[1], 'z')).toBe(b);
      }),
    );
    const body = parseRequestJson('{"key_version":1.0,"batch_input":[{"key_version":9007199254740993}]}', {
      keepNumberLiterals: true,
    }) as { key_version: number; batch_input: object[] };
    expect(numberText(body, 'key_version')).toBe('1.0');
    expect(numberText(body.batch_input[0] as object, 'key_version')).toBe('9007199254740993');
    // A name spelt with an escape is the same name to JSON, and to Vault.
    const escaped = parseRequestJson('{"key\\u005fversion":1e0}', { keepNumberLiterals: true }) as object;
    expect(numberText(escaped, 'key_version')).toBe('1e0');
  });

  it('keeps no literal unless asked to: a number reads as JavaScript spells it', () => {
    const body = parseRequestJson('{"a":1.50,"b":[1e0]}', { keepNumberLiterals: false }) as { b: number[] };
    expect(numberText(body, 'a')).toBe('1.5');
    expect(numberText(body.b, '0')).toBe('1');
  });

  it('parses a body nested too deep for the literal pass, as JSON.parse does (its literals lost)', () => {
    const depth = 5_000;
    const text = `{"a\\u0062":${'['.repeat(depth)}1.0${']'.repeat(depth)},"c":2.50}`;
    const parsed = parseRequestJson(text, { keepNumberLiterals: true }) as { ab: unknown; c: number };
    let level = parsed.ab;
    for (let i = 0; i < depth; i += 1) {
      expect(Array.isArray(level) && level.length === 1).toBe(true);
      level = (level as unknown[])[0];
    }
    expect(level).toBe(1);
    expect(numberText(parsed, 'c')).toBe('2.5');
  });
});

describe('key_version of a batch item', () => {
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

  it('accepts every Int64 literal, as json.Number.Int64 does', () => {
    fc.assert(
      fc.property(int64, (version) => {
        const engine = engineWithKey();
        const body = `{"batch_input":[{"plaintext":"${b64('x')}","key_version":${version}}]}`;
        const answer = engine.handle({
          operation: 'update',
          path: 'encrypt/k',
          data: parseRequestJson(body, { keepNumberLiterals: true }) as Fields,
        });
        const result = (answer.data as { batch_results: { error?: string; key_version?: number }[] }).batch_results[0];
        if (version === 0n || version === 1n) expect(result?.key_version).toBe(1);
        else if (version < 0n) expect(result?.error).toBe('requested version for encryption is negative');
        else expect(result?.error).toBe('requested version for encryption is higher than the latest key version');
      }),
    );
  });

  it('refuses every literal outside Int64 or with a fraction or exponent, quoting it as written', () => {
    const outside = fc.oneof(
      fc.bigInt({ min: 2n ** 63n, max: 2n ** 80n }).map(String),
      fc.bigInt({ min: -(2n ** 80n), max: -(2n ** 63n) - 1n }).map(String),
      fc.tuple(fc.integer({ min: -99, max: 99 }), fc.nat(999)).map(([i, f]) => `${i}.${f}`),
      fc.tuple(fc.integer({ min: -9, max: 9 }), fc.integer({ min: -400, max: 400 })).map(([m, e]) => `${m}e${e}`),
    );
    fc.assert(
      fc.property(outside, (literal) => {
        const body = `{"batch_input":[{"plaintext":"${b64('x')}","key_version":${literal}}]}`;
        const error = refusal(
          engineWithKey(),
          'encrypt/k',
          parseRequestJson(body, { keepNumberLiterals: true }) as Fields,
        );
        expect(error.errors).toEqual([
          parseFailure(
            `error decoding json.Number into [0].key_version: strconv.ParseInt: parsing "${literal}": invalid syntax`,
          ),
        ]);
      }),
    );
  });
});
