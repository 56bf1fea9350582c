import { waitFor } from '@rampart/testkit';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/index.ts';
import { buildDecideScript } from '../src/rate-limit/decide-script.ts';
import { resolveLimits } from '../src/rate-limit/limits.ts';
import type { RedisScript } from '../src/scripts.ts';
import { singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const unique = (): string => `fw${process.pid}x${++counter}`;

type Op =
  | { readonly op: 'c' | 'p' | 'r' | 'x'; readonly cost: number }
  | { readonly op: 'b'; readonly blockUs: number }
  | { readonly op: 'd' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('c' as const), cost: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('p' as const), cost: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('r' as const), cost: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('x' as const), cost: fc.integer({ min: 1, max: 3 }) }) },
  // Blocks far longer than a run, so both scripts see them alike (expiry is tested on its own).
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('b' as const), blockUs: fc.constantFrom(30_000_000, 60_000_000) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('d' as const) }) },
);

function argsOf(o: Op): (string | number)[] {
  if (o.op === 'b') return ['b', 1, '', o.blockUs];
  if (o.op === 'd') return ['d', 1];
  return [o.op, o.cost];
}

/**
 * The reply as the parts both scripts must agree on exactly (status, ok, remaining), and its
 * durations (blockedFor, reset, retry), which depend on the server time of each call: those must
 * agree on being zero and otherwise lie within `apartUs` of each other. Both calls run within one
 * round trip of the client, so that round trip bounds how far apart their server times are (µs on
 * a quiet machine; a loaded one can stall Redis between the two for longer than a fixed 50 ms).
 */
function sameReply(a: unknown, b: unknown, apartUs: number): boolean {
  const x = a as number[];
  const y = b as number[];
  if (x.length !== y.length || x[0] !== y[0]) return false;
  const durations = x.length === 7 ? [2, 5, 6] : x[0] === 0 ? [2] : [];
  for (let i = 2; i < x.length; i++) {
    const p = x[i] as number;
    const q = y[i] as number;
    if (!durations.includes(i)) {
      if (p !== q) return false;
    } else if ((p === 0) !== (q === 0) || Math.abs(p - q) > apartUs) return false;
  }
  return true;
}

