import { describe, expect, it } from 'vitest';
import { TransitError } from './errors.ts';
import { createTransit } from './transit.ts';

// Every call below fails before Vault would be asked; a call to Vault fails the test.
const vault = {
  write: async (): Promise<never> => expect.unreachable('no Vault call'),
  read: async (): Promise<never> => expect.unreachable('no Vault call'),
};
const transit = createTransit({ vault, key: 'k1', cache: { maxAgeMs: 1000 } });
const bound = createTransit({ vault, key: 'k1', cache: { maxAgeMs: 1000 }, tenantBinding: { contextKey: 'tenant' } });
const ctx = { tenant: 't1', id: 1 };
const SECRET_TEXT = 'rK3vq9-ciphertext-SECRET';

/** The error `run` threw or rejected with, checked to be a TransitError that echoes no value. */
async function failure(run: () => unknown): Promise<TransitError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TransitError);
  expect((caught as Error).message).not.toContain(SECRET_TEXT);
  return caught as TransitError;
}

describe('Transit.encrypt with tenantBinding', () => {
  it.each([null, {}, [], 1.5, true])('refuses a tenant of %j with ERR_TRANSIT_INVALID_CONTEXT', async (tenant) => {
    const error = await failure(() => bound.encrypt(Buffer.from('x'), { id: 1, tenant } as never));
    expect(error.code).toBe('ERR_TRANSIT_INVALID_CONTEXT');
    expect(error.message).toContain('"tenant"');
  });
});

describe('Transit.decrypt and Transit.inspect', () => {
  it.each([
    ['the base64url text', SECRET_TEXT],
    ['undefined', undefined],
    ['an array of numbers', [0xae, 1, 1]],
    ['null', null],
  ])('refuse %s as an envelope with ERR_TRANSIT_MALFORMED_ENVELOPE', async (_what, envelope) => {
    const decrypted = await failure(() => transit.decrypt(envelope as never, ctx));
    expect(decrypted.code).toBe('ERR_TRANSIT_MALFORMED_ENVELOPE');
    expect(decrypted.message).toContain('decryptString');
    const inspected = await failure(() => transit.inspect(envelope as never));
    expect(inspected.code).toBe('ERR_TRANSIT_MALFORMED_ENVELOPE');
  });
});

describe('Transit.rewrap, decryptMany and rotationReport', () => {
  it.each([undefined, null, SECRET_TEXT, 42, { envelope: Buffer.alloc(1) }])(
    'refuse %j instead of a list with ERR_TRANSIT_INVALID_INPUT',
    async (items) => {
      for (const [name, run] of [
        ['rewrap', () => transit.rewrap(items as never)],
        ['decryptMany', () => transit.decryptMany(items as never)],
        ['rotationReport', () => transit.rotationReport(items as never)],
      ] as const) {
        const error = await failure(run);
        expect(error.code).toBe('ERR_TRANSIT_INVALID_INPUT');
        expect(error.message).toContain(`${name}(`);
      }
    },
  );

  it('fail only the item that is not { envelope, context } in decryptMany and rewrap', async () => {
    const [many] = await transit.decryptMany([null as never]);
    expect(many).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_MALFORMED_ENVELOPE' } });
    const [rewrapped] = await transit.rewrap([undefined as never]);
    expect(rewrapped).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_MALFORMED_ENVELOPE' } });
  });
});
