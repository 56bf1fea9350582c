// Runs a command in the foreground of a script (`./run test`, `./run bench`, the release): the
// script waits without blocking its event loop, so a SIGINT, SIGTERM or SIGHUP sent to it is passed
// on to the command (vitest then stops its workers and their redis-servers) instead of killing the
// script alone and orphaning the command. spawnSync could not do that: signals wait until it returns.
import { type SpawnOptions, spawn } from 'node:child_process';
import { constants } from 'node:os';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const signalStatus = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 0);

export interface ForegroundResult {
  /** The exit code, or 128 + n when the command was ended by signal n (as a shell reports it). */
  readonly status: number;
  /** What the command wrote to stdout, when `stdio` pipes it. */
  readonly stdout: string;
}

/**
 * Runs `command` to completion, forwarding INT/TERM/HUP to it. When this process received one of
 * them, it exits once the command has (with the command's status, else 128 + n), so a script
 * never goes on to its next step after being asked to stop.
 */
export async function runInForeground(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<ForegroundResult> {
  const child = spawn(command, args, options);
  let received: NodeJS.Signals | undefined;
  const forwarders = FORWARDED.map((signal) => {
    const forward = (): void => {
      received ??= signal;
      child.kill(signal);
    };
    process.on(signal, forward);
    return [signal, forward] as const;
  });
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const status = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`${command}: ${error.message}\n`);
      resolve(127);
    });
    child.once('close', (code, signal) => resolve(code ?? (signal ? signalStatus(signal) : 1)));
  });
  for (const [signal, forward] of forwarders) process.off(signal, forward);
  if (received !== undefined) process.exit(status !== 0 ? status : signalStatus(received));
  return { status, stdout };
}
