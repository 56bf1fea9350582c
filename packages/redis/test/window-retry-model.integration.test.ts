import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, type LimitDefinition, type RateLimitDecision, type RedisClient } from '../src/index.ts';
import { buildDecideScript } from '../src/rate-limit/decide-script.ts';
import { resolveLimits } from '../src/rate-limit/limits.ts';
import { gcraReference } from './fixtures/gcra-reference.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const uniquePrefix = (): string => `wm${process.pid}x${++counter}`;

type WindowLimit = {
  readonly name: string;
  readonly algorithm: 'fixed-window' | 'sliding-window';
  readonly limit: number;
  readonly windowMs: number;
};

/**
 * One fixed or sliding window as the scripts count it, in the scripts' own arithmetic: µs
 * integers, and the sliding estimate as the same IEEE double expression Lua evaluates
 * (`prev × ((W − into) / W) + cur`), so `admits` is the script's admission, µs for µs.
 */
function windowModel(def: WindowLimit, state?: { idx: number; cur: number; prev: number }) {
  const W = def.windowMs * 1000;
  const L = def.limit;
  const sliding = def.algorithm === 'sliding-window';
  let stored = state;
  /** The counts seen at `t`: the window index, its count and (sliding) the previous window's. */
  const at = (t: number): { idx: number; cur: number; prev: number } => {
    const idx = Math.floor(t / W);
    if (stored?.idx === idx) return { idx, cur: stored.cur, prev: stored.prev };
    if (sliding && stored?.idx === idx - 1) return { idx, cur: 0, prev: stored.cur };
    return { idx, cur: 0, prev: 0 };
  };
  const estimate = (t: number): number => {
    const { idx, cur, prev } = at(t);
    return sliding ? prev * ((W - (t - idx * W)) / W) + cur : cur;
  };
  const admits = (t: number, cost: number): boolean => estimate(t) + cost <= L;
  return {
    name: def.name,
    admits,
    /** The first µs from `t` on at which `cost` is admitted, the state left as it is. */
    earliest(t: number, cost: number): number {
      if (admits(t, cost)) return t;
      // Each window's admission only ever turns true as time passes, and two windows on every
      // count is gone (cost ≤ L): bisect.
      let lo = t;
      let hi = (Math.floor(t / W) + 2) * W;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (admits(mid, cost)) hi = mid;
        else lo = mid;
      }
      return hi;
    },
    /** This limit's figures at `t` for a request of `cost`, before or after (`spent`) it. */
    status(t: number, cost: number, spent: boolean) {
      const { idx, cur, prev } = at(t);
      const est = estimate(t);
      const reset = sliding
        ? spent || cur > 0
          ? (idx + 2) * W - t
          : prev > 0
            ? (idx + 1) * W - t
            : 0
        : (idx + 1) * W - t;
      const left = sliding ? Math.floor(L - est - (spent ? cost : 0)) : L - cur - (spent ? cost : 0);
      return { ok: est + cost <= L, remaining: Math.max(0, left), resetUs: reset };
    },
    spend(t: number, cost: number): void {
      const { idx, cur, prev } = at(t);
      stored = { idx, cur: cur + cost, prev };
    },
  };
}

type GcraLimit = {
  readonly name: string;
  readonly algorithm: 'gcra';
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
};

/** A GCRA limit: the shared reference, its reset in µs as windowModel reports it. */
function gcraModel(def: GcraLimit) {
  const reference = gcraReference(def.limit, def.windowMs, def.burst);
  return {
    name: def.name,
    admits: reference.admits,
    earliest: reference.earliest,
    status(t: number, cost: number, spent: boolean) {
      const { ok, remaining, resetTicks } = reference.status(t, cost, spent);
      return { ok, remaining, resetUs: resetTicks };
    },
    spend: reference.spend,
  };
}

type Model = ReturnType<typeof windowModel> | ReturnType<typeof gcraModel>;
const modelOf = (def: WindowLimit | GcraLimit): Model => (def.algorithm === 'gcra' ? gcraModel(def) : windowModel(def));

const ms = (us: number): number => (us > 0 ? Math.ceil(us / 1000) : 0);

