import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.ts';
import { startFixture } from './child-fixture.ts';
import { isAlive, isProcessListening } from './process-probe.ts';

const fixture = fileURLToPath(new URL('./fixtures/hold-redis.ts', import.meta.url));
const dieDuringCleanupFixture = fileURLToPath(new URL('./fixtures/die-during-cleanup.ts', import.meta.url));
const pidCheckFixture = fileURLToPath(new URL('./fixtures/reaper-pid-check.ts', import.meta.url));

/** Runs a fixture with its own TMPDIR until it ends; resolves with its first line and its stderr. */
async function runToEnd(file: string, tmp: string): Promise<{ first: string; stderr: string }> {
  const fixture = startFixture(file, [], tmp);
  await fixture.exited;
  return { first: fixture.lines()[0] ?? '', stderr: fixture.stderr() };
}

describe('the test-kit', () => {
  it('stops its servers and removes their temp dirs when the test process is killed with SIGKILL', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rampart-reaper-'));
    const started = startFixture(fixture, [], tmp);
    const { proc } = started;
    let redisPid: number | undefined;
    try {
      // Throws with the fixture's stderr if it ended without reporting.
      const { port, pid } = await started.report<{ port: number; pid: number }>();
      redisPid = pid;
      expect(isAlive(pid)).toBe(true);
      expect(await isProcessListening(port)).toBe(true);
      expect(readdirSync(tmp)).not.toEqual([]);

      proc.kill('SIGKILL');
      await started.exited;

      await waitFor(async () => !(await isProcessListening(port)), {
        timeoutMs: 10_000,
        what: `port ${port} to close`,
      });
      // redis-server rewrites its command line, so it is watched by the pid it reported.
      await waitFor(() => !isAlive(pid), {
        timeoutMs: 10_000,
        what: 'the orphaned redis-server to exit',
      });
      await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      // Whatever the outcome, end a redis-server this test orphaned.
      if (redisPid !== undefined && isAlive(redisPid) && isRedisServer(redisPid)) process.kill(redisPid, 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('still stops its servers and removes their temp dirs when the process is SIGKILLed while its exit hook runs', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rampart-reaper-exit-'));
    let redisPid: number | undefined;
    try {
      // The fixture exits, and its exit hook's first kill of a child SIGKILLs it instead.
      const { first, stderr } = await runToEnd(dieDuringCleanupFixture, tmp);
      expect(first, stderr).not.toBe('');
      const { port, pid } = JSON.parse(first) as { port: number; pid: number };
      redisPid = pid;
      await waitFor(() => !isAlive(pid), { timeoutMs: 10_000, what: 'the orphaned redis-server to exit' });
      await waitFor(async () => !(await isProcessListening(port)), {
        timeoutMs: 10_000,
        what: `port ${port} to close`,
      });
      await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
    } finally {
      if (redisPid !== undefined && isAlive(redisPid) && isRedisServer(redisPid)) process.kill(redisPid, 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('signals only a process that is still the one it was told about (its pid may have been reused)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rampart-reaper-pids-'));
    let pids: { registered: number; stranger: number; dir: string } | undefined;
    try {
      const { first, stderr } = await runToEnd(pidCheckFixture, tmp);
      expect(first, stderr).not.toBe('');
      pids = JSON.parse(first) as { registered: number; stranger: number; dir: string };
      const { registered, stranger, dir } = pids;
      // The reaper removes the directories once it is done signalling.
      await waitFor(() => !existsSync(dir), { timeoutMs: 10_000, what: `${dir} to be removed` });
      await waitFor(() => !isAlive(registered), {
        timeoutMs: 10_000,
        what: `the registered child ${registered} to exit`,
      });
      expect(isAlive(stranger)).toBe(true);
    } finally {
      for (const pid of [pids?.registered, pids?.stranger]) {
        if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
      }
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});

function isRedisServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return false;
  }
}
