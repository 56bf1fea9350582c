import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EncryptionContext, type Transit, TransitError } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { pipeThrough } from './pipe-through.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());

const contextArb: fc.Arbitrary<Record<string, string>> = fc.record({
  tenant: fc.stringMatching(/^[a-z0-9]{1,8}$/),
  table: fc.constantFrom('users', 'orders', 'notes'),
  column: fc.constantFrom('ssn', 'email', 'body'),
  id: fc.integer({ min: 1, max: 1_000_000 }).map(String),
});

const FAIL_CLOSED = new Set([
  'ERR_TRANSIT_INTEGRITY',
  'ERR_TRANSIT_MALFORMED_ENVELOPE',
  'ERR_TRANSIT_KEY_NOT_ACCEPTED',
  'ERR_TRANSIT_KEY_MISCONFIGURED',
  'ERR_TRANSIT_INVALID_CONTEXT',
]);

async function expectFailsClosed(promise: Promise<unknown>): Promise<void> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TransitError);
    expect(FAIL_CLOSED.has((error as TransitError).code)).toBe(true);
    expect((error as TransitError).retryable).toBe(false);
    return;
  }
  throw new Error(`decrypt returned ${outcome === undefined ? 'nothing' : 'a value'} instead of failing closed`);
}

describe('property: rotations and rewraps', () => {
  it('every record decrypts after any sequence of key rotations and rewraps', async () => {
    const op = fc.oneof(
      fc.constant({ kind: 'rotate' as const }),
      fc.constant({ kind: 'encrypt' as const }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }).map((pick) => ({ kind: 'rewrap' as const, pick })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 8 }), fc.boolean(), async (ops, bound) => {
        const key = await fx.newKey(bound ? { derived: true } : {});
        const binding = bound ? { tenantBinding: { contextKey: 'tenant' } } : {};
        const writer = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 2 }, ...binding });
        const records: { envelope: Buffer; context: EncryptionContext; plaintext: string }[] = [];
        const add = async (): Promise<void> => {
          const n = records.length;
          const context = { tenant: `t${n % 3}`, table: 'notes', column: 'body', id: n };
          records.push({
            envelope: await writer.encrypt(Buffer.from(`note ${n}`), context),
            context,
            plaintext: `note ${n}`,
          });
        };
        for (let i = 0; i < 4; i++) await add();
        for (const step of ops) {
          if (step.kind === 'rotate') {
            await fx.client.write(`transit/keys/${key}/rotate`, {});
            writer.clearCaches();
          } else if (step.kind === 'encrypt') {
            await add();
          } else {
            const chosen = records.filter((_, i) => step.pick[i % step.pick.length]);
            const results = await writer.rewrap(chosen.map((r) => ({ envelope: r.envelope, context: r.context })));
            results.forEach((result, i) => {
              if (!result.ok) throw result.error;
              const record = chosen[i];
              if (record) record.envelope = result.envelope;
            });
          }
        }
        const reader = fx.transit(key, { decryptCache: false, ...binding });
        for (const record of records) {
          expect((await reader.decrypt(record.envelope, record.context)).toString()).toBe(record.plaintext);
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('property: single-bit changes fail closed', () => {
  it('flipping any single bit of a record envelope fails closed (every bit tried)', async () => {
    for (const bound of [false, true]) {
      const key = await fx.newKey(bound ? { derived: true } : {});
      const binding = bound ? { tenantBinding: { contextKey: 'tenant' } } : {};
      const context = { tenant: 'acme', table: 'users', column: 'ssn', id: '7' };
      const envelope = await fx.transit(key, binding).encrypt(Buffer.from('078-05-1120'), context);
      const reader = fx.transit(key, binding);
      expect((await reader.decrypt(envelope, context)).toString()).toBe('078-05-1120');
      // Every bit still gets a decrypt call of its own, but all of them at once: the cold unwraps
      // of the flipped wrapped DEKs are then coalesced into a few Vault calls instead of ~500
      // sequential round trips, which made this test time out on a loaded 2-core CI box. The
      // one-cold-unwrap-per-call path is the wrapped-DEK test's below.
      await Promise.all(
        Array.from({ length: envelope.length * 8 }, (_, bit) => {
          const flipped = Buffer.from(envelope);
          flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          return expectFailsClosed(reader.decrypt(flipped, context));
        }),
      );
    }
  });

  it('changing any single bit of the context fails closed', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    await fc.assert(
      fc.asyncProperty(contextArb, fc.nat(), fc.nat(7), async (context, which, bit) => {
        const envelope = await transit.encrypt(Buffer.from('payload'), context);
        const names = Object.keys(context).sort();
        const name = names[which % names.length] ?? 'tenant';
        const value = Buffer.from(context[name] ?? '');
        const at = which % value.length;
        value[at] = (value[at] ?? 0) ^ (1 << bit);
        const changed = { ...context, [name]: value.toString('latin1') };
        fc.pre(changed[name] !== context[name] && changed[name] !== '');
        await expectFailsClosed(transit.decrypt(envelope, changed));
      }),
      { numRuns: 150 },
    );
  });

  it('changing any single bit of the wrapped DEK fails closed, also with a cold cache', async () => {
    const key = await fx.newKey();
    const context = { tenant: 'acme', id: '1' };
    const envelope = await fx.transit(key).encrypt(Buffer.from('payload'), context);
    const wrappedAt = 3 + 1 + 1 + key.length + 1;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 60 * 8 - 1 }), async (bit) => {
        const flipped = Buffer.from(envelope);
        const at = wrappedAt + (bit >> 3);
        flipped[at] = (flipped[at] ?? 0) ^ (1 << (bit & 7));
        await expectFailsClosed(fx.transit(key, { decryptCache: false }).decrypt(flipped, context));
      }),
      { numRuns: 100 },
    );
  });
});