/**
 * Checks one consume decision against the models and applies it to them. On a rejection, each
 * limit's `retryAfterMs` is the wait until it admits the same request from the state the decision
 * leaves (with `spendOnReject`, the state the spend leaves), and the decision's is the largest:
 * exact to the ms, so waiting it admits the same request and a ms less does not.
 */
function check(models: Model[], decision: RateLimitDecision, cost: number, spend: boolean) {
  const t = decision.serverTimeUs!;
  const before = models.map((m) => m.status(t, cost, false));
  const allowed = before.every((s) => s.ok);
  const spent = allowed || spend;
  const want = models.map((m, i) => ({ ...m.status(t, cost, spent), ok: before[i]!.ok }));
  if (spent) for (const m of models) m.spend(t, cost);
  expect(decision.allowed).toBe(allowed);
  expect(decision.limits.map((l) => [l.name, l.allowed, l.remaining, l.resetMs])).toEqual(
    models.map((m, i) => [m.name, want[i]!.ok, want[i]!.remaining, ms(want[i]!.resetUs)]),
  );
  if (allowed) {
    expect(decision.retryAfterMs).toBe(0);
    expect(decision.limits.every((l) => l.retryAfterMs === 0)).toBe(true);
    return;
  }
  const waits = models.map((m) => ms(m.earliest(t, cost) - t));
  expect(decision.limits.map((l) => l.retryAfterMs)).toEqual(waits);
  expect(decision.retryAfterMs).toBe(Math.max(...waits));
  const retryAt = t + decision.retryAfterMs * 1000;
  expect(models.every((m) => m.admits(retryAt, cost))).toBe(true);
  expect(models.every((m) => m.admits(retryAt - 1000, cost))).toBe(false);
}

/**
 * A sliding window's rejected states, half of them next to a rounding edge: the exact µs into the
 * window at which the estimate reaches the limit, W − n × W / d, lies within 1/8 µs above an
 * integer, where a closed form computed in doubles next to a µs timestamp of 2^50 (a double's
 * step there is 1/4) rounds down onto the µs before the first one that admits.
 */
const slidingStateArb = fc
  .record({
    windowMs: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1_000, max: 86_400_000 })),
    limit: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 1_000_000 })),
    cost: fc.integer({ min: 1, max: 3 }),
    cur: fc.double({ min: 0, max: 1, noNaN: true }),
    prev: fc.double({ min: 0, max: 1, noNaN: true }),
    into: fc.double({ min: 0, max: 1, noNaN: true }),
    // Around the Redis clock of these years (2^50 µs is 2005).
    base: fc.integer({ min: 1_600_000_000_000_000, max: 2_000_000_000_000_000 }),
    edge: fc.boolean(),
  })
  .map(({ windowMs, limit, cost, cur, prev, into, base, edge }) => {
    const W = windowMs * 1000;
    const c = Math.min(limit, cost);
    const state = { cur: Math.floor(cur * (limit + 1)), prev: 1 + Math.floor(prev * 2 * limit) };
    // n / d: what is left of the limit over the count that weighs it, in the branch the state takes.
    const [n, d] = state.cur + c <= limit ? [limit - state.cur - c, state.prev] : [limit - c, state.cur];
    const r = Number((BigInt(n) * BigInt(W)) % BigInt(d));
    return { windowMs, limit, cost: c, ...state, into, base, edge, nearEdge: r > 0 && 8 * r > 7 * d };
  })
  .filter((s) => !s.edge || s.nearEdge);

/**
 * Runs `lua` with `now` as its Redis TIME: the generated script, its one TIME call replaced by two
 * arguments after the decision's own.
 */
function atClock(lua: string): string {
  const call = "redis.call('TIME')";
  expect(lua.split(call)).toHaveLength(2);
  return lua.replace(call, '{ARGV[5], ARGV[6]}');
}

