import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime, tellReaper } from './orphan-reaper.ts';

/**
 * Every process and temporary directory the test-kit creates is registered here, so that a test
 * run that forgets `stop()`, throws, or is interrupted still leaves nothing behind: the `exit`
 * hook kills what is left and removes the directories synchronously. A SIGINT, SIGTERM or SIGHUP
 * that nobody else listens to cleans up and exits at once. One that another listener also gets is
 * left to it (the app's graceful stop can still use the servers; the `exit` hook cleans up when it
 * exits), until a second signal: that cleans up and exits ("press Ctrl-C twice"), so that a
 * listener that never exits (signal-exit acts only when it is the sole listener) cannot keep the
 * process and its servers running. A SIGKILL runs no hook: for that case each registration is also
 * told to a detached reaper process, which cleans up what is still registered once this process is
 * gone (see orphan-reaper.ts).
 */
interface Registry {
  readonly children: Set<ChildProcess>;
  readonly directories: Set<string>;
  /** One per copy of this module: each tells its own reaper that everything is cleaned up. */
  readonly clearReapers: Set<() => void>;
  hooksInstalled: boolean;
  /** `performance.now()` when a signal was left to another listener; undefined until then. */
  deferredAt: number | undefined;
}

/**
 * Two copies of this module in one process (two installed versions of the package, a test runner
 * that re-imports modules per file) share one registry and one set of hooks: each copy's own hook
 * would otherwise see the other's as "another listener" and leave the signal to it, and neither
 * would act. The shape is a contract between copies: fields are only ever added.
 */
const REGISTRY_KEY = Symbol.for('rampart.testkit.process-registry');

/**
 * A signal within this long of the one left to another listener is the same press: a launcher that
 * forwards the terminal's Ctrl-C to a child that got it from the terminal too (scripts/demo.ts)
 * delivers it twice, and that must not cut the app's graceful stop short.
 */
const SAME_PRESS_MS = 1_000;

function clearThisReaper(): void {
  // Cleaned up here and now: the reaper must not signal these pids later (they could be reused).
  tellReaper({ op: 'clear' });
}

// @cache-scope per-pod: the processes and directories this process created; they die with it.
let local: Registry | undefined;

function registry(): Registry {
  if (local) return local;
  const holder = globalThis as { [REGISTRY_KEY]?: Registry };
  holder[REGISTRY_KEY] ??= {
    children: new Set(),
    directories: new Set(),
    clearReapers: new Set(),
    hooksInstalled: false,
    deferredAt: undefined,
  };
  local = holder[REGISTRY_KEY];
  local.clearReapers.add(clearThisReaper);
  return local;
}

function cleanupSync(): void {
  const { children, directories, clearReapers } = registry();
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
  // Only now that everything is handled: a process SIGKILLed while this runs (vitest's watchdog ends
  // a worker that is exiting) leaves the rest to the reapers, which still know all of it.
  for (const clear of clearReapers) clear();
}

function installHooks(): void {
  const state = registry();
  if (state.hooksInstalled) return;
  state.hooksInstalled = true;
  process.once('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      const now = performance.now();
      if (state.deferredAt === undefined) {
        // Another listener is the app's own graceful stop (drain requests, then stop its Redis):
        // the servers and directories must outlive it, so do nothing here; the `exit` hook cleans
        // up once the app exits. Counted while this hook runs first (prepended), so a `once`
        // listener of the app has not removed itself yet.
        if (process.listenerCount(signal) > 1) {
          state.deferredAt = now;
          // The window starts again once the app's listeners have run: a long synchronous handler
          // must not turn the second copy of the same press, dispatched right after it, into a
          // second press.
          setImmediate(() => {
            state.deferredAt = performance.now();
          });
          return;
        }
      } else if (now - state.deferredAt < SAME_PRESS_MS) {
        return;
      }
      // Nobody else handles the signal, or it is the second one after leaving the first to a
      // listener that has not ended the process: end it as the default action would, but through
      // process.exit so that other `exit` hooks (Playwright's browser cleanup) still run.
      cleanupSync();
      try {
        process.exit(128 + (constants.signals[signal] ?? 0));
      } catch {
        // Replaced by one that throws (vitest's, while a test runs): ended below instead.
      }
      // Still running: process.exit was replaced. Let the signal's default action end the process,
      // as it would have without any listener; this one is ending it, so no other listener runs.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    };
    // `on`, not `once`: a second signal after the app's own handler removed itself still cleans up.
    process.prependListener(signal, onSignal);
  }
}

/** Spawns a child that is killed when this process exits, whatever the reason. */
export function spawnManaged(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  installHooks();
  const { children } = registry();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  const { pid } = child;
  // Read before this process reaps the child, so the pid cannot belong to another process yet.
  if (pid !== undefined) tellReaper({ op: 'pid', pid, start: processStartTime(pid) });
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

/**
 * Creates a temporary directory that is removed when this process exits. Async for its callers'
 * sake only (it was, and stays, part of the API): the work is synchronous, see below.
 */
export async function makeManagedTempDir(prefix: string): Promise<string> {
  installHooks();
  // Made and registered in one synchronous step: an exit or signal between the two would leave a
  // directory on disk that nothing knows about.
  const dir = mkdtempSync(join(tmpdir(), `rampart-${prefix}-`));
  registry().directories.add(dir);
  tellReaper({ op: 'dir', dir });
  return dir;
}

/** Removes a directory made by {@link makeManagedTempDir} now. */
export async function removeManagedTempDir(dir: string): Promise<void> {
  registry().directories.delete(dir);
  await rm(dir, { recursive: true, force: true });
  tellReaper({ op: 'undir', dir });
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves when the child has exited. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  const { children } = registry();
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
