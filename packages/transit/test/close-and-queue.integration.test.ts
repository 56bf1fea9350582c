import { waitFor } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransitError } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());

const ctx = (id: number) => ({ tenant: 't1', table: 'notes', column: 'body', id });

/** `count` records, each under a DEK of its own (so each needs its own unwrap). */
async function coldRecords(key: string, count: number): Promise<Buffer[]> {
  const writer = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
  return Promise.all(Array.from({ length: count }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), ctx(i))));
}

const codeOf = (outcome: PromiseSettledResult<unknown>): string =>
  outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as TransitError).code;

describe('close()', () => {
  it.each(['decrypt', 'decryptMany'] as const)(
    'sends no Vault call after it: unwrap batches queued by %s fail with ERR_TRANSIT_CLOSED at once',
    async (method) => {
      const key = await fx.newKey();
      const records = await coldRecords(key, 200);
      // Every batch Vault answers only after 200 ms: most of them are still queued at close().
      fx.server.injectFault({ delayMs: 200 }, { times: 20, pathPrefix: `transit/decrypt/${key}` });
      const client = fx.watchedClient();
      const reader = fx.transit(key, { vault: client, batchSize: 10, batchConcurrency: 2 });
      const pending =
        method === 'decrypt'
          ? Promise.allSettled(records.map((envelope, i) => reader.decrypt(envelope, ctx(i))))
          : reader
              .decryptMany(records.map((envelope, i) => ({ envelope, context: ctx(i) })))
              .then((results) =>
                results.map((r) =>
                  r.ok
                    ? { status: 'fulfilled' as const, value: r.plaintext }
                    : { status: 'rejected' as const, reason: r.error },
                ),
              );
      await waitFor(() => client.writes.length >= 2, {
        timeoutMs: 10_000,
        intervalMs: 5,
        what: 'the Vault calls to start',
      });
      const sentBeforeClose = client.writes.length;
      reader.close();
      const outcomes = await pending;
      expect(client.writes.length).toBe(sentBeforeClose);
      expect(sentBeforeClose).toBeLessThanOrEqual(2);
      expect(new Set(outcomes.map(codeOf))).toEqual(new Set(['ERR_TRANSIT_CLOSED']));
    },
  );

  it('sends no rewrap call after it: queued rewrap batches fail with ERR_TRANSIT_CLOSED', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 200);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    fx.server.injectFault({ delayMs: 200 }, { times: 20, pathPrefix: `transit/rewrap/${key}` });
    const client = fx.watchedClient();
    const transit = fx.transit(key, { vault: client, batchSize: 10, batchConcurrency: 2 });
    const pending = transit.rewrap(records.map((envelope) => ({ envelope })));
    await waitFor(() => client.writes.length >= 2, {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: 'the Vault calls to start',
    });
    const sentBeforeClose = client.writes.length;
    transit.close();
    const results = await pending;
    expect(client.writes.length).toBe(sentBeforeClose);
    // The two batches already sent are answered (rewrap returns no plaintext); no other one is sent.
    const codes = results.map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(20);
    expect(codes.filter((c) => c !== 'ok')).toEqual(
      Array(codes.length - codes.filter((c) => c === 'ok').length).fill('ERR_TRANSIT_CLOSED'),
    );
    expect(codes.filter((c) => c === 'ERR_TRANSIT_CLOSED').length).toBeGreaterThanOrEqual(180);
  });

  it('makes no further attempt of a call in flight', async () => {
    const key = await fx.newKey();
    const [record] = await coldRecords(key, 1);
    // The first attempt runs into requestTimeoutMs: without close(), it would be retried.
    fx.server.injectFault({ delayMs: 1_000 }, { times: 1, pathPrefix: `transit/decrypt/${key}` });
    const client = fx.watchedClient();
    const reader = fx.transit(key, { vault: client, retry: { attempts: 3, baseDelayMs: 1, requestTimeoutMs: 200 } });
    const pending = reader.decrypt(record as Buffer, ctx(0)).catch((error: unknown) => error);
    await waitFor(() => client.writes.length >= 1, {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: 'the Vault calls to start',
    });
    reader.close();
    expect(await pending).toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
    expect(client.writes.length).toBe(1);
  });
});

describe('batchConcurrency queueing', () => {
  it('sends a single decrypt in the next free slot, ahead of queued decryptMany and rewrap batches', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 201);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    fx.server.injectFault({ delayMs: 300 }, { times: 2, pathPrefix: `transit/rewrap/${key}` });
    const client = fx.watchedClient();
    const transit = fx.transit(key, { vault: client, batchSize: 10, batchConcurrency: 2 });
    const bulk = Promise.all([
      transit.rewrap(records.slice(0, 100).map((envelope) => ({ envelope }))),
      transit.decryptMany(records.slice(100, 200).map((envelope, i) => ({ envelope, context: ctx(100 + i) }))),
    ]);
    await waitFor(() => client.open === 2, { timeoutMs: 10_000, intervalMs: 5, what: 'the Vault calls to start' });
    const single = await transit.decrypt(records[200] as Buffer, ctx(200));
    expect(single.toString()).toBe('v200');
    // The two slow rewrap batches were open; the single decrypt took the first slot to free up.
    expect(client.writes.slice(0, 2)).toEqual([`transit/rewrap/${key}`, `transit/rewrap/${key}`]);
    expect(client.writes[2]).toBe(`transit/decrypt/${key}`);
    const [rewrapped, decrypted] = await bulk;
    expect(rewrapped.every((r) => r.ok) && decrypted.every((r) => r.ok)).toBe(true);
  });

  it('fails a single decrypt retryably once it has waited its retry budget for a slot, without sending it', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 12);
    // Vault hangs: every call runs into requestTimeoutMs (budget 1 × 300 ms).
    fx.server.injectFault({ delayMs: 2_000 }, { times: 12, pathPrefix: `transit/decrypt/${key}` });
    const client = fx.watchedClient();
    const reader = fx.transit(key, {
      vault: client,
      batchConcurrency: 1,
      retry: { attempts: 1, requestTimeoutMs: 300 },
    });
    const started = performance.now();
    const pending: Promise<unknown>[] = [];
    // One decrypt per event-loop turn: each is a batch of its own, queued behind the previous ones.
    for (const [i, envelope] of records.entries()) {
      pending.push(reader.decrypt(envelope, ctx(i)).catch((error: unknown) => error));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const errors = await Promise.all(pending);
    const elapsed = performance.now() - started;
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true });
    }
    // Without the wait limit each waited for all before it: 12 calls, 12 × 300 ms.
    expect(client.writes.length).toBeLessThanOrEqual(2);
    expect(elapsed).toBeLessThan(2_500);
    const waited = errors.find((e) => (e as Error).message.includes('batchConcurrency')) as Error;
    expect(waited.message).toContain(`"${key}"`);
    expect(waited.message).not.toContain(records[11]?.toString('base64') ?? '');
  });

  it('lets bulk batches wait as long as the queue takes', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 60);
    fx.server.injectFault({ delayMs: 100 }, { times: 6, pathPrefix: `transit/decrypt/${key}` });
    const reader = fx.transit(key, {
      batchSize: 10,
      batchConcurrency: 1,
      retry: { attempts: 1, requestTimeoutMs: 250 },
    });
    // Six batches one after the other: ~600 ms in all, far over one call's 250 ms budget.
    const results = await reader.decryptMany(records.map((envelope, i) => ({ envelope, context: ctx(i) })));
    expect(results.map((r) => (r.ok ? r.plaintext.toString() : r.error.code))).toEqual(records.map((_, i) => `v${i}`));
  });
});
