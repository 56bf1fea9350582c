import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAdmissions, type LoggedDecision, parseLog } from './fixtures/admission-check.ts';
import type { LoadConfig } from './fixtures/load-worker.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

const WORKER = fileURLToPath(new URL('./fixtures/load-worker.ts', import.meta.url));
const PROCESSES = 8;
const IN_FLIGHT = 64;

async function runLoad(
  target: Target,
  keys: number,
  limit: number,
  dir: string,
): Promise<{ decisions: LoggedDecision[]; errors: number }> {
  const prefix = `oa${keys}x${Date.now().toString(36)}`;
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  try {
    for (let p = 0; p < PROCESSES; p++) {
      const logFile = join(dir, `${prefix}-${p}.log`);
      logs.push(logFile);
      const config: LoadConfig = {
        spec: target.spec as LoadConfig['spec'],
        prefix,
        keys,
        limit,
        windowMs: 500,
        durationMs: 1_200,
        inFlight: IN_FLIGHT,
        logFile,
      };
      children.push(
        fork(WORKER, [], {
          execArgv: ['--conditions=@rampart/source'],
          env: { ...process.env, RAMPART_LOAD_CONFIG: JSON.stringify(config) },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
    }
    const exited = (child: ChildProcess) =>
      new Promise<never>((_, reject) =>
        child.once('exit', (code) => reject(new Error(`load worker exited with ${code}`))),
      );
    await Promise.all(
      children.map((child) => Promise.race([new Promise((resolve) => child.once('message', resolve)), exited(child)])),
    );
    // Every process is connected: start them together so the load really overlaps.
    const results = await Promise.all(
      children.map((child) => {
        const done = new Promise<{ decisions: number; errors: number }>((resolve) =>
          child.once('message', (m) => resolve(m as { decisions: number; errors: number })),
        );
        child.send('go');
        return Promise.race([done, exited(child)]);
      }),
    );
    const decisions = logs.flatMap((file) => parseLog(readFileSync(file, 'utf8')));
    expect(decisions.length).toBe(results.reduce((n, r) => n + r.decisions, 0));
    return { decisions, errors: results.reduce((n, r) => n + r.errors, 0) };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
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
  beforeAll(async () => {
    target = await start();
    dir = mkdtempSync(join(tmpdir(), 'rampart-oa-'));
  });
  afterAll(async () => {
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['one hot key', 1, 100],
    ['100 keys', 100, 5],
  ] as const)(
    'admits nothing beyond the limit for %s, checked offline against server time',
    async (_label, keys, limit) => {
      const { decisions, errors } = await runLoad(target, keys, limit, dir);
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