describe('the packed fixed-window script', () => {
  let target: Target;
  let redis: Redis;

  beforeAll(async () => {
    target = await singleNode();
    redis = (await target.connect()) as Redis;
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  const run = (script: RedisScript, key: string, args: (string | number)[]) =>
    redis.eval(script.lua, 1, key, ...args) as Promise<unknown>;

  it('answers every sequence of operations exactly as the general script does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          limit: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(2 ** 30)),
          spendOnReject: fc.boolean(),
          blockOnRejectUs: fc.constantFrom(0, 40_000_000),
          ops: fc.array(opArb, { minLength: 1, maxLength: 40 }),
        }),
        async ({ limit, spendOnReject, blockOnRejectUs, ops }) => {
          const limits = resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit, windowMs: 600_000 }], []);
          const packed = buildDecideScript(limits, { spendOnReject, blockOnRejectUs }).single;
          const general = buildDecideScript(limits, { spendOnReject, blockOnRejectUs, general: true }).single;
          expect(packed.sha1).not.toBe(general.sha1);
          const keyP = `${unique()}:{s}`;
          const keyG = `${unique()}:{s}`;
          for (const o of ops) {
            const cost = 'cost' in o ? o.cost : 1;
            if (cost > limit) continue; // the limiter refuses such a cost before Redis
            const sent = performance.now();
            const [p, g] = await Promise.all([run(packed, keyP, argsOf(o)), run(general, keyG, argsOf(o))]);
            // 50 ms, or the round trip in µs when the machine is slow enough for it to be longer.
            const apartUs = Math.max(50_000, Math.ceil((performance.now() - sent) * 1_000));
            if (!sameReply(p, g, apartUs)) expect({ op: o, packed: p }).toEqual({ op: o, packed: g });
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('starts a new count when the window rolls and keeps the key no longer than the window', async () => {
    const prefix = unique();
    const rl = createRateLimiter({
      redis,
      prefix,
      blockCache: false,
      timeoutMs: 2_000,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 2, windowMs: 2_000 }],
    });
    // Start right after a window boundary so the three calls share one window (1.5 s of margin).
    await waitFor(async () => ((await rl.get('k')).limits[0]?.resetMs ?? 0) > 1_500, {
      timeoutMs: 5_000,
      what: 'a fresh window',
    });
    const first = [await rl.consume('k'), await rl.consume('k'), await rl.consume('k')];
    expect(first.map((d) => d.allowed)).toEqual([true, true, false]);
    const ttl = await redis.pttl(`${prefix}:{k}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2_001);
    await waitFor(async () => (await rl.consume('k')).allowed, { timeoutMs: 5_000, what: 'the next window' });
    expect((await rl.get('k')).limits[0]!.remaining).toBe(1);
  });

  // Windows of the packed layout are told apart by a 20-bit tag of their index; a field written
  // with another windowMs (a deploy that changed it under the same name) could carry the tag of the
  // current window and be read as its count, refusing subjects with an old count.
  it('does not read a count written with another windowMs under the same limit name', async () => {
    const prefix = unique();
    const make = (windowMs: number) =>
      createRateLimiter({
        redis,
        prefix,
        blockCache: false,
        timeoutMs: 2_000,
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 2, windowMs }],
      });
    const TAGS = 2 ** 20 - 2;
    const [seconds, micros] = (await redis.time()) as [string | number, string | number];
    const nowMs = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
    // An old windowMs whose window index has the tag of the 1 s window after this one: read as
    // that window's count in it, and as the next window's (a clock stepped back) in this one.
    const wanted = (Math.floor(nowMs / 1_000) + 1) % TAGS;
    let oldWindowMs = 0;
    for (let w = 600_000; w <= 10_000_000 && oldWindowMs === 0; w++) {
      const index = Math.floor(nowMs / w);
      if (index % TAGS === wanted && Math.floor((nowMs + 10_000) / w) === index) oldWindowMs = w;
    }
    expect(oldWindowMs).toBeGreaterThan(0);
    const before = make(oldWindowMs);
    expect((await before.consume('k')).allowed).toBe(true);
    expect((await before.consume('k')).allowed).toBe(true);
    const after = make(1_000);
    const first = await after.consume('k');
    expect(first.allowed).toBe(true);
    expect(first.limits[0]!.remaining).toBe(1);
  });

  // Versions before the field carried the window length counted in '<name>:p'. A count of the
  // window in progress there is carried over on upgrade, so an upgrade does not hand every subject a
  // fresh window; a count of any other window is not (and a stale one is dropped).
  describe('upgrading from the legacy field name', () => {
    const TAGS = 2 ** 20 - 2;
    const K = 2 ** 33;
    const HOUR = 3_600_000;
    const make = (prefix: string, limit = 5) =>
      createRateLimiter({
        redis,
        prefix,
        blockCache: false,
        timeoutMs: 2_000,
        limits: [{ name: 'login', algorithm: 'fixed-window', limit, windowMs: HOUR }],
      });
    /** The tag of the window `offset` windows from the server clock's, as the packed layout writes it. */
    const tagAt = async (offset: number): Promise<number> => {
      const [seconds, micros] = (await redis.time()) as [string | number, string | number];
      const index = Math.floor((Number(seconds) * 1_000_000 + Number(micros)) / (HOUR * 1_000));
      return 1 + ((index + offset) % TAGS);
    };
    /** Runs `body` with the legacy field written in one hour-long window (retried once across a window start). */
    const inOneWindow = async (body: () => Promise<void>, offset: number, count: number, key: string, mark = 0) => {
      for (let attempt = 0; ; attempt++) {
        const tag = await tagAt(offset);
        await redis.hset(key, 'login:p', String(tag * K + count + mark));
        await redis.pexpire(key, HOUR);
        try {
          await body();
          return;
        } catch (err) {
          if (attempt > 0 || (await tagAt(offset)) === tag) throw err;
          await redis.del(key);
        }
      }
    };

    it('refuses a subject that used up its limit in the legacy field in the window in progress', async () => {
      const prefix = unique();
      const key = `${prefix}:{k}`;
      const rl = make(prefix);
      await inOneWindow(
        async () => {
          expect((await rl.get('k')).limits[0]!.remaining).toBe(0);
          const d = await rl.consume('k');
          expect(d.allowed).toBe(false);
          expect(d.limits[0]!.remaining).toBe(0);
          expect((await rl.consume('k')).allowed).toBe(false);
          // The count now lives in the new field; the legacy one stays for pods not yet upgraded.
          expect(Number(await redis.hget(key, 'login:p3600000')) % K).toBe(5);
          expect(Number(await redis.hget(key, 'login:p')) % K).toBe(5);
        },
        0,
        5,
        key,
      );
    });

    it('carries the legacy count in the batch script too', async () => {
      const limits = resolveLimits([{ name: 'login', algorithm: 'fixed-window', limit: 5, windowMs: HOUR }], []);
      const { batch } = buildDecideScript(limits);
      const prefix = unique();
      const full = `${prefix}:{a}`;
      const fresh = `${prefix}:{b}`;
      await inOneWindow(
        async () => {
          const reply = (await redis.eval(batch.lua, 2, full, fresh, 1, 1)) as number[];
          expect(reply).toEqual([
            0,
            expect.any(Number),
            0,
            0,
            0,
            expect.any(Number),
            expect.any(Number),
            1,
            expect.any(Number),
            4,
          ]);
        },
        0,
        5,
        full,
      );
    });

    it('carries a partial legacy count (with a block mark) and counts on from it', async () => {
      const prefix = unique();
      const key = `${prefix}:{k}`;
      const rl = make(prefix);
      await inOneWindow(
        async () => {
          const first = await rl.consume('k');
          expect(first.allowed).toBe(true);
          expect(first.limits[0]!.remaining).toBe(1);
          expect((await rl.consume('k')).allowed).toBe(true);
          expect((await rl.consume('k')).allowed).toBe(false);
        },
        0,
        3,
        key,
        2 ** 32,
      );
    });

    it('carries a penalty and a refund from the legacy count', async () => {
      const prefix = unique();
      const key = `${prefix}:{k}`;
      const rl = make(prefix);
      await inOneWindow(
        async () => {
          await rl.refund('k', { cost: 2 });
          expect((await rl.get('k')).limits[0]!.remaining).toBe(3);
          await rl.penalize('k', { cost: 1 });
          expect((await rl.get('k')).limits[0]!.remaining).toBe(2);
        },
        0,
        4,
        key,
      );
    });

    it('saturates a huge legacy count like any other count', async () => {
      const prefix = unique();
      const key = `${prefix}:{k}`;
      const rl = make(prefix, 2 ** 30);
      await inOneWindow(
        async () => {
          expect((await rl.consume('k')).allowed).toBe(false);
          expect(Number(await redis.hget(key, 'login:p3600000')) % K).toBe(2 ** 31);
        },
        0,
        2 ** 31 + 100,
        key,
        0,
      );
    });

    it('ignores a legacy count of another window, and drops it unless it is of the next window', async () => {
      for (const offset of [-1, 2, -5]) {
        const prefix = unique();
        const key = `${prefix}:{k}`;
        const rl = make(prefix);
        await inOneWindow(
          async () => {
            const d = await rl.consume('k');
            expect(d.allowed).toBe(true);
            expect(d.limits[0]!.remaining).toBe(4);
            expect(await redis.hget(key, 'login:p')).toBeNull();
          },
          offset,
          5,
          key,
        );
      }
      // The window after the clock's (a clock stepped back) is not the current one either, but an
      // old pod still counts in it: kept.
      const prefix = unique();
      const key = `${prefix}:{k}`;
      const rl = make(prefix);
      await inOneWindow(
        async () => {
          const d = await rl.consume('k');
          expect(d.allowed).toBe(true);
          expect(d.limits[0]!.remaining).toBe(4);
          expect(await redis.hget(key, 'login:p')).not.toBeNull();
        },
        1,
        5,
        key,
      );
    });

    it('keeps the fast path at two commands with a legacy field present', async () => {
      const prefix = unique();
      const key = `${prefix}:{k}`;
      const rl = make(prefix, 1_000);
      await inOneWindow(
        async () => {
          await rl.consume('k');
          const before = await target.commandCalls();
          for (let i = 0; i < 10; i++) await rl.consume('k');
          const after = await target.commandCalls();
          const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
          expect([delta('time'), delta('hincrby'), delta('hmget'), delta('hget'), delta('hset')]).toEqual([
            10, 10, 0, 0, 0,
          ]);
          expect((await rl.get('k')).limits[0]!.remaining).toBe(1_000 - 11 - 7);
        },
        0,
        7,
        key,
      );
    });
  });

  it('reports the reset of the window it counted in after the clock stepped back across a window start', async () => {
    const prefix = unique();
    const rl = createRateLimiter({
      redis,
      prefix,
      blockCache: false,
      timeoutMs: 2_000,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 10, windowMs: 60_000 }],
    });
    const first = await rl.consume('k');
    const key = `${prefix}:{k}`;
    // As if the count were of the window after the clock's (a clock stepped back across its start).
    const TAGS = 2 ** 20 - 2;
    const index = Math.floor(first.serverTimeUs! / 60_000_000);
    await redis.hset(key, 'w:p60000', String((1 + ((index + 1) % TAGS)) * 2 ** 33 + 1));
    const d = await rl.consume('k');
    expect(d.allowed).toBe(true);
    expect(d.limits[0]!.remaining).toBe(8);
    const nowMs = Math.floor(d.serverTimeUs! / 1_000);
    expect(Math.abs(d.limits[0]!.resetMs - ((index + 2) * 60_000 - nowMs))).toBeLessThanOrEqual(1);
  });

  it('honours a block set in the general layout (before an upgrade) and one that expires', async () => {
    const prefix = unique();
    const limits = resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 600_000 }], []);
    const general = buildDecideScript(limits, { general: true }).single;
    const key = `${prefix}:{k}`;
    await run(general, key, ['c', 1]);
    await run(general, key, ['b', 1, '', 20_000_000]);
    const rl = createRateLimiter({
      redis,
      prefix,
      blockCache: false,
      timeoutMs: 2_000,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 600_000 }],
    });
    for (let i = 0; i < 3; i++) expect(await rl.consume('k')).toMatchObject({ allowed: false, blocked: true });
    // A short block ends by itself; the count of the window is still there afterwards.
    await rl.reset('k');
    await rl.consume('k');
    await rl.consume('k');
    await rl.block('k', 150);
    expect((await rl.consume('k')).blocked).toBe(true);
    await waitFor(async () => (await rl.consume('k')).allowed, { timeoutMs: 2_000, what: 'the block to end' });
    expect((await rl.get('k')).limits[0]!.remaining).toBe(2);
  });

  it('sees a block written by the general layout after it counted, from the next window on, and keeps its TTL', async () => {
    const limits = resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 1_000 }], []);
    const packed = buildDecideScript(limits).single;
    const general = buildDecideScript(limits, { general: true }).single;
    const key = `${unique()}:{k}`;
    expect(((await run(packed, key, ['c', 1])) as number[])[0]).toBe(1);
    await run(general, key, ['b', 1, '', 60_000_000]); // a pod not yet upgraded blocks the subject
    const rolled = async () => {
      const reply = (await run(packed, key, ['c', 1])) as number[];
      return reply[0] === 0 && (reply[2] ?? 0) > 50_000_000;
    };
    await waitFor(rolled, { timeoutMs: 3_000, what: 'the next window to see the block' });
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
    expect(((await run(general, key, ['c', 1])) as number[])[0]).toBe(0);
  });

  it('keeps a saturated count saturated: a refund never brings it back under the limit', async () => {
    const limits = resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit: 2 ** 30, windowMs: 600_000 }], []);
    const packed = buildDecideScript(limits).single;
    const key = `${unique()}:{k}`;
    await run(packed, key, ['x', 2 ** 40]);
    // The general script would now hold 2^40 and stay over the limit after this refund; an
    // unsaturated 2^31 would drop below it.
    await run(packed, key, ['r', 2 ** 30 + 10]);
    expect(((await run(packed, key, ['c', 1])) as number[])[0]).toBe(0);
    expect(((await run(packed, key, ['p', 1])) as number[])[4]).toBe(0);
  });

  it('stops counting at 2^31 with spendOnReject, so the packing can never overflow', async () => {
    const limits = resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 600_000 }], []);
    const packed = buildDecideScript(limits, { spendOnReject: true }).single;
    const key = `${unique()}:{k}`;
    await run(packed, key, ['x', 1]);
    // Bring the count next to the cap directly, then keep spending on reject.
    const field = (await redis.hget(key, 'w:p600000')) as string;
    await redis.hset(key, 'w:p600000', String(Number(field) - 1 + 2 ** 31 - 2));
    for (let i = 0; i < 5; i++) await run(packed, key, ['c', 3]);
    const value = Number(await redis.hget(key, 'w:p600000'));
    expect(value % 2 ** 33).toBe(2 ** 31);
    expect(await run(packed, key, ['p', 1])).toEqual([
      0,
      expect.any(Number),
      0,
      0,
      0,
      expect.any(Number),
      expect.any(Number),
    ]);
  });

  it('uses two Redis commands for a request within a window', async () => {
    const rl = createRateLimiter({
      redis,
      prefix: unique(),
      blockCache: false,
      timeoutMs: 2_000,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 1_000, windowMs: 600_000 }],
    });
    await rl.consume('k');
    const before = await target.commandCalls();
    for (let i = 0; i < 10; i++) await rl.consume('k');
    const after = await target.commandCalls();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect([delta('time'), delta('hincrby'), delta('hmget'), delta('hget'), delta('hset')]).toEqual([10, 10, 0, 0, 0]);
  });
});
