import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecryptResult, Transit, TransitMetric } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { olderVault, sorted, wholeBatchFailure } from './older-vault.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = { tenant: 't1', id: 1 };
const { manyRecords, batchSizes, startRewritingProxy } = olderVault(() => fx, ctx);

// Older Vault (before vault#13111, about 1.10) failed the whole request when one item did not
// authenticate: `wholeBatchFailure` makes the dev server answer so.
describe('a batch Vault fails as a whole (no batch_results) for one tampered item', () => {
  const outcome = (result: DecryptResult): string => (result.ok ? String(result.plaintext) : result.error.code);

  it('decrypt: resends the batch in halves down to single items, so only the tampered record fails with ERR_TRANSIT_INTEGRITY', async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 3, [1]);
      const transit = proxy.transit(key);
      fx.server.clearRequests();
      const outcomes = await Promise.allSettled(records.map((e) => transit.decrypt(e, ctx)));
      expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 0') });
      expect(outcomes[1]).toMatchObject({
        status: 'rejected',
        reason: { code: 'ERR_TRANSIT_INTEGRITY', retryable: false },
      });
      expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 2') });
      // The batch, its halves (2 and 1 items), the halves of the failed one; no retry.
      expect(sorted(batchSizes('transit/decrypt/'))).toEqual([3, 2, 1, 1, 1]);
    } finally {
      await proxy.close();
    }
  });

  it('rewrap: resends the batch in halves, so only the tampered envelope fails and its neighbours are rewrapped', async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 3, [1]);
      await fx.client.write(`transit/keys/${key}/rotate`, {});
      const transit = proxy.transit(key);
      fx.server.clearRequests();
      const results = await transit.rewrap(records.map((envelope) => ({ envelope })));
      expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual([2, 'ERR_TRANSIT_INTEGRITY', 2]);
      expect(sorted(batchSizes('transit/rewrap/'))).toEqual([3, 2, 1, 1, 1]);
      const decrypted = await Promise.all(
        results.filter((r) => r.ok).map((r) => fx.transit(key).decrypt(r.envelope, ctx)),
      );
      expect(decrypted.map(String)).toEqual(['record 0', 'record 2']);
    } finally {
      await proxy.close();
    }
  });

  it('stops resending when Vault fails otherwise: the items not yet answered share that error', async () => {
    // The whole batch fails for an item, then Vault is sealed: the first half is retried
    // (attempts: 2), and the other half, queued behind it (batchConcurrency 1), is not sent.
    const proxy = await startRewritingProxy((path, status, body) =>
      path.includes('/decrypt/') && batchSizes('transit/decrypt/').length > 1
        ? { status: 503, body: { errors: ['Vault is sealed'] } }
        : wholeBatchFailure(path, status, body),
    );
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 3, [1]);
      const transit = proxy.transit(key, {
        batchConcurrency: 1,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      });
      fx.server.clearRequests();
      const outcomes = await Promise.allSettled(records.map((e) => transit.decrypt(e, ctx)));
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({
          status: 'rejected',
          reason: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true },
        });
      }
      expect(batchSizes('transit/decrypt/')).toEqual([3, 2, 2]);
    } finally {
      await proxy.close();
    }
  });

  // 20 batches of 2, one tampered record in each: the 20 first calls fail whole, and their splits
  // need 40 calls against the operation's 4·⌈log2 40⌉ = 24, so 8 of them wait for the resends in
  // flight to earn (see "isolates one bad item in each of many batches" below).
  const oneBadInEach = (i: number): boolean => i % 4 === 0 || i % 4 === 3;
  const tamperedOneInEach = Array.from({ length: 40 }, (_, i) => i).filter(oneBadInEach);
  const answeredItems = (body: Buffer): number | undefined =>
    (JSON.parse(body.toString('utf8')) as { data?: { batch_results?: unknown[] } }).data?.batch_results?.length;

  it('answers the items of a split left waiting on the budget with the retryable error of the resends Vault failed otherwise, not ERR_TRANSIT_INTEGRITY', async () => {
    // Vault is sealed for every single-item resend: no resend earns, so the waiting splits are
    // refused; the reason is Vault, not a bad item, and every item is told to retry.
    const proxy = await startRewritingProxy((path, status, body) =>
      path.includes('/decrypt/') && answeredItems(body) === 1
        ? { status: 503, body: { errors: ['Vault is sealed'] } }
        : wholeBatchFailure(path, status, body),
    );
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 40, tamperedOneInEach);
      const transit = proxy.transit(key, { batchSize: 2, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
      fx.server.clearRequests();
      const results = await transit.decryptMany(records.map((envelope) => ({ envelope, context: ctx })));
      for (const result of results) {
        expect(result).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true } });
      }
      // The 20 first calls, and 12 splits (24 single-item resends, each tried twice): the other 8 waited and were refused.
      expect(sorted(batchSizes('transit/decrypt/'))).toEqual([...Array(20).fill(2), ...Array(48).fill(1)]);
    } finally {
      await proxy.close();
    }
  });

  it("answers only as many refused splits with a resend's failure as that resend could have paid for: the others keep ERR_TRANSIT_INTEGRITY", async () => {
    // 32 tampered records in 8 batches of 4: 4·⌈log2 32⌉ = 20 calls pay for the 8 first splits
    // and 2 more; the other 2-item halves, failed whole, are refused. Vault answers the first of
    // them 503 (one attempt): its batch's other half is not sent or not split (4 items retryable
    // in all), and its one failed call could have paid for one refused split, whose 2 items get
    // its error too. Every other refused split is refused for its bad items.
    let sealed = false;
    const proxy = await startRewritingProxy((path, status, body) => {
      if (path.includes('/decrypt/') && answeredItems(body) === 2 && !sealed) {
        sealed = true;
        return { status: 503, body: { errors: ['Vault is sealed'] } };
      }
      return wholeBatchFailure(path, status, body);
    });
    try {
      const key = await fx.newKey();
      const records = await manyRecords(
        key,
        32,
        Array.from({ length: 32 }, (_, i) => i),
      );
      const transit = proxy.transit(key, { batchSize: 4, retry: { attempts: 1 } });
      const results = await transit.decryptMany(records.map((envelope) => ({ envelope, context: ctx })));
      const codes = results.map((r) => (r.ok ? 'ok' : r.error.code));
      const unavailable = codes.flatMap((code, i) => (code === 'ERR_TRANSIT_VAULT_UNAVAILABLE' ? [i] : []));
      expect(unavailable).toHaveLength(6);
      expect(codes.filter((code) => code === 'ERR_TRANSIT_INTEGRITY')).toHaveLength(26);
      // A whole batch (aligned on 4) and one 2-item half of another (aligned on 2).
      const batches = [...new Set(unavailable.map((i) => i >> 2))];
      expect(batches).toHaveLength(2);
      for (const i of unavailable) expect(unavailable).toContain(i ^ 1);
    } finally {
      await proxy.close();
    }
  });

  it("never answers a refused split of one key with a failure of another key's resend (whose message names that key)", async () => {
    // One batch of 4 records under key A, 7 under key B, all tampered, in one decryptMany turn
    // (one budget: 20 calls, 10 splits). Vault answers A's 2-item halves 503: they leave credits
    // for key A only, and the 12 refused splits of B's halves answer their own integrity error.
    const keyA = await fx.newKey();
    const keyB = await fx.newKey();
    const proxy = await startRewritingProxy((path, status, body) =>
      path.includes(`/decrypt/${keyA}`) && answeredItems(body) === 2
        ? { status: 503, body: { errors: ['Vault is sealed'] } }
        : wholeBatchFailure(path, status, body),
    );
    try {
      const all = (n: number) => Array.from({ length: n }, (_, i) => i);
      const recordsA = await manyRecords(keyA, 4, all(4));
      const recordsB = await manyRecords(keyB, 28, all(28));
      const transit = proxy.transit(keyB, { batchSize: 4, acceptKeys: [{ key: keyA }], retry: { attempts: 1 } });
      const results = await transit.decryptMany(
        [...recordsA, ...recordsB].map((envelope) => ({ envelope, context: ctx })),
      );
      for (const result of results.slice(0, 4)) {
        expect(result).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE' } });
      }
      for (const result of results.slice(4)) {
        expect(result).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_INTEGRITY' } });
        expect(result.ok ? '' : result.error.message).not.toContain(keyA);
      }
    } finally {
      await proxy.close();
    }
  });

  it('answers ERR_TRANSIT_CLOSED, never ERR_TRANSIT_INTEGRITY, for the good items of a rewrap whose splits wait on the budget when close() is called', async () => {
    // Two slots. Once the 20 first calls are answered, the two resends holding the slots (the
    // halves of the first batch) are held in the proxy: 11 more granted splits' halves queue
    // behind them, 8 splits wait on the budget. close(): the queued halves fail with
    // ERR_TRANSIT_CLOSED, the two in flight get Vault's answer, and the waiting splits are refused
    // because the instance is closed, not because an item is bad.
    let transit: Transit | undefined;
    const held: (() => void)[] = [];
    const proxy = await startRewritingProxy(async (path, status, body) => {
      if (path.includes('/rewrap/') && answeredItems(body) === 1 && held.length < 2) {
        await new Promise<void>((release) => {
          held.push(release);
          if (held.length === 2) {
            transit?.close();
            for (const go of held) go();
          }
        });
      }
      return wholeBatchFailure(path, status, body);
    });
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 40, tamperedOneInEach);
      await fx.client.write(`transit/keys/${key}/rotate`, {});
      transit = proxy.transit(key, { batchSize: 2, batchConcurrency: 2 });
      const results = await transit.rewrap(records.map((envelope) => ({ envelope })));
      const outcomes = results.map((r) => (r.ok ? r.toVersion : r.error.code));
      // Which of the two first calls Vault answers first decides whose halves are held: one batch
      // has its good item rewrapped and its bad one failed, every other item is closed.
      const integrity = outcomes.flatMap((outcome, i) => (outcome === 'ERR_TRANSIT_INTEGRITY' ? [i] : []));
      const rewrapped = outcomes.flatMap((outcome, i) => (outcome === 2 ? [i] : []));
      expect(integrity).toHaveLength(1);
      expect(rewrapped).toHaveLength(1);
      expect(oneBadInEach(integrity[0] as number)).toBe(true);
      expect(rewrapped[0]).toBe((integrity[0] as number) ^ 1);
      expect(outcomes.filter((outcome) => outcome === 'ERR_TRANSIT_CLOSED')).toHaveLength(38);
    } finally {
      transit?.close();
      await proxy.close();
    }
  });

  it('answers ERR_TRANSIT_CLOSED for the items of the splits waiting on the budget when close() comes while every granted half is in flight', async () => {
    // 64 slots: the 20 first calls are sent at once, the 24 calls the budget grants (12 splits)
    // are all in flight, held in the proxy, and 8 splits wait. close(), then Vault fails each
    // held resend for its item (as it would a bad one): none earns, none leaves a credit, so the
    // waiting splits are refused with nothing queued to have failed CLOSED before them: closed is
    // the only reason their good items are not told apart.
    let transit: Transit | undefined;
    const held: (() => void)[] = [];
    const proxy = await startRewritingProxy(async (path, status, body) => {
      if (path.includes('/rewrap/') && answeredItems(body) === 1) {
        await new Promise<void>((release) => {
          held.push(release);
          if (held.length === 24) {
            transit?.close();
            for (const go of held) go();
          }
        });
        return { status: 500, body: { errors: ['1 error occurred:\n\t* cipher: message authentication failed\n\n'] } };
      }
      return wholeBatchFailure(path, status, body);
    });
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 40, tamperedOneInEach);
      await fx.client.write(`transit/keys/${key}/rotate`, {});
      transit = proxy.transit(key, { batchSize: 2, batchConcurrency: 64 });
      const results = await transit.rewrap(records.map((envelope) => ({ envelope })));
      const outcomes = results.map((r) => (r.ok ? r.toVersion : r.error.code));
      expect(held).toHaveLength(24);
      // Per batch of 2: resent (both items failed by Vault) or refused (both closed).
      for (let i = 0; i < 40; i += 2) expect(outcomes[i + 1]).toBe(outcomes[i]);
      expect(outcomes.filter((outcome) => outcome === 'ERR_TRANSIT_INTEGRITY')).toHaveLength(24);
      expect(outcomes.filter((outcome) => outcome === 'ERR_TRANSIT_CLOSED')).toHaveLength(16);
    } finally {
      transit?.close();
      await proxy.close();
    }
  });

  it('finds one tampered record among 64 in 2·log2(64) more calls, not one per record', async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey();
      const envelopes = await manyRecords(key, 64, [37]);
      const transit = proxy.transit(key);
      fx.server.clearRequests();
      const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
      expect(results.map(outcome)).toEqual(
        envelopes.map((_, i) => (i === 37 ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)),
      );
      // The batch, then two halves a level (64 → 32 → ... → 1) along the tampered record's path.
      expect(sorted(batchSizes('transit/decrypt/'))).toEqual([64, 32, 32, 16, 16, 8, 8, 4, 4, 2, 2, 1, 1]);
    } finally {
      await proxy.close();
    }
  });

  it('caps the calls of one batch at 1 + 4·⌈log2 N⌉: past it, a half Vault fails as a whole keeps that error', async () => {
    // 4 tampered records among 32, one slot (halves are served in order): isolating all four
    // would take 31 calls; 21 are allowed. The last halves still failing whole are not split
    // again, so the records they hold get their integrity error, 6 good ones among them.
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey();
      const envelopes = await manyRecords(key, 32, [0, 8, 16, 24]);
      const transit = proxy.transit(key, { batchConcurrency: 1 });
      fx.server.clearRequests();
      const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
      const failed = results.flatMap((result, i) => (result.ok ? [] : [i]));
      expect(failed).toEqual([0, 1, 8, 9, 16, 17, 24, 25, 26, 27]);
      for (const i of failed) expect(results[i]).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_INTEGRITY' } });
      for (const [i, result] of results.entries()) if (result.ok) expect(String(result.plaintext)).toBe(`record ${i}`);
      expect(batchSizes('transit/decrypt/')).toHaveLength(21);
    } finally {
      await proxy.close();
    }
  });

  it('gives the slot back between the halves: a single decrypt made meanwhile is sent before the next half', async () => {
    // One slot. While Vault answers the first half of a bulk batch being split, a single decrypt
    // (of a record under another key, to tell its call apart) queues: it is sent next, before the
    // other half, not after the whole split.
    const key = await fx.newKey();
    const otherKey = await fx.newKey();
    const envelopes = await manyRecords(key, 40, [5]);
    const single = await fx.transit(otherKey).encrypt(Buffer.from('urgent'), ctx);
    let transit: Transit | undefined;
    let urgent: Promise<Buffer> | undefined;
    const proxy = await startRewritingProxy(async (path, status, body) => {
      if (transit && urgent === undefined && batchSizes('transit/decrypt/').length === 2) {
        urgent = transit.decrypt(single, ctx);
        // Its batch queues for the slot in the next check phase.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return wholeBatchFailure(path, status, body);
    });
    try {
      transit = proxy.transit(key, {
        batchConcurrency: 1,
        acceptKeys: [{ key: otherKey }],
        retry: { attempts: 1, requestTimeoutMs: 2_000 },
      });
      fx.server.clearRequests();
      const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
      expect(results.map(outcome)).toEqual(
        envelopes.map((_, i) => (i === 5 ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)),
      );
      expect(String(await urgent)).toBe('urgent');
      const paths = fx.server
        .requests()
        .filter((r) => r.path.startsWith('transit/decrypt/'))
        .map((r) => r.path);
      expect(paths.indexOf(`transit/decrypt/${otherKey}`)).toBe(2);
    } finally {
      transit?.close();
      await proxy.close();
    }
  });

  it('sends no half of an urgent batch that could not settle within two retry budgets: retryable ERR_TRANSIT_VAULT_UNAVAILABLE', async () => {
    // Budget 3 s (one attempt). A bulk call holds the only slot for 1.8 s, so the single
    // decrypts' batch starts 1.8 s in; Vault fails it whole after another 1.8 s. A half sent
    // now could take one more budget and end past two: none is sent. (1.2 s of margin either way
    // for a loaded machine.)
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey();
      const records = await manyRecords(key, 3, [1]);
      const [bulk] = await manyRecords(key, 1, []);
      const transit = proxy.transit(key, { batchConcurrency: 1, retry: { attempts: 1, requestTimeoutMs: 3_000 } });
      fx.server.clearRequests();
      fx.server.injectFault({ delayMs: 1_800 }, { times: 2, pathPrefix: 'transit/decrypt/' });
      const many = transit.decryptMany([{ envelope: bulk as Buffer, context: ctx }]);
      const outcomes = await Promise.allSettled(records.map((e) => transit.decrypt(e, ctx)));
      for (const settled of outcomes) {
        expect(settled).toMatchObject({
          status: 'rejected',
          reason: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true },
        });
      }
      expect((await many).map(outcome)).toEqual(['record 0']);
      expect(batchSizes('transit/decrypt/')).toEqual([1, 3]);
    } finally {
      await proxy.close();
    }
  });

  it("marks the calls of a split batch in its metrics: `split` on each failure that is not the items' own, `resend` on each half", async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey();
      const envelopes = await manyRecords(key, 4, [1]);
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { batchConcurrency: 1, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
      expect(results.map(outcome)).toEqual(['record 0', 'ERR_TRANSIT_INTEGRITY', 'record 2', 'record 3']);
      const calls = metrics.flatMap((metric) =>
        metric.type === 'vault-call' ? [{ ...metric, durationMs: undefined, key: undefined, type: undefined }] : [],
      );
      const integrity = { ok: false, code: 'ERR_TRANSIT_INTEGRITY' };
      expect(calls).toEqual([
        { op: 'decrypt', items: 4, ...integrity, split: true },
        { op: 'decrypt', items: 2, ...integrity, split: true, resend: true },
        { op: 'decrypt', items: 2, ok: true, resend: true },
        { op: 'decrypt', items: 1, ok: true, resend: true },
        { op: 'decrypt', items: 1, ...integrity, resend: true },
      ]);
    } finally {
      await proxy.close();
    }
  });
});

