import fc from 'fast-check';
import type { Command } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, type LimitDefinition, type RedisClient } from '../src/index.ts';
import { gcraReference, inMs } from './fixtures/gcra-reference.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const uniquePrefix = (): string => `gm${process.pid}x${++counter}`;

/**
 * One step of a run: requests made together (one batch on a single node), a `get`, a penalty, a
 * refund, or the Redis clock stepping back behind the subject's base by `us` (as after a failover
 * to a replica whose clock lags): the base is moved that far ahead of the clock instead.
 */
type Step =
  | { readonly op: 'consume'; readonly costs: readonly number[] }
  | { readonly op: 'get' }
  | { readonly op: 'penalize'; readonly cost: number }
  | { readonly op: 'refund'; readonly cost: number }
  | { readonly op: 'back'; readonly us: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('consume' as const),
      costs: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('penalize' as const),
      // Up to past twice the burst, and a cost whose units are far past 2^53.
      cost: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.constant(2 ** 40)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('refund' as const), cost: fc.integer({ min: 1, max: 30 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('back' as const),
      us: fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 5_000_000 })),
    }),
  },
);

/**
 * Redis's TIME of every script call on `client`: `refund` and `penalize` answer nothing, yet the
 * model needs the µs they were decided at (the script replies `1, nowUs`). ioredis sends every
 * command, on a `Redis` or a `Cluster`, through the client's `sendCommand`.
 */
function recordScriptTimes(client: RedisClient): number[] {
  const times: number[] = [];
  const target = client as unknown as { sendCommand: (command: Command, ...rest: unknown[]) => unknown };
  const send = target.sendCommand.bind(client);
  target.sendCommand = (command, ...rest) => {
    if (command.name === 'evalsha' || command.name === 'eval') {
      command.promise.then(
        (reply) => {
          if (Array.isArray(reply)) times.push(Number(reply[1]));
        },
        () => {},
      );
    }
    return send(command, ...rest);
  };
  return times;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('a GCRA limit on a %s', (_name, start) => {
  let target: Target;
  let redis: RedisClient;
  let times: number[];

  beforeAll(async () => {
    target = await start();
    redis = await target.connect();
    times = recordScriptTimes(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  it('reports, after a rejection spent under spendOnReject, the wait the same request really needs', async () => {
    // 1 per minute, burst 1: the first request leaves the TAT one minute ahead; the spent rejection
    // pushes it one more minute, so the same request fits only once that is waited out.
    const rl = createRateLimiter({
      redis,
      prefix: uniquePrefix(),
      limits: [{ name: 'g', algorithm: 'gcra', limit: 1, windowMs: 60_000, burst: 1 }],
      spendOnReject: true,
      blockCache: false,
      timeoutMs: 2_000,
    });
    const first = await rl.consume('k');
    const rejected = await rl.consume('k');
    const elapsedUs = rejected.serverTimeUs! - first.serverTimeUs!;
    const leftUs = 120_000_000 - elapsedUs;
    expect(rejected.allowed).toBe(false);
    expect(rejected.limits[0]).toMatchObject({ remaining: 0, resetMs: Math.ceil(leftUs / 1000) });
    expect(rejected.retryAfterMs).toBe(Math.ceil(leftUs / 1000));
    const peek = await rl.get('k');
    const peekLeftUs = 120_000_000 - (peek.serverTimeUs! - first.serverTimeUs!);
    expect(peek.retryAfterMs).toBe(Math.ceil(peekLeftUs / 1000));
  });

  it('answers consume, get, penalize and refund exactly as a BigInt model, with spendOnReject and a clock behind the base', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 1_000_000 })),
        fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 86_400_000 })),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(stepArb, { minLength: 1, maxLength: 12 }),
        async (limit, windowMs, burst, bucket, spendOnReject, steps) => {
          const definition: LimitDefinition = bucket
            ? { name: 'g', algorithm: 'token-bucket', capacity: burst, refillAmount: limit, refillIntervalMs: windowMs }
            : { name: 'g', algorithm: 'gcra', limit, windowMs, burst };
          const prefix = uniquePrefix();
          const key = `${prefix}:{k}`;
          const rl = createRateLimiter({
            redis,
            prefix,
            limits: [definition],
            spendOnReject,
            blockCache: false,
            timeoutMs: 2_000,
          });
          const model = gcraReference(limit, windowMs, burst);
          // The script's units are the model's divided by gcd(window in µs, limit).
          const d = gcd(BigInt(windowMs) * 1000n, BigInt(limit));
          /** The µs of the one script call made since `times` was emptied. */
          const lastTime = (): number => {
            expect(times).toHaveLength(1);
            return times[0]!;
          };
          for (const step of steps) {
            times.length = 0;
            if (step.op === 'consume') {
              const asked = step.costs.map((c) => 1 + ((c - 1) % burst));
              const got = await Promise.all(asked.map((cost) => rl.consume('k', { cost })));
              got.forEach((decision, i) => {
                const want = inMs(model.consume(decision.serverTimeUs!, asked[i]!, spendOnReject));
                const { allowed, remaining, resetMs, retryAfterMs } = decision.limits[0]!;
                expect({ step, ok: allowed, remaining, resetMs, retryAfterMs }).toEqual({ step, ...want });
                expect([decision.allowed, decision.retryAfterMs]).toEqual([want.ok, want.retryAfterMs]);
              });
            } else if (step.op === 'get') {
              const decision = await rl.get('k');
              const want = inMs(model.get(decision.serverTimeUs!));
              const { allowed, remaining, resetMs, retryAfterMs } = decision.limits[0]!;
              expect({ step, ok: allowed, remaining, resetMs, retryAfterMs }).toEqual({ step, ...want });
              expect([decision.limited, decision.retryAfterMs]).toEqual([!want.ok, want.retryAfterMs]);
            } else if (step.op === 'penalize') {
              await rl.penalize('k', { cost: step.cost });
              model.penalize(lastTime(), step.cost);
            } else if (step.op === 'refund') {
              await rl.refund('k', { cost: step.cost });
              model.refund(lastTime(), step.cost);
            } else {
              model.back(step.us);
              const state = model.state();
              if (state === undefined) continue;
              // The base ahead of the clock; no expiry while the run lasts (the key's TTL was set
              // for the base it had, and a later write extends it only when it must). Deleted and
              // written anew rather than HSET then PERSIST: a TTL of a millisecond could end between
              // those two and leave no key at all.
              await redis.del(key);
              await redis.hset(key, 'g:a', state.base.toString(), 'g:b', (state.b / d).toString());
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
