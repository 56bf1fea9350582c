import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'node:path';

/**
 * The reaper's program, run by `node -e`. It reads one JSON message a line on stdin: `pid` / `dir`
 * register a process (with its start time, where the platform tells it) or directory, `unpid` /
 * `undir` forget one, `clear` forgets everything. When stdin ends, the parent is gone (the kernel
 * closes the pipe however it died, SIGKILL included): it sends SIGTERM to what is still registered
 * and is still the process it was told about (a pid whose start time changed now belongs to another
 * process), SIGKILL after a short grace, removes the directories and exits.
 */
const REAPER_SOURCE = `
const { readFileSync, rmSync } = require('node:fs');
const pids = new Map(); // pid -> start time, or null where the platform does not tell it
const dirs = new Set();
let buffered = '';
const statFields = (pid) => {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch { return undefined; }
};
const zombie = (pid) => statFields(pid)?.[0] === 'Z';
const same = (pid) => {
  const start = pids.get(pid);
  return start === null || start === undefined || statFields(pid)?.[19] === start;
};
const alive = (pid) => {
  try { process.kill(pid, 0); } catch (error) { if (error.code !== 'EPERM') return false; }
  return !zombie(pid); // an orphan's zombie lingers where nothing reaps it; it holds no port
};
const signal = (pid, name) => {
  if (!same(pid)) return;
  try { process.kill(pid, name); } catch {}
};
let reaping = false;
const reap = () => {
  if (reaping) return;
  reaping = true;
  for (const pid of pids.keys()) signal(pid, 'SIGTERM');
  const deadline = Date.now() + 2000;
  const poll = () => {
    const left = [...pids.keys()].filter((pid) => alive(pid) && same(pid));
    if (left.length > 0 && Date.now() < deadline) return void setTimeout(poll, 25);
    for (const pid of left) signal(pid, 'SIGKILL');
    for (const dir of dirs) {
      try { rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); } catch {}
    }
    process.exit(0);
  };
  poll();
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let end = buffered.indexOf('\\n'); end >= 0; end = buffered.indexOf('\\n')) {
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    let message;
    try { message = JSON.parse(line); } catch { continue; }
    if (message.op === 'pid' && Number.isInteger(message.pid) && message.pid > 1) {
      pids.set(message.pid, typeof message.start === 'string' ? message.start : null);
    }
    else if (message.op === 'unpid') pids.delete(message.pid);
    else if (message.op === 'dir' && typeof message.dir === 'string' && message.dir.length > 1) dirs.add(message.dir);
    else if (message.op === 'undir') dirs.delete(message.dir);
    else if (message.op === 'clear') { pids.clear(); dirs.clear(); }
  }
});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
process.stdin.resume();
`;

/**
 * The fields of `/proc/<pid>/stat` after the command name (state first, start time at index 19),
 * or undefined where there is no such file (another platform, or no such process). The reaper's
 * program has its own copy.
 */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When the process `pid` started (clock ticks since boot, from `/proc`), or undefined off Linux:
 * with it the reaper tells the process it was told about from a later one that got its pid.
 */
export function processStartTime(pid: number): string | undefined {
  return process.platform === 'linux' ? statFields(pid)?.[19] : undefined;
}

type ReaperMessage =
  | { readonly op: 'pid'; readonly pid: number; readonly start?: string | undefined }
  | { readonly op: 'unpid'; readonly pid: number }
  | { readonly op: 'dir' | 'undir'; readonly dir: string }
  | { readonly op: 'clear' };

// @cache-scope per-pod: the one reaper of this process; it lives exactly as long as this process.
let reaper: ChildProcess | undefined;
let reaperFailed = false;

function ensureReaper(): ChildProcess | undefined {
  if (reaper || reaperFailed) return reaper;
  try {
    // Detached (its own process group) so that a signal sent to the test run's group does not end
    // it before it has cleaned up; an empty environment so that NODE_OPTIONS loaders stay out.
    const child = spawn(process.execPath, ['-e', REAPER_SOURCE], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      cwd: parse(process.execPath).root, // holds no directory a test may want to delete
      env: {},
    });
    const fail = (): void => {
      reaperFailed = true;
      reaper = undefined;
    };
    child.on('error', fail);
    // A reaper that died leaves writes failing with EPIPE: the exit hooks still clean up.
    child.stdin?.on('error', fail);
    child.unref();
    (child.stdin as { unref?: () => void } | null)?.unref?.();
    reaper = child;
  } catch {
    reaperFailed = true;
  }
  return reaper;
}

/**
 * Tells this process's reaper (started on first use) about a process or directory to clean up if
 * this process dies without running its exit hooks (SIGKILL, a crash of the runtime), or that one
 * is cleaned up already. Best effort: a reaper that cannot start changes nothing else.
 */
export function tellReaper(message: ReaperMessage): void {
  if (message.op !== 'pid' && message.op !== 'dir' && !reaper) return;
  ensureReaper()?.stdin?.write(`${JSON.stringify(message)}\n`);
}