describe('one split budget per decryptMany / rewrap', () => {
  // Records bound to tenant t1 read as t2: Vault fails every one of them (a wrong context), and
  // with `wholeBatchFailure` fails every batch holding one as a whole. 32 records, 8 a batch:
  // B = 4 batches, N = 32 items, so at most B + 4·⌈log2 N⌉ = 4 + 20 = 24 calls. With a budget per
  // batch only (1 + 4·⌈log2 8⌉ = 13 calls each), an all-bad call took 52.
  const bound = { tenantBinding: { contextKey: 'tenant' } };
  const wrong = { ...ctx, tenant: 't2' };
  const outcome = (result: DecryptResult): string => (result.ok ? String(result.plaintext) : result.error.code);
  const vaultCalls = (metrics: TransitMetric[], op: string) =>
    metrics.flatMap((metric) => (metric.type === 'vault-call' && metric.op === op ? [metric] : []));
  const requestsTo = (path: string) => fx.server.requests().filter((r) => r.path === path).length;

  it('an all-bad decryptMany over several batches makes at most B + 4·⌈log2 N⌉ calls in all, each item failing with ERR_TRANSIT_INTEGRITY', async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 32, [], bound);
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { ...bound, batchSize: 8, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: wrong })));
      expect(results.map(outcome)).toEqual(envelopes.map(() => 'ERR_TRANSIT_INTEGRITY'));
      const calls = vaultCalls(metrics, 'decrypt');
      expect(calls).toHaveLength(4 + 20);
      expect(calls.filter((call) => call.resend)).toHaveLength(20);
      expect(calls.filter((call) => call.split)).toHaveLength(10);
    } finally {
      await proxy.close();
    }
  });

  it('an all-bad rewrap over several batches makes at most B + 4·⌈log2 N⌉ calls in all, each item failing with ERR_TRANSIT_INTEGRITY', async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 32, [], bound);
      await fx.client.write(`transit/keys/${key}/rotate`, {});
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { ...bound, batchSize: 8, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.rewrap(envelopes.map((envelope) => ({ envelope, context: wrong })));
      expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual(
        envelopes.map(() => 'ERR_TRANSIT_INTEGRITY'),
      );
      expect(vaultCalls(metrics, 'rewrap')).toHaveLength(4 + 20);
    } finally {
      await proxy.close();
    }
  });

  it('still decrypts the good items of a decryptMany whose other batch is all bad, in other batches and beside a lone bad item', async () => {
    // Batch 1 (items 0-7) all bad: its own budget stops it at 13 calls. Batch 2 has one bad item
    // (13): isolated in 2·⌈log2 8⌉ = 6 more calls. Batches 3 and 4: one call each. 22 ≤ 24.
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 32, [], bound);
      const bad = (i: number) => i < 8 || i === 13;
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { ...bound, batchSize: 8, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.decryptMany(
        envelopes.map((envelope, i) => ({ envelope, context: bad(i) ? wrong : ctx })),
      );
      expect(results.map(outcome)).toEqual(envelopes.map((_, i) => (bad(i) ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)));
      expect(vaultCalls(metrics, 'decrypt')).toHaveLength(4 + 12 + 6);
    } finally {
      await proxy.close();
    }
  });

  it('decrypts every good item of a decryptMany with one bad item in each of its batches: each split of a lone bad item earns its calls back', async () => {
    // 40 records, 8 a batch, one bad item in each of the 5 batches: each is isolated in
    // 2·⌈log2 8⌉ = 6 resends, 30 in all, more than the 4·⌈log2 40⌉ = 24 the operation starts
    // with. Of the two halves of each split, one is answered per item and earns its two calls back.
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 40, [], bound);
      const bad = new Set([3, 8, 21, 30, 39]);
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { ...bound, batchSize: 8, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.decryptMany(
        envelopes.map((envelope, i) => ({ envelope, context: bad.has(i) ? wrong : ctx })),
      );
      expect(results.map(outcome)).toEqual(
        envelopes.map((_, i) => (bad.has(i) ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)),
      );
      expect(vaultCalls(metrics, 'decrypt')).toHaveLength(5 + 5 * 6);
    } finally {
      await proxy.close();
    }
  });

  it('rewraps every good item of a rewrap with one bad item in each of its batches', async () => {
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 40, [], bound);
      await fx.client.write(`transit/keys/${key}/rotate`, {});
      const bad = new Set([0, 15, 20, 27, 36]);
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { ...bound, batchSize: 8, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.rewrap(
        envelopes.map((envelope, i) => ({ envelope, context: bad.has(i) ? wrong : ctx })),
      );
      expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual(
        envelopes.map((_, i) => (bad.has(i) ? 'ERR_TRANSIT_INTEGRITY' : 2)),
      );
      expect(vaultCalls(metrics, 'rewrap')).toHaveLength(5 + 5 * 6);
      const decrypted = await Promise.all(
        results.flatMap((r) => (r.ok ? [fx.transit(key, bound).decrypt(r.envelope, ctx)] : [])),
      );
      expect(decrypted.map(String)).toEqual(envelopes.flatMap((_, i) => (bad.has(i) ? [] : [`record ${i}`])));
    } finally {
      await proxy.close();
    }
  });

  it('isolates one bad item in each of many batches although their first splits alone overdraw the budget: a split waits for the resends in flight to earn', async () => {
    // 20 batches of 2, each with one bad item: all 20 first calls are sent before any half
    // (the halves queue behind them), and their splits need 40 calls against a budget of
    // 4·⌈log2 40⌉ = 24. The splits past it wait for the halves in flight, half of which earn.
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 40, [], bound);
      const bad = (i: number) => i % 4 === 0 || i % 4 === 3;
      const metrics: TransitMetric[] = [];
      const transit = proxy.transit(key, { ...bound, batchSize: 2, onMetric: (metric) => metrics.push(metric) });
      const results = await transit.decryptMany(
        envelopes.map((envelope, i) => ({ envelope, context: bad(i) ? wrong : ctx })),
      );
      expect(results.map(outcome)).toEqual(envelopes.map((_, i) => (bad(i) ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)));
      const calls = vaultCalls(metrics, 'decrypt');
      expect(calls).toHaveLength(20 + 20 * 2);
      expect(calls.filter((call) => call.split)).toHaveLength(20);
    } finally {
      await proxy.close();
    }
  });

  it("leaves single decrypts their own batch's budget: an all-bad decryptMany made in the same turn does not use it up", async () => {
    // The single decrypts are of records under another key (to tell their calls apart); one of
    // the three is bad, and is isolated in its urgent batch's own calls (3, 2, 1, 1, 1).
    const proxy = await startRewritingProxy(wholeBatchFailure);
    try {
      const key = await fx.newKey({ derived: true });
      const otherKey = await fx.newKey({ derived: true });
      const envelopes = await manyRecords(key, 32, [], bound);
      const singles = await manyRecords(otherKey, 3, [], bound);
      const transit = proxy.transit(key, { ...bound, batchSize: 8, acceptKeys: [{ key: otherKey }] });
      fx.server.clearRequests();
      const many = transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: wrong })));
      const outcomes = await Promise.allSettled(singles.map((e, i) => transit.decrypt(e, i === 1 ? wrong : ctx)));
      expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 0') });
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: 'ERR_TRANSIT_INTEGRITY' } });
      expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 2') });
      expect((await many).map(outcome)).toEqual(envelopes.map(() => 'ERR_TRANSIT_INTEGRITY'));
      expect(requestsTo(`transit/decrypt/${otherKey}`)).toBe(5);
      expect(requestsTo(`transit/decrypt/${key}`)).toBe(4 + 20);
    } finally {
      await proxy.close();
    }
  });
});