const limitArb = (name: string): fc.Arbitrary<WindowLimit | GcraLimit> => {
  const limit = fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 1_000_000 }));
  // Windows of a few ms roll during a run; long ones do not.
  const windowMs = fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1_000, max: 86_400_000 }));
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        name: fc.constant(name),
        algorithm: fc.constantFrom('fixed-window' as const, 'sliding-window' as const),
        limit,
        windowMs,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        name: fc.constant(name),
        algorithm: fc.constant('gcra' as const),
        limit,
        windowMs,
        burst: fc.integer({ min: 1, max: 6 }),
      }),
    },
  );
};

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('fixed and sliding windows on a %s', (_name, start) => {
  let target: Target;
  let redis: RedisClient;

  beforeAll(async () => {
    target = await start();
    redis = await target.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  const limiter = (limits: LimitDefinition[], spendOnReject: boolean) =>
    createRateLimiter({ redis, prefix: uniquePrefix(), limits, spendOnReject, blockCache: false, timeoutMs: 2_000 });

  it('reports, after a sliding-window rejection spent under spendOnReject, the wait the same request really needs', async () => {
    const def: WindowLimit = { name: 's', algorithm: 'sliding-window', limit: 2, windowMs: 60_000 };
    const rl = limiter([def], true);
    const models = [windowModel(def)];
    for (let i = 0; i < 4; i++) check(models, await rl.consume('k'), 1, true);
  });

  it('reports, after a rejection spent on every limit, the wait of a limit the spend filled', async () => {
    // The third request is rejected by 2 per minute and spent on both: 3 per hour is now full too,
    // so the same request waits for the hour, not the minute.
    const defs: WindowLimit[] = [
      { name: 'minute', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 },
      { name: 'hour', algorithm: 'sliding-window', limit: 3, windowMs: 3_600_000 },
    ];
    const rl = limiter(defs, true);
    const models = defs.map((d) => windowModel(d));
    // The three requests fall in one fixed window (aligned to Redis's clock): not in its last 10 s,
    // which a loaded machine could take between them (a 1 s window once rolled between two).
    const [seconds, micros] = await redis.time();
    const left = 60_000 - ((Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)) % 60_000);
    if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
    const decisions: RateLimitDecision[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await rl.consume('k');
      decisions.push(decision);
      check(models, decision, 1, true);
    }
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(decisions[2]!.limits.map((l) => l.allowed)).toEqual([false, true]);
    expect(decisions[2]!.retryAfterMs).toBeGreaterThan(60_000);
  });

  it('reports the wait of a GCRA limit that admitted the request and is full after the spend', async () => {
    // 3 per hour, burst 3: after the spent rejection by 2 per minute its TAT is an hour ahead. Long
    // windows: a 1 s window could roll between the requests on a loaded machine.
    const defs = [
      { name: 'minute', algorithm: 'sliding-window', limit: 2, windowMs: 60_000 } as const,
      { name: 'hour', algorithm: 'gcra', limit: 3, windowMs: 3_600_000, burst: 3 } as const,
    ];
    const rl = limiter([...defs], true);
    const models = defs.map(modelOf);
    const decisions: RateLimitDecision[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await rl.consume('k');
      decisions.push(decision);
      check(models, decision, 1, true);
    }
    expect(decisions[2]!.limits.map((l) => l.allowed)).toEqual([false, true]);
    expect(decisions[2]!.retryAfterMs).toBeGreaterThan(60_000);
  });

  it('runs the retries of a spent rejection on a limiter of 16 limits, alone and in a batch', async () => {
    // The most limits a limiter takes: its decision function holds the most Lua locals.
    const kinds = ['sliding-window', 'gcra', 'fixed-window'] as const;
    const defs = Array.from({ length: 16 }, (_, i) => {
      const algorithm = i === 0 ? 'fixed-window' : kinds[i % 3]!;
      const def = { name: `l${i}`, limit: i === 0 ? 2 : 3 + (i % 4), windowMs: 1_000 * (i + 1) };
      return algorithm === 'gcra' ? { ...def, algorithm, burst: def.limit } : { ...def, algorithm };
    });
    const rl = limiter(defs, true);
    const models = defs.map(modelOf);
    for (const batch of [1, 1, 3, 2]) {
      const got = await Promise.all(Array.from({ length: batch }, () => rl.consume('k')));
      for (const decision of got) check(models, decision, 1, true);
    }
  });

  it('reports without spendOnReject the exact µs a rejecting sliding window admits again, next to rounding edges too', async () => {
    await fc.assert(
      fc.asyncProperty(slidingStateArb, async (s) => {
        const def: WindowLimit = { name: 's', algorithm: 'sliding-window', limit: s.limit, windowMs: s.windowMs };
        const problems: string[] = [];
        const lua = atClock(buildDecideScript(resolveLimits([def], problems)).single.lua);
        expect(problems).toEqual([]);
        const W = s.windowMs * 1000;
        const idx = Math.floor(s.base / W);
        const model = windowModel(def, { idx, cur: s.cur, prev: s.prev });
        // A µs of the window before the first one that admits (or any, when the window start does).
        const first = model.earliest(idx * W, s.cost) - idx * W;
        const now = idx * W + Math.floor(s.into * Math.min(W, first > 0 ? first : W));
        const key = `{${uniquePrefix()}}`;
        await redis.hset(key, 's:a', String(idx), 's:b', String(s.cur), 's:c', String(s.prev));
        const secs = Math.floor(now / 1_000_000);
        const reply = (await redis.eval(lua, 1, key, 'c', s.cost, '', '', secs, now - secs * 1_000_000)) as number[];
        await redis.del(key);
        expect(reply[1]).toBe(now);
        if (model.admits(now, s.cost)) expect(reply[0]).toBe(1);
        else expect([reply[0], reply[3], reply[6]]).toEqual([0, 0, model.earliest(now, s.cost) - now]);
      }),
      { numRuns: 300 },
    );
  });

  it('reports the start of the window after next when cost equals the limit (1 per minute, 1 per 366 days), spent or not', async () => {
    // The closed form lands exactly on the end of the search range here; it must be taken as the
    // answer, not bisected for (the reply is the same either way, so this pins the exact value).
    for (const windowMs of [60_000, 366 * 86_400_000]) {
      for (const spendOnReject of [false, true]) {
        const def: WindowLimit = { name: 's', algorithm: 'sliding-window', limit: 1, windowMs };
        const problems: string[] = [];
        const lua = atClock(buildDecideScript(resolveLimits([def], problems), { spendOnReject }).single.lua);
        expect(problems).toEqual([]);
        const W = windowMs * 1000;
        const idx = Math.floor(1_800_000_000_000_000 / W);
        for (const [into, prev] of [
          [0, 0],
          [1, 1],
          [Math.floor(W / 3), 1],
          [W - 1, 0],
        ] as const) {
          const now = idx * W + into;
          const key = `{${uniquePrefix()}}`;
          await redis.hset(key, 's:a', String(idx), 's:b', '1', 's:c', String(prev));
          const secs = Math.floor(now / 1_000_000);
          const reply = (await redis.eval(lua, 1, key, 'c', 1, '', '', secs, now - secs * 1_000_000)) as number[];
          await redis.del(key);
          const left = windowModel(def, { idx, cur: spendOnReject ? 2 : 1, prev });
          expect(left.earliest(now, 1)).toBe((idx + 2) * W);
          expect([reply[0], reply[1], reply[3], reply[6]]).toEqual([0, now, 0, (idx + 2) * W - now]);
        }
      }
    }
  });

  /** Runs `lua` (see atClock) on `key` at µs `now` with ARGV op, cost. */
  const evalAt = async (lua: string, key: string, now: number, op: string, cost: number): Promise<number[]> => {
    const secs = Math.floor(now / 1_000_000);
    return (await redis.eval(lua, 1, key, op, cost, '', '', secs, now - secs * 1_000_000)) as number[];
  };

  it.each([
    ['a fixed window (packed script)', 'fixed-window', false],
    ['a fixed window (general script)', 'fixed-window', true],
    ['a sliding window', 'sliding-window', true],
  ] as const)(
    'keeps counting in the newer window when the Redis clock steps back across its start: %s',
    async (_what, algorithm, general) => {
      const def: WindowLimit = { name: 'w', algorithm, limit: 5, windowMs: 1_000 };
      const problems: string[] = [];
      const lua = atClock(buildDecideScript(resolveLimits([def], problems), { general }).single.lua);
      expect(problems).toEqual([]);
      const W = 1_000_000;
      const start = Math.floor(1_800_000_000_000_000 / W) * W; // a window's first µs
      const key = `{${uniquePrefix()}}`;
      const admitted: number[] = [];
      const run = async (at: number, n: number) => {
        for (let i = 0; i < n; i++) if ((await evalAt(lua, key, at, 'c', 1))[0] === 1) admitted.push(at);
      };
      await run(start + 5_000, 5); // the window fills
      await run(start - 10_000, 3); // the clock steps back 15 ms, into the window before
      await run(start + 20_000, 5); // and comes back
      await redis.del(key);
      // One window of 5 (for the sliding window, the estimate at its start is its count).
      expect(admitted).toEqual([start + 5_000, start + 5_000, start + 5_000, start + 5_000, start + 5_000]);
    },
  );

  it('reports, after the clock stepped back, the wait until the newer sliding window admits', async () => {
    const def: WindowLimit = { name: 'w', algorithm: 'sliding-window', limit: 5, windowMs: 1_000 };
    const lua = atClock(buildDecideScript(resolveLimits([def], [])).single.lua);
    const W = 1_000_000;
    const start = Math.floor(1_800_000_000_000_000 / W) * W;
    const key = `{${uniquePrefix()}}`;
    for (let i = 0; i < 5; i++) await evalAt(lua, key, start + 5_000, 'c', 1);
    const reply = await evalAt(lua, key, start - 10_000, 'c', 1);
    await redis.del(key);
    // From the newer window's start: it admits again once its 5 have decayed below 4 (1/5 into
    // the next window), and the clock is 10 ms before that start.
    const fromStart = windowModel(def, { idx: start / W, cur: 5, prev: 0 }).earliest(start, 1) - start;
    expect([reply[0], reply[3], reply[6]]).toEqual([0, 0, 10_000 + fromStart]);
  });

  it('keeps the expiry a spend on reject extended when blockOnRejectMs blocks the same request', async () => {
    // 5 per second, sliding: 5 requests late in one window, one rejected early in the next (spent,
    // so the window rolls and the state must live two windows), then blocked for one second.
    const def: WindowLimit = { name: 'w', algorithm: 'sliding-window', limit: 5, windowMs: 1_000 };
    // One limit (its spend written out in the script) and five (a spend list).
    const others = Array.from({ length: 4 }, (_, i) => ({
      name: `o${i}`,
      algorithm: 'fixed-window' as const,
      limit: 100,
      windowMs: 1_000,
    }));
    for (const defs of [[def], [def, ...others]]) {
      const lua = atClock(
        buildDecideScript(resolveLimits(defs, []), { spendOnReject: true, blockOnRejectUs: 1_000_000 }).single.lua,
      );
      const W = 1_000_000;
      const start = Math.floor(1_800_000_000_000_000 / W) * W;
      const key = `{${uniquePrefix()}}`;
      for (let i = 0; i < 5; i++) expect((await evalAt(lua, key, start + 850_000, 'c', 1))[0]).toBe(1);
      const now = start + W + 31_000;
      const rejected = await evalAt(lua, key, now, 'c', 1);
      expect([rejected[0], rejected[2]]).toEqual([0, 1_000_000]);
      const expiresAt = Number(await redis.hget(key, '!e'));
      const pttl = await redis.pttl(key);
      await redis.del(key);
      // The counts of the window it rolled to matter until the end of the window after it.
      expect(expiresAt).toBeGreaterThanOrEqual(start + 3 * W);
      expect(pttl).toBeGreaterThan(1_500);
    }
  });

  it('answers consume on windows and GCRA, with and without spendOnReject, as a model; waiting retryAfterMs admits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 })
          .chain((names) => fc.tuple(...names.map(limitArb))),
        fc.boolean(),
        fc.array(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (defs, spend, steps) => {
          const rl = limiter([...defs], spend);
          const models = defs.map(modelOf);
          const maxCost = Math.min(...defs.map((d) => (d.algorithm === 'gcra' ? d.burst : d.limit)));
          for (const costs of steps) {
            // Costs of 1 and 2 mostly, so small limits fill and large ones are reached too.
            const asked = costs.map((c) => 1 + ((c % 7 < 5 ? c % 2 : c) % maxCost));
            // Made together: one batch on a single node, decided in call order at one TIME.
            const got = await Promise.all(asked.map((cost) => rl.consume('k', { cost })));
            for (const [i, decision] of got.entries()) check(models, decision, asked[i]!, spend);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
