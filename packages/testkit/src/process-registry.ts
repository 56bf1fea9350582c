import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tellReaper } from './orphan-reaper.ts';

/**
 * Every process and temporary directory the test-kit creates is registered here, so that a test
 * run that forgets `stop()`, throws, or is interrupted still leaves nothing behind: the `exit`
 * hook kills what is left and removes the directories synchronously (a SIGINT, SIGTERM or SIGHUP
 * the app handles itself leaves them to that `exit` hook, so its graceful stop can still use them;
 * unhandled, it cleans up and exits). A SIGKILL runs no hook: for that case each registration is
 * also told to a detached reaper process, which cleans up what is still registered once this
 * process is gone (see orphan-reaper.ts).
 */
// @cache-scope per-pod: the processes and directories this process created; they die with it.
const children = new Set<ChildProcess>();
// @cache-scope per-pod: see above.
const directories = new Set<string>();
let hooksInstalled = false;

function cleanupSync(): void {
  // Cleaned up here and now: the reaper must not signal these pids later (they could be reused).
  tellReaper({ op: 'clear' });
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  directories.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Another listener is the app's own graceful stop (drain requests, then stop its Redis): the
      // servers and directories must outlive it, so do nothing here; the `exit` hook cleans up
      // once the app exits. Counted while this hook runs first (prepended), so a `once` listener
      // of the app has not removed itself yet.
      if (process.listenerCount(signal) > 1) return;
      cleanupSync();
      // Nobody else handles the signal: end the process as the default action would, but through
      // process.exit so that other `exit` hooks (Playwright's browser cleanup) still run.
      process.exit(128 + (constants.signals[signal] ?? 0));
    };
    // `on`, not `once`: a second signal after the app's own handler removed itself still cleans up.
    process.prependListener(signal, onSignal);
  }
}

/** Spawns a child that is killed when this process exits, whatever the reason. */
export function spawnManaged(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  installHooks();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  const { pid } = child;
  if (pid !== undefined) tellReaper({ op: 'pid', pid });
  child.once('exit', () => {
    children.delete(child);
    if (pid !== undefined) tellReaper({ op: 'unpid', pid });
  });
  // A child that could not be spawned (EACCES, say) emits 'error' and no 'exit': without a listener
  // that would be an uncaught exception. Callers that wait for the child read the error themselves.
  child.on('error', () => {
    if (child.pid === undefined) children.delete(child);
  });
  return child;
}

/** Creates a temporary directory that is removed when this process exits. */
export async function makeManagedTempDir(prefix: string): Promise<string> {
  installHooks();
  const dir = await mkdtemp(join(tmpdir(), `rampart-${prefix}-`));
  directories.add(dir);
  tellReaper({ op: 'dir', dir });
  return dir;
}

/** Removes a directory made by {@link makeManagedTempDir} now. */
export async function removeManagedTempDir(dir: string): Promise<void> {
  directories.delete(dir);
  await rm(dir, { recursive: true, force: true });
  tellReaper({ op: 'undir', dir });
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves when the child has exited. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** Collects the last `limit` characters a child wrote, for error messages when it fails to start. */
export function captureOutput(child: ChildProcess, limit = 4_000): () => string {
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-limit);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => output;
}
