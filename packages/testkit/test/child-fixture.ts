import { spawn } from 'node:child_process';
import { waitFor } from '../src/index.ts';

/** Starts a fixture in a child process with its own TMPDIR; `lines()` is what it wrote so far. */
export function startFixture(file: string, args: readonly string[], tmp: string) {
  const proc = spawn(process.execPath, [file, ...args], {
    env: { ...process.env, TMPDIR: tmp, NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    exited,
    running,
    lines: (): string[] => stdout.split('\n').slice(0, -1),
    /** The end of what it wrote to stderr (the last `tail` characters; `Infinity` for all). */
    stderr: (tail = 4000): string => stderr.slice(-tail),
    /** Waits for the fixture's first line (what it started); says why if it ended without one. */
    async report<T>(): Promise<T> {
      await waitFor(() => stdout.includes('\n') || !running(), { timeoutMs: 60_000, what: 'the fixture to report' });
      const first = stdout.split('\n')[0] ?? '';
      if (!stdout.includes('\n')) {
        throw new Error(
          `the fixture ended (code ${proc.exitCode}, signal ${proc.signalCode}) without reporting; its stderr:\n${stderr.slice(-4000)}`,
        );
      }
      return JSON.parse(first) as T;
    },
  };
}
