import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.ts';
import { isProcessListening, pidsMatching } from './process-probe.ts';

const fixture = fileURLToPath(new URL('./fixtures/hold-servers.ts', import.meta.url));
const gracefulFixture = fileURLToPath(new URL('./fixtures/graceful-stop.ts', import.meta.url));

async function runFixture(mode: 'stop' | 'exit' | 'throw' | 'signal'): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'rampart-cleanup-'));
  const marker = randomUUID();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const proc = spawn(process.execPath, [fixture, mode, marker], {
      env: { ...process.env, TMPDIR: tmp, NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await waitFor(() => stdout.includes('\n') || proc.exitCode !== null, {
      timeoutMs: 60_000,
      what: 'the fixture to report',
    });
    if (!stdout.includes('\n')) {
      // Say why: the fixture's own error (a server that did not start in time, say) is on stderr.
      throw new Error(
        `the fixture ended (code ${proc.exitCode}, signal ${proc.signalCode}) without reporting; its stderr:\n${stderr.slice(-4000)}`,
      );
    }
    const report = JSON.parse(stdout.split('\n')[0] ?? '') as { ports: number[] };
    expect(report.ports).toHaveLength(4);
    if (mode === 'signal') proc.kill('SIGTERM');
    await exited;
    expect(stderr).not.toContain('TestkitError');

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

  it.each(['on', 'once'] as const)(
    'leaves Redis and its temp dirs to an app that handles SIGINT itself (process.%s) until it exits',
    async (how) => {
      const tmp = mkdtempSync(join(tmpdir(), 'rampart-graceful-'));
      const proc = spawn(process.execPath, [gracefulFixture, how], {
        env: { ...process.env, TMPDIR: tmp, NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        proc.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
        });
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, {
          timeoutMs: 60_000,
          what: 'the fixture to stop',
        });
        await exited;
        const [started, inHandler] = stdout.split('\n');
        expect(inHandler, stderr.slice(-2000)).toBeTruthy();
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
});
