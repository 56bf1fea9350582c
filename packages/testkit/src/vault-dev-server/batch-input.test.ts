import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Fields } from './fields.ts';
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
