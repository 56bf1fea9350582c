import { waitFor } from '@rampart/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheRegistry, type RedisClient, RedisStoreError, ReplayGuard } from '../src/index.ts';
import { callsBetween, cluster, singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${++counter}`;
const registry = (): CacheRegistry => new CacheRegistry();

// ReplayGuard.attempt: a record with a token of its own, and a forget that deletes only that record.
describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('ReplayGuard.attempt on a %s', (_name, start) => {
  let target: Target;
  let podA: RedisClient;
  let podB: RedisClient;
  const guards: ReplayGuard[] = [];

  beforeAll(async () => {
    target = await start();
    [podA, podB] = await Promise.all([target.connect(), target.connect()]);
  });
  afterAll(async () => {
    for (const g of guards) g.close();
    for (const c of [podA, podB]) c?.disconnect();
    await target?.stop();
  });

  /** The same guard (one name) on pod A's and on pod B's client. */
  const pods = (): [ReplayGuard, ReplayGuard] => {
    const name = unique('attempt');
    const a = new ReplayGuard({ redis: podA, name, ttlMs: 60_000, registry: registry(), timeoutMs: 2_000 });
    const b = new ReplayGuard({ redis: podB, name, ttlMs: 60_000, registry: registry(), timeoutMs: 2_000 });
    guards.push(a, b);
    return [a, b];
  };

  it('answers first time once and replay afterwards, like check', async () => {
    const [a, b] = pods();
    expect(await a.attempt('nonce-1').check()).toBe(true);
    expect(await b.attempt('nonce-1').check()).toBe(false);
    expect(await b.check('nonce-1')).toBe(false);
    await expect(b.attempt('nonce-1').checkOrThrow()).rejects.toMatchObject({ code: 'ERR_REDIS_REPLAY_DETECTED' });
    await expect(a.attempt('nonce-2').checkOrThrow()).resolves.toBeUndefined();
  });

  it("leaves the other pod's record when the attempt that lost forgets", async () => {
    const [a, b] = pods();
    const atB = b.attempt('delivery-1');
    expect(await atB.check()).toBe(true);
    const atA = a.attempt('delivery-1');
    expect(await atA.check()).toBe(false);
    expect(await atA.forget()).toBe(false);
    expect(await a.attempt('delivery-1').check()).toBe(false);
    // The holder's own forget releases the id.
    expect(await atB.forget()).toBe(true);
    expect(await atB.forget()).toBe(false);
    expect(await a.attempt('delivery-1').check()).toBe(true);
  });

  it("leaves the record another pod made after this attempt's record expired", async () => {
    const [a, b] = pods();
    const atA = a.attempt('slow-handler', 50);
    expect(await atA.check()).toBe(true);
    await waitFor(async () => (await podA.exists(`rampart:replay:${a.name}:slow-handler`)) === 0, {
      timeoutMs: 5_000,
      what: "pod A's record to expire",
    });
    const atB = b.attempt('slow-handler');
    expect(await atB.check()).toBe(true);
    expect(await atA.forget()).toBe(false);
    expect(await a.attempt('slow-handler').check()).toBe(false);
  });

  it('gives exactly one first-time answer to many concurrent attempts, and no loser releases the id', async () => {
    const [a, b] = pods();
    const attempts = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).attempt('same'));
    const answers = await Promise.all(attempts.map((t) => t.check()));
    expect(answers.filter(Boolean)).toHaveLength(1);
    const losers = attempts.filter((_, i) => !answers[i]);
    expect(await Promise.all(losers.map((t) => t.forget()))).toEqual(losers.map(() => false));
    expect(await a.check('same')).toBe(false);
    const winner = attempts[answers.indexOf(true)];
    expect(await winner?.forget()).toBe(true);
    expect(await b.check('same')).toBe(true);
  });

  it('records each attempt of a concurrent (coalesced) burst with its own token', async () => {
    const [a] = pods();
    const ids = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    const before = await target.commandCalls();
    const attempts = ids.map((id) => a.attempt(id));
    expect(await Promise.all(attempts.map((t) => t.check()))).toEqual(ids.map(() => true));
    if (target.name === 'single node') {
      // The burst left in batches (the SET_NX_MANY script), not as one SET each.
      const calls = callsBetween(before, await target.commandCalls());
      expect((calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0)).toBeGreaterThan(0);
    }
    // Each attempt deletes its own record, which it could not if the batch had sent one value.
    expect(await Promise.all(attempts.map((t) => t.forget()))).toEqual(ids.map(() => true));
    expect(await Promise.all(ids.map((id) => a.check(id)))).toEqual(ids.map(() => true));
  });

  it("never deletes check()'s record; forget(id) still deletes any record", async () => {
    const [a, b] = pods();
    expect(await a.check('plain')).toBe(true);
    const late = b.attempt('plain');
    expect(await late.check()).toBe(false);
    expect(await late.forget()).toBe(false);
    expect(await b.check('plain')).toBe(false);
    // The plain forget is a DEL of whoever's record, as documented.
    const held = a.attempt('held');
    expect(await held.check()).toBe(true);
    await b.forget('held');
    expect(await held.forget()).toBe(false);
    expect(await b.check('held')).toBe(true);
  });

  it('answers false for a forget before any check, and refuses a second check of one attempt', async () => {
    const [a] = pods();
    const unchecked = a.attempt('unchecked');
    expect(await unchecked.forget()).toBe(false);
    const once = a.attempt('secret-delivery-7');
    expect(await once.check()).toBe(true);
    const error = await once.check().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT', retryable: false });
    expect((error as Error).message).not.toContain('secret-delivery-7');
    // The refused second check changed nothing: the first one's record is still its own.
    expect(await once.forget()).toBe(true);
  });

  it('refuses a bad id or TTL at once, with a typed error that names neither', () => {
    const [a] = pods();
    for (const [id, ttl] of [
      ['', undefined],
      ['x'.repeat(100_000), undefined],
      ['\ud800secret-id', undefined],
      ['secret-id', 0],
      ['secret-id', 1.5],
      ['secret-id', Number.NaN],
    ] as const) {
      let error: unknown;
      try {
        a.attempt(id, ttl);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      expect((error as Error).message).not.toContain('secret-id');
      expect((error as Error).message).toContain('ReplayGuard.attempt');
    }
  });
});

describe('ReplayGuard.attempt after a timed-out check (single node)', () => {
  let target: Target;
  let admin: Redis;
  let podA: RedisClient;
  let podB: RedisClient;
  const guards: ReplayGuard[] = [];

  beforeAll(async () => {
    target = await singleNode();
    [admin, podA, podB] = (await Promise.all([target.connect(), target.connect(), target.connect()])) as [
      Redis,
      RedisClient,
      RedisClient,
    ];
  });
  afterAll(async () => {
    for (const g of guards) g.close();
    for (const c of [admin, podA, podB]) c?.disconnect();
    await target?.stop();
  });

  const pods = (): [ReplayGuard, ReplayGuard] => {
    const name = unique('timed-out');
    const a = new ReplayGuard({ redis: podA, name, ttlMs: 60_000, registry: registry(), timeoutMs: 50 });
    const b = new ReplayGuard({ redis: podB, name, ttlMs: 60_000, registry: registry(), timeoutMs: 2_000 });
    guards.push(a, b);
    return [a, b];
  };

  it('leaves the record of the pod that holds the id (its SET NX did not land)', async () => {
    const [a, b] = pods();
    const atB = b.attempt('delivery');
    expect(await atB.check()).toBe(true);
    await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    const atA = a.attempt('delivery');
    await expect(atA.check()).rejects.toMatchObject({ code: 'ERR_REDIS_TIMEOUT', retryable: true });
    // Times out too (writes still wait); it runs behind the SET when the pause ends.
    await atA.forget().catch((e: unknown) => expect(e).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' }));
    // Answered only after every command pod A sent before it ran.
    await (podA as Redis).ping();
    expect(await b.check('delivery')).toBe(false);
    expect(await atB.forget()).toBe(true);
  });

  it('deletes the record its own timed-out check made, once Redis runs both', async () => {
    const [a, b] = pods();
    await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    const atA = a.attempt('landed');
    await expect(atA.check()).rejects.toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    const forgotten = atA.forget().catch((e: unknown) => e);
    await (podA as Redis).ping();
    const outcome = await forgotten;
    // Answered in time (true) or not (timeout): either way Redis ran it after the SET.
    if (outcome !== true) expect(outcome).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    expect(await b.check('landed')).toBe(true);
  });
});
