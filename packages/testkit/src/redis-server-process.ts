import type { ChildProcess } from 'node:child_process';
import { TestkitError } from './errors.ts';
import { captureOutput, spawnManaged, terminate } from './process-registry.ts';
import { sendCommand } from './resp-client.ts';
import { waitFor } from './wait.ts';

/** Arguments every test server gets: loopback only, nothing on disk. */
export function redisBaseArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'yes',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

/**
 * A start that failed because the port belongs to another process (another redis-server answered,
 * or ours could not bind): the caller retries on a new port.
 */
export class PortTakenError extends TestkitError {
  constructor(port: number, detail: string) {
    super('ERR_TESTKIT_START_FAILED', `port ${port} on 127.0.0.1 is taken by another process (${detail}).`);
  }
}

/**
 * Which redis-server answers on `port`: its `process_id` from `INFO server`. `undefined` while it
 * cannot tell (loading, or the answer is not Redis's); `null` when a Redis answered with an error
 * other than LOADING (e.g. NOAUTH: a server with a password, hence not one of ours).
 */
export async function redisServerPid(port: number, host = '127.0.0.1'): Promise<number | null | undefined> {
  const reply = await sendCommand(port, ['INFO', 'server'], { host, timeoutMs: 500 });
  if (reply instanceof Error) return reply.message.startsWith('LOADING') ? undefined : null;
  const pid = /^process_id:(\d+)\r?$/m.exec(typeof reply === 'string' ? reply : '')?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/** True when `child` is still running and is the redis-server answering on `port`. */
export async function servesPort(child: ChildProcess, port: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return false;
  return (await redisServerPid(port)) === child.pid;
}

/**
 * Starts `redis-server` with `args` and waits until it answers on `port` as itself: a PONG alone
 * could come from another server that already holds the port while ours exits "address in use".
 * Throws {@link PortTakenError} when the port turns out to be someone else's.
 */
export async function spawnRedisServer(
  binary: string,
  port: number,
  args: readonly string[],
  startTimeoutMs: number,
): Promise<ChildProcess> {
  const child = spawnManaged(binary, args);
  const output = captureOutput(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  // The probe ends the wait as soon as it knows (waitFor retries a probe that throws); what it
  // found is read below.
  let foreignPid: number | null | undefined;
  let failure: unknown;
  try {
    await waitFor(
      async () => {
        if (exited) return true;
        const pid = await redisServerPid(port);
        if (pid !== child.pid && pid !== undefined) foreignPid = pid;
        return pid !== undefined;
      },
      { timeoutMs: startTimeoutMs, what: `redis-server on port ${port}` },
    );
  } catch (error) {
    failure = error;
  }
  if (failure === undefined && foreignPid === undefined && !exited) return child;
  await terminate(child, 1_000);
  if (foreignPid !== undefined) {
    throw new PortTakenError(port, foreignPid === null ? 'a Redis that wants a password' : `pid ${foreignPid}`);
  }
  if (exited && /address already in use/i.test(output())) throw new PortTakenError(port, 'address already in use');
  throw new TestkitError(
    exited ? 'ERR_TESTKIT_START_FAILED' : 'ERR_TESTKIT_START_TIMEOUT',
    `redis-server on 127.0.0.1:${port} did not start. Its output:\n${output()}`,
    failure === undefined ? undefined : { cause: failure },
  );
}

/** How many ports a start tries when each turns out to be taken by another process. */
export const PORT_ATTEMPTS = 5;

/**
 * Starts a `redis-server` on a port from `pickPort`, on a new one whenever the picked port turns
 * out to be someone else's (taken between probe and bind), up to {@link PORT_ATTEMPTS} times.
 * Anything else (a bad argument, a timeout) would fail the same way again, so it is thrown at once.
 */
export async function spawnOnFreePort(
  binary: string,
  pickPort: () => Promise<number>,
  argsFor: (port: number) => string[],
  startTimeoutMs: number,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort();
    try {
      return { child: await spawnRedisServer(binary, port, argsFor(port), startTimeoutMs), port };
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}
