import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAdmissions, type LoggedDecision, parseLog } from './fixtures/admission-check.ts';
import type { LoadConfig, LoadRun } from './fixtures/load-worker.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

const WORKER = fileURLToPath(new URL('./fixtures/load-worker.ts', import.meta.url));
const PROCESSES = 8;
const IN_FLIGHT = 64;

/** Eight connected load processes that take runs over IPC. */
async function startWorkers(target: Target): Promise<ChildProcess[]> {
  const config: LoadConfig = { spec: target.spec as LoadConfig['spec'] };
  const children = Array.from({ length: PROCESSES }, () =>
    fork(WORKER, [], {
      execArgv: ['--conditions=@rampart/source'],
      env: { ...process.env, RAMPART_LOAD_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  await Promise.all(children.map((child) => nextMessage(child)));
  return children;
}

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`load worker exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m);
    });
  });
}

async function runLoad(
  children: readonly ChildProcess[],
  keys: number,
  limit: number,
  dir: string,
): Promise<{ decisions: LoggedDecision[]; errors: number }> {
  const prefix = `oa${keys}x${Date.now().toString(36)}`;
  const logs = children.map((_, p) => join(dir, `${prefix}-${p}.log`));
  // Every process is connected: start them together so the load really overlaps.
  const results = (await Promise.all(
    children.map((child, p) => {
      const reply = nextMessage(child);
      const run: LoadRun = {
        prefix,
        keys,
        limit,
        windowMs: 500,
        durationMs: 1_200,
        inFlight: IN_FLIGHT,
        logFile: logs[p]!,
      };
      child.send(run);
      return reply;
    }),
  )) as { decisions: number; errors: number }[];
  const decisions = logs.flatMap((file) => parseLog(readFileSync(file, 'utf8')));
  expect(decisions.length).toBe(results.reduce((n, r) => n + r.decisions, 0));
  return { decisions, errors: results.reduce((n, r) => n + r.errors, 0) };
}

describe('checkAdmissions', () => {
  it('catches an over-admission of every algorithm in a made-up log', () => {
    const over = (algorithm: 0 | 1 | 2): LoggedDecision[] =>
      Array.from({ length: 4 }, (_, i) => ({ algorithm, key: 'k', admitted: true, timeUs: 1_000_000 + i }));
    for (const algorithm of [0, 1, 2] as const) {
      expect(checkAdmissions(over(algorithm), 3, 1_000).violations).toBeGreaterThan(0);
      expect(checkAdmissions(over(algorithm).slice(0, 3), 3, 1_000).violations).toBe(0);
    }
  });
});

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('over-admission on a %s (8 processes × 64 in flight)', (_name, start) => {
  let target: Target;
  let dir: string;
  let workers: ChildProcess[] = [];
  beforeAll(async () => {
    target = await start();
    dir = mkdtempSync(join(tmpdir(), 'rampart-oa-'));
    workers = await startWorkers(target);
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.send('exit');
    await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)));
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['one hot key', 1, 20],
    ['100 keys', 100, 2],
  ] as const)(
    'admits nothing beyond the limit for %s, checked offline against server time',
    async (_label, keys, limit) => {
      const { decisions, errors } = await runLoad(workers, keys, limit, dir);
      const report = checkAdmissions(decisions, limit, 500);
      expect(errors).toBe(0);
      expect(report.admitted).toBeGreaterThan(0);
      expect(report.rejected).toBeGreaterThan(0);
      expect(report.violations).toBe(0);
      expect(report.fixedWindowOverAdmission).toBeLessThanOrEqual(0);
      console.info(
        `[over-admission] ${_name}, ${_label}: ${decisions.length} decisions, ${report.admitted} admitted, ${report.violations} violations, fixed-window over-admission ${report.fixedWindowOverAdmission}`,
      );
    },
    60_000,
  );
});