describe('property: any change to the text of encryptString fails closed', () => {
  const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const charArb = fc.constantFrom(...BASE64URL, '=', '+', '/');
  // `at` counts from the end half of the time: a lax base64url decoder ignores the last
  // character's unused bits and a trailing fifth character, so the end is where it matters.
  const atArb = fc.record({ at: fc.nat(), fromEnd: fc.boolean() });
  const editArb = fc.oneof(
    fc.record({ kind: fc.constant('change' as const), where: atArb, char: charArb }),
    fc.record({ kind: fc.constant('insert' as const), where: atArb, char: charArb }),
    fc.record({ kind: fc.constant('drop' as const), where: atArb }),
    fc.record({ kind: fc.constant('append' as const), char: charArb }),
  );
  type Edit = typeof editArb extends fc.Arbitrary<infer T> ? T : never;

  function applyEdit(text: string, edit: Edit): string {
    if (edit.kind === 'append') return text + edit.char;
    const span = edit.kind === 'insert' ? text.length + 1 : text.length;
    const i = edit.where.fromEnd ? span - 1 - (edit.where.at % span) : edit.where.at % span;
    if (edit.kind === 'drop') return text.slice(0, i) + text.slice(i + 1);
    if (edit.kind === 'insert') return text.slice(0, i) + edit.char + text.slice(i);
    return text.slice(0, i) + edit.char + text.slice(i + 1);
  }

  it('every single-character change, insertion, drop or append is refused, and the original still decrypts', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const context = { tenant: 'acme', table: 'users', column: 'email', id: '9' };
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40 }),
        fc.array(editArb, { minLength: 1, maxLength: 6 }),
        async (plaintext, edits) => {
          const text = await transit.encryptString(plaintext, context);
          for (const edit of edits) {
            const edited = applyEdit(text, edit);
            if (edited !== text) await expectFailsClosed(transit.decryptString(edited, context));
          }
          expect(await transit.decryptString(text, context)).toBe(plaintext);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('property: any change to a stream (format 2) fails closed', () => {
  const FRAME = 32;
  const SECRET = Buffer.from('STREAM-SECRET-0123456789-'.repeat(4)); // 100 bytes: frames of 32, 32, 32, 4
  const context = { tenant: 'acme', object: 'backup.tar' };
  const FAILS = new Set([...FAIL_CLOSED, 'ERR_TRANSIT_STREAM']);

  async function decryptAll(transit: Transit, bytes: Buffer): Promise<{ out: Buffer; error: unknown }> {
    const out: Buffer[] = [];
    let error: unknown;
    try {
      await pipeThrough(bytes, transit.decryptStream(context), out);
    } catch (caught) {
      error = caught;
    }
    return { out: Buffer.concat(out), error };
  }

  /** Fails closed: a typed, non-retryable error naming no plaintext; only whole authenticated frames before it. */
  async function expectStreamFailsClosed(transit: Transit, bytes: Buffer): Promise<void> {
    const { out, error } = await decryptAll(transit, bytes);
    if (error === undefined) throw new Error('decryptStream finished instead of failing closed');
    expect(error).toBeInstanceOf(TransitError);
    expect(FAILS.has((error as TransitError).code)).toBe(true);
    expect((error as TransitError).retryable).toBe(false);
    expect(out.length % FRAME).toBe(0);
    expect(out.length).toBeLessThan(SECRET.length);
    expect(out).toEqual(SECRET.subarray(0, out.length));
    const text = `${(error as Error).message} ${inspect(error, { depth: 8 })}`;
    expect(text).not.toContain('STREAM-SECRET');
    expect(text).not.toContain(SECRET.subarray(0, 12).toString('hex'));
    expect(text).not.toContain(SECRET.subarray(0, 12).toString('base64'));
  }

  async function setup(bound: boolean): Promise<{ writer: Transit; reader: Transit; sealed: Buffer; header: number }> {
    const key = await fx.newKey(bound ? { derived: true } : {});
    const binding = bound ? { tenantBinding: { contextKey: 'tenant' } } : {};
    const writer = fx.transit(key, { frameSize: FRAME, ...binding });
    const sealed = (await pipeThrough(SECRET, writer.encryptStream(context))) as Buffer;
    const reader = fx.transit(key, { frameSize: FRAME, ...binding });
    expect((await decryptAll(reader, sealed)).out).toEqual(SECRET);
    return { writer, reader, sealed, header: sealed.length - (SECRET.length + 4 * 16) };
  }

  it('flipping any single bit (header, wrapped DEK, commitment, any frame, any tag) fails closed, every bit tried', async () => {
    for (const bound of [false, true]) {
      const { reader, sealed } = await setup(bound);
      // Every bit still gets a stream of its own, 64 streams at a time rather than one: the cold
      // unwraps of flipped wrapped DEKs are coalesced into a few Vault calls instead of ~500
      // sequential round trips, which made this test time out on a loaded 2-core CI box.
      const bits = Array.from({ length: sealed.length * 8 }, (_, bit) => bit);
      for (let start = 0; start < bits.length; start += 64) {
        await Promise.all(
          bits.slice(start, start + 64).map((bit) => {
            const flipped = Buffer.from(sealed);
            flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
            return expectStreamFailsClosed(reader, flipped);
          }),
        );
      }
    }
    // ~4,800 stream pipelines (every bit of two streams) are CPU-bound: 15-20 s on 2 cores at a load
    // average of 9-12 (the whole suite in parallel), close to the default 30 s. Every bit must stay
    // tried, so this test alone gets more time.
  }, 120_000);

  it('reordering, dropping, duplicating or appending frames, truncating, or splicing another stream fails closed', async () => {
    const { writer, reader, sealed, header } = await setup(false);
    const other = await pipeThrough(SECRET, writer.encryptStream(context)); // same DEK, other salt
    const frameAt = (bytes: Buffer, i: number): Buffer =>
      bytes.subarray(header + i * (FRAME + 16), Math.min(bytes.length, header + (i + 1) * (FRAME + 16)));
    const frames = [0, 1, 2, 3].map((i) => frameAt(sealed, i));
    const change = fc.oneof(
      fc.record({ kind: fc.constant('order' as const), order: fc.shuffledSubarray([0, 1, 2, 3], { minLength: 1 }) }),
      fc.record({
        kind: fc.constant('repeat' as const),
        order: fc.array(fc.nat(3), { minLength: 1, maxLength: 6 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(sealed.length - 1) }),
      fc.record({
        kind: fc.constant('append' as const),
        extra: fc.oneof(
          fc.nat(3).map((i) => frames[i] ?? Buffer.alloc(0)),
          fc.uint8Array({ minLength: 1, maxLength: 80 }),
        ),
      }),
      fc.record({ kind: fc.constant('splice' as const), from: fc.nat(4), frame: fc.nat(3) }),
    );
    await fc.assert(
      fc.asyncProperty(change, async (c) => {
        let changed: Buffer;
        if (c.kind === 'order' || c.kind === 'repeat') {
          fc.pre(c.order.join() !== '0,1,2,3');
          changed = Buffer.concat([sealed.subarray(0, header), ...c.order.map((i) => frames[i] ?? Buffer.alloc(0))]);
        } else if (c.kind === 'truncate') {
          changed = sealed.subarray(0, c.at);
        } else if (c.kind === 'append') {
          changed = Buffer.concat([sealed, Buffer.from(c.extra)]);
        } else if (c.from === 4) {
          changed = Buffer.concat([other.subarray(0, header), sealed.subarray(header)]); // another stream's header
        } else {
          const parts = [sealed.subarray(0, header), ...frames];
          parts[c.frame + 1] = frameAt(other, c.frame); // the same position in another stream
          changed = Buffer.concat(parts);
        }
        await expectStreamFailsClosed(reader, changed);
      }),
      { numRuns: 300 },
    );
  });
});

describe('property: Vault down', () => {
  it('never yields plaintext or puts it in an error, for encrypt or a cold decrypt', async () => {
    const own = await startFixture();
    try {
      const key = await own.newKey();
      const context = { tenant: 'acme', table: 'users', column: 'ssn', id: '1' };
      const existing = await own.transit(key).encrypt(Buffer.from('EXISTING-SECRET'), context);
      const modes = ['suspend', 'seal', 'status-500', 'reset'] as const;
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 8, maxLength: 64 }),
          contextArb,
          fc.constantFrom(...modes),
          async (bytes, ctx, mode) => {
            if (mode === 'suspend') await own.server.suspend();
            if (mode === 'seal') own.server.seal();
            // Two operations with two attempts each: exactly four Vault calls meet the fault.
            if (mode === 'status-500')
              own.server.injectFault({ status: 500, errors: ['internal error'] }, { times: 4 });
            if (mode === 'reset') own.server.injectFault({ reset: true }, { times: 4 });
            try {
              const plaintext = Buffer.from(bytes);
              const transit = own.transit(key, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
              const outcomes = await Promise.allSettled([
                transit.encrypt(plaintext, ctx),
                transit.decrypt(existing, context),
              ]);
              for (const outcome of outcomes) {
                expect(outcome.status).toBe('rejected');
                const error = (outcome as PromiseRejectedResult).reason as TransitError;
                expect(error).toBeInstanceOf(TransitError);
                expect(error.code).toBe('ERR_TRANSIT_VAULT_UNAVAILABLE');
                expect(error.retryable).toBe(true);
                const text = `${error.message} ${inspect(error, { depth: 8 })}`;
                expect(text).not.toContain('EXISTING-SECRET');
                expect(text).not.toContain(plaintext.toString('base64'));
                expect(text).not.toContain(plaintext.toString('hex'));
              }
              expect(transit.stats()).toEqual({ encryptCacheEntries: 0, decryptCacheEntries: 0 });
            } finally {
              if (mode === 'suspend') await own.server.resume();
              if (mode === 'seal') own.server.unseal();
              const health = await fetch(`${own.server.addr}/v1/sys/health`);
              expect(health.status).toBe(200);
            }
          },
        ),
        { numRuns: 20 },
      );
    } finally {
      await own.stop();
    }
  });
});
