import type { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.ts';
import { startFixture } from './child-fixture.ts';
import { isAlive, isProcessListening, pidsMatching } from './process-probe.ts';

const fixture = fileURLToPath(new URL('./fixtures/hold-servers.ts', import.meta.url));
const gracefulFixture = fileURLToPath(new URL('./fixtures/graceful-stop.ts', import.meta.url));
const listenersFixture = fileURLToPath(new URL('./fixtures/signal-listeners.ts', import.meta.url));
const twoCopiesFixture = fileURLToPath(new URL('./fixtures/two-copies.ts', import.meta.url));
const inFlightFixture = fileURLToPath(new URL('./fixtures/exit-during-mkdtemp.ts', import.meta.url));
const exitReplacedFixture = fileURLToPath(new URL('./fixtures/exit-replaced.ts', import.meta.url));

async function runFixture(mode: 'stop' | 'exit' | 'throw' | 'signal'): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'rampart-cleanup-'));
  const marker = randomUUID();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const started = startFixture(fixture, [mode, marker], tmp);
    child = started.proc;
    // Says why if the fixture ended without a report (a server that did not start in time, say).
    const report = await started.report<{ ports: number[] }>();
    expect(report.ports).toHaveLength(4);
    if (mode === 'signal') started.proc.kill('SIGTERM');
    await started.exited;
    expect(started.stderr(Number.POSITIVE_INFINITY)).not.toContain('TestkitError');

    for (const port of report.ports) {
      expect(await isProcessListening(port), `port ${port} still listening after "${mode}"`).toBe(false);
      // redis-server rewrites its title to `redis-server 127.0.0.1:<port>` (` [cluster]`), NUL-padded.
      expect(pidsMatching(`127.0.0.1:${port} `)).toEqual([]);
    }
    await waitFor(() => pidsMatching(`--rampart-test-marker=${marker}`).length === 0, {
      timeoutMs: 10_000,
      what: 'chromium to exit',
    });
    await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
  } finally {
    // If an assertion or timeout ended the test early, do not leave the fixture running.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe('the test-kit', () => {
  it.each(['stop', 'exit', 'throw', 'signal'] as const)(
    'leaves no process or temp dir behind when the test process ends by "%s"',
    async (mode) => {
      await runFixture(mode);
    },
    120_000,
  );

  it.each([
    ['on', 'once'],
    ['once', 'once'],
    ['on', 'twice'],
    ['once', 'twice'],
  ] as const)(
    'leaves Redis and its temp dirs to an app that handles SIGINT itself (process.%s, signal sent %s) until it exits',
    async (how, times) => {
      const tmp = mkdtempSync(join(tmpdir(), 'rampart-graceful-'));
      const fixture = startFixture(gracefulFixture, [how, times], tmp);
      const { proc } = fixture;
      try {
        await waitFor(() => !fixture.running(), { timeoutMs: 60_000, what: 'the fixture to stop' });
        await fixture.exited;
        const [started, inHandler] = fixture.lines();
        expect(inHandler, fixture.stderr(2000)).toBeTruthy();
        const { port, dir } = JSON.parse(started ?? '') as { port: number; dir: string };
        // Inside the app's own handler: its Redis still answers and its temp dir is still there.
        expect(JSON.parse(inHandler ?? '')).toEqual({ pong: 'PONG', dirExists: true });
        expect(proc.exitCode).toBe(0);
        // Once the app has exited, the exit hook has cleaned up.
        await waitFor(async () => !(await isProcessListening(port)), {
          timeoutMs: 10_000,
          what: `port ${port} to close`,
        });
        expect(existsSync(dir)).toBe(false);
        await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
      } finally {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it.each(['signal-exit', 'noop'] as const)(
    'defers the first SIGINT to another listener (%s) that never exits, and cleans up and exits 130 on a second one',
    async (mode) => {
      const tmp = mkdtempSync(join(tmpdir(), 'rampart-listeners-'));
      const fixture = startFixture(listenersFixture, [mode], tmp);
      try {
        const { port, dir, listener } = await fixture.report<{ port: number; dir: string; listener: string }>();
        if (mode === 'signal-exit') expect(['signal-exit', 'signal-exit-like']).toContain(listener);
        fixture.proc.kill('SIGINT');
        await waitFor(() => fixture.lines().length >= 2 || !fixture.running(), {
          timeoutMs: 10_000,
          what: 'the first SIGINT to be dispatched',
        });
        // The first signal went through every listener: the test-kit left everything to the app.
        expect(fixture.running(), fixture.stderr()).toBe(true);
        expect(await isProcessListening(port)).toBe(true);
        expect(existsSync(dir)).toBe(true);
        // "Press Ctrl-C twice": a second signal (one close on the first's heels counts as the same
        // press, so keep pressing until it is taken) cleans up and ends the process.
        await waitFor(
          () => {
            if (!fixture.running()) return true;
            fixture.proc.kill('SIGINT');
            return false;
          },
          { timeoutMs: 15_000, intervalMs: 200, what: 'a second SIGINT to end the fixture' },
        );
        await fixture.exited;
        expect(fixture.proc.exitCode, fixture.stderr()).toBe(130);
        expect(await isProcessListening(port)).toBe(false);
        expect(pidsMatching(`127.0.0.1:${port} `)).toEqual([]);
        expect(existsSync(dir)).toBe(false);
        await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
      } finally {
        if (fixture.running()) fixture.proc.kill('SIGKILL');
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('installs one signal hook for two copies of the module, which cleans up both and exits on one SIGINT', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rampart-two-copies-'));
    const fixture = startFixture(twoCopiesFixture, [], tmp);
    try {
      const { port, dir, pid } = await fixture.report<{ port: number; dir: string; pid: number }>();
      expect(isAlive(pid)).toBe(true);
      fixture.proc.kill('SIGINT');
      await waitFor(() => !fixture.running(), { timeoutMs: 10_000, what: 'one SIGINT to end the fixture' });
      await fixture.exited;
      expect(fixture.proc.exitCode, fixture.stderr()).toBe(130);
      expect(await isProcessListening(port)).toBe(false);
      // Registered with the second copy: killed and removed by the one hook all the same.
      await waitFor(() => !isAlive(pid), { timeoutMs: 10_000, what: `the second copy's child ${pid} to exit` });
      expect(existsSync(dir)).toBe(false);
      await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
    } finally {
      if (fixture.running()) fixture.proc.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('removes a temp dir whose creation was not awaited when the process exits', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rampart-in-flight-'));
    const fixture = startFixture(inFlightFixture, [], tmp);
    try {
      const { entries } = await fixture.report<{ entries: string[] }>();
      // The fixture exited once the directory was on disk.
      expect(entries).toHaveLength(1);
      await fixture.exited;
      expect(fixture.proc.exitCode, fixture.stderr()).toBe(1);
      await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
    } finally {
      if (fixture.running()) fixture.proc.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('cleans up and ends the process on SIGTERM where process.exit throws (a vitest worker during a test)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rampart-exit-replaced-'));
    const fixture = startFixture(exitReplacedFixture, [], tmp);
    let redisPid: number | undefined;
    try {
      const { port, pid, dir } = await fixture.report<{ port: number; pid: number; dir: string }>();
      redisPid = pid;
      fixture.proc.kill('SIGTERM');
      await waitFor(() => !fixture.running(), { timeoutMs: 10_000, what: 'SIGTERM to end the fixture' });
      await fixture.exited;
      // Ended by the signal's default action, as it would have been without the test-kit.
      expect(fixture.proc.signalCode, fixture.stderr()).toBe('SIGTERM');
      expect(existsSync(dir)).toBe(false);
      await waitFor(() => !isAlive(pid), { timeoutMs: 10_000, what: `redis-server ${pid} to exit` });
      expect(await isProcessListening(port)).toBe(false);
      await waitFor(() => readdirSync(tmp).length === 0, { timeoutMs: 10_000, what: `${tmp} to be empty` });
    } finally {
      if (fixture.running()) fixture.proc.kill('SIGKILL');
      if (redisPid !== undefined && isAlive(redisPid) && pidsMatching('redis-server').includes(redisPid)) {
        process.kill(redisPid, 'SIGKILL');
      }
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
