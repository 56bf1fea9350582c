import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheRegistry, type RedisClient, SingleUseStore } from '../src/index.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

const WORKER = fileURLToPath(new URL('./fixtures/race-worker.ts', import.meta.url));
const PROCESSES = 8;
const ITEMS = 100;

interface Outcome {
  readonly consumed: string[];
  readonly firstSeen: string[];
}

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('SingleUseStore and ReplayGuard raced by %s processes', (_name, start) => {
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

  it(`lets exactly one of ${PROCESSES} processes win each item and each id`, async () => {
    const name = `race-${process.pid}-${Date.now().toString(36)}`;
    const store = new SingleUseStore<number>({
      redis,
      name,
      ttlMs: 60_000,
      timeoutMs: 5_000,
      registry: new CacheRegistry(),
    });
    for (let i = 0; i < ITEMS; i++) await store.put(`item-${i}`, i);

    const job = JSON.stringify({ spec: target.spec, name, items: ITEMS });
    const workers = Array.from({ length: PROCESSES }, () =>
      fork(WORKER, [job], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    const outcomes = workers.map(
      (worker) =>
        new Promise<Outcome>((resolve, reject) => {
          worker.on('message', (m) => {
            if (m !== 'ready') resolve(m as Outcome);
          });
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`a race worker exited with ${code}`));
          });
        }),
    );
    await Promise.all(workers.map((worker) => new Promise<void>((resolve) => worker.once('message', () => resolve()))));
    for (const worker of workers) worker.send('go');
    const results = await Promise.all(outcomes);
    await Promise.all(
      workers.map((w) => (w.exitCode === null ? new Promise((resolve) => w.once('exit', resolve)) : undefined)),
    );

    const consumed = results.flatMap((r) => r.consumed).sort();
    const firstSeen = results.flatMap((r) => r.firstSeen).sort();
    const expected = Array.from({ length: ITEMS }, (_, i) => `item-${i}`).sort();
    expect(consumed).toEqual(expected);
    expect(firstSeen).toEqual(expected);
    store.close();
  }, 120_000); // 8 Node processes start on a shared 2-core CI machine
});
