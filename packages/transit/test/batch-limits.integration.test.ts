import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closedAfterEachTest, type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

// Every test works on a transit key of its own and counts only the requests for it, and every
// Transit it opens is closed after it: a test that failed or timed out with calls still pending
// makes no Vault call after it, and none of its calls counts in a later test.
const { open } = closedAfterEachTest(() => fx);

/** Where the server's request log ends now: `requestsFor(key, since)` looks only past it. */
function mark(): number {
  return fx.server.requests().length;
}

/**
 * The requests for transit key `key`, whatever the operation, since `since` (a `mark()` taken in
 * this test; only `beforeEach` clears the log, so a test that timed out and goes on cannot clear
 * what a later test counts).
 */
function requestsFor(key: string, since: number): [path: string, batchSize: number | undefined][] {
  return fx.server
    .requests()
    .slice(since)
    .filter((r) => r.path.split('/').at(-1) === key)
    .map((r) => [r.path, r.batchSize]);
}

const ctx = (id: number) => ({ tenant: 't1', table: 'notes', column: 'body', id });

/**
 * `count` records (`v0`, `v1`, … under `ctx(i)`), each with a wrapped DEK of its own, so each needs
 * its own unwrap, made in a few Vault calls: all encrypted under one DEK (one datakey call), then
 * rewrapped (⌈count/256⌉ rewrap calls), which gives each record a wrapping of its own. A reader
 * cannot tell these from `count` DEKs: it unwraps each wrapped DEK once. (One DEK per record, with
 * maxMessages: 1, took `count` datakey calls one after the other, ~950 for this file: most of its
 * time, and near the test timeout on a loaded machine.)
 */
async function coldRecords(key: string, count: number): Promise<Buffer[]> {
  const since = mark();
  const writer = open(key);
  const encrypted = await Promise.all(
    Array.from({ length: count }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), ctx(i))),
  );
  const rewrapped = await writer.rewrap(encrypted.map((envelope) => ({ envelope })));
  expect(rewrapped.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual(encrypted.map(() => 1));
  expect(requestsFor(key, since).filter(([path]) => path.startsWith('transit/datakey/'))).toEqual([
    [`transit/datakey/plaintext/${key}`, undefined],
  ]);
  return rewrapped.map((r) => (r.ok ? r.envelope : Buffer.alloc(0)));
}

describe('batch storms', () => {
  it('decryptMany sends batchSize items per call with at most batchConcurrency calls open, in order, each item on its own', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 300);
    const since = mark();
    const client = fx.watchedClient();
    const reader = open(key, { vault: client, batchSize: 10, batchConcurrency: 3 });
    const items = records.map((envelope, i) => ({ envelope, context: ctx(i) }));
    items[137] = { envelope: records[137] as Buffer, context: ctx(0) }; // wrong context: fails alone
    const results = await reader.decryptMany(items);
    expect(results.map((r, i) => (r.ok ? r.plaintext.toString() === `v${i}` : r.error.code))).toEqual(
      records.map((_, i) => (i === 137 ? 'ERR_TRANSIT_INTEGRITY' : true)),
    );
    expect(requestsFor(key, since)).toEqual(Array(30).fill([`transit/decrypt/${key}`, 10]));
    expect(client.maxOpen).toBeLessThanOrEqual(3);
  });

  it('bounds the Vault calls open at once by default, also across concurrent decryptMany and rewrap calls', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 400);
    const since = mark();
    const client = fx.watchedClient();
    const transit = open(key, { vault: client, batchSize: 10 });
    const halves = [records.slice(0, 200), records.slice(200)];
    const [a, b, rewrapped] = await Promise.all([
      transit.decryptMany(halves[0]?.map((envelope, i) => ({ envelope, context: ctx(i) })) ?? []),
      new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        transit.decryptMany(halves[1]?.map((envelope, i) => ({ envelope, context: ctx(200 + i) })) ?? []),
      ),
      transit.rewrap(records.map((envelope) => ({ envelope }))),
    ]);
    expect([...a, ...b].every((r) => r.ok)).toBe(true);
    expect(rewrapped.every((r) => r.ok)).toBe(true);
    const calls = requestsFor(key, since);
    expect(calls.filter(([path]) => path === `transit/decrypt/${key}`)).toEqual(
      Array(40).fill([`transit/decrypt/${key}`, 10]),
    );
    expect(calls.filter(([path]) => path === `transit/rewrap/${key}`)).toEqual(
      Array(40).fill([`transit/rewrap/${key}`, 10]),
    );
    expect(calls).toHaveLength(80);
    expect(client.maxOpen).toBeLessThanOrEqual(4);
  });

  it('rewrap sends batchSize items per call with at most batchConcurrency calls open, results in order', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 250);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const client = fx.watchedClient();
    const transit = open(key, { vault: client, batchSize: 25, batchConcurrency: 2 });
    const items = records.map((envelope) => ({ envelope: envelope as Uint8Array }));
    items[40] = { envelope: Buffer.from('junk') };
    const since = mark();
    const results = await transit.rewrap(items);
    expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual(
      records.map((_, i) => (i === 40 ? 'ERR_TRANSIT_MALFORMED_ENVELOPE' : 2)),
    );
    expect(requestsFor(key, since)).toEqual([
      ...Array(9).fill([`transit/rewrap/${key}`, 25]),
      [`transit/rewrap/${key}`, 24],
    ]);
    expect(client.maxOpen).toBeLessThanOrEqual(2);
    const reader = open(key);
    const decrypted = await reader.decryptMany(
      results.map((r, i) => ({ envelope: r.ok ? r.envelope : Buffer.alloc(0), context: ctx(i) })),
    );
    expect(decrypted.filter((r) => r.ok).map((r) => (r.ok ? r.plaintext.toString() : ''))).toEqual(
      records.flatMap((_, i) => (i === 40 ? [] : [`v${i}`])),
    );
  });
});
