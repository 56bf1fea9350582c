import type { ChildProcess } from 'node:child_process';
import { TestkitError } from './errors.ts';
import { captureOutput, spawnManaged, terminate } from './process-registry.ts';
import { sendCommand } from './resp-client.ts';
import { waitFor } from './wait.ts';

/**
 * Options the test-kit sets on every server and a caller's `args` may not: where it listens and
 * whether it may be reached without a password, whether and where it writes, whether it detaches.
 */
export const LOCKED_REDIS_OPTIONS: ReadonlySet<string> = new Set([
  'port',
  'bind',
  'protected-mode',
  'save',
  'appendonly',
  'dir',
  'daemonize',
  'cluster-enabled',
  'cluster-config-file',
]);

/**
 * Options the test-kit does not set but a caller's `args` may not either, with the reason: they
 * would make the server read or write files outside its temp dir (or open a socket file other local
 * users could use without a password), or lock the test-kit out of its own server (it probes and
 * stops servers without a password, by the usual command names).
 */
export const REFUSED_REDIS_OPTIONS: ReadonlyMap<string, string> = new Map([
  ...['logfile', 'pidfile', 'unixsocket', 'unixsocketperm', 'include', 'aclfile', 'loadmodule'].map(
    (name) => [name, 'test servers read and write files only inside their own temp dir'] as const,
  ),
  ...['requirepass', 'masterauth', 'masteruser', 'user', 'rename-command'].map(
    (name) => [name, 'the test-kit reaches its servers without a password, by the usual command names'] as const,
  ),
]);

/**
 * Throws when caller-supplied `redis-server` arguments would override an option in
 * {@link LOCKED_REDIS_OPTIONS} or set one in {@link REFUSED_REDIS_OPTIONS} (any letter case,
 * `--name value` or `--name=value`), or carry an option name redis-server could read as more than
 * one directive. Every problem is listed at once; the message names the option, never its value.
 * `bind` fails with `ERR_TESTKIT_NOT_LOOPBACK`.
 */
export function assertCallerRedisArgs(args: readonly unknown[], option = 'args'): void {
  const problems: string[] = [];
  let bind = false;
  args.forEach((arg, index) => {
    if (typeof arg !== 'string') {
      problems.push(`${option}[${index}] must be a string.`);
      return;
    }
    if (!arg.startsWith('--')) return; // a value: redis-server quotes it, so it stays one value
    // redis-server splices an option name into its config text unquoted: a space, quote or
    // newline in it would start another directive, so only plain names are accepted.
    const name = /^--([^=]*)/.exec(arg)?.[1] ?? '';
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name)) {
      problems.push(`${option}[${index}] is not a redis-server option name: use --name followed by its values.`);
      return;
    }
    const lower = name.toLowerCase();
    const refused = REFUSED_REDIS_OPTIONS.get(lower);
    if (refused !== undefined) {
      problems.push(`${option} may not set --${lower}: ${refused}.`);
      return;
    }
    if (!LOCKED_REDIS_OPTIONS.has(lower)) return;
    if (lower === 'bind') bind = true;
    problems.push(
      lower === 'bind'
        ? `${option} may not set --bind: test servers listen on 127.0.0.1 only.`
        : `${option} may not set --${lower}: the test-kit sets it (loopback, no persistence, its own temp dir).`,
    );
  });
  if (problems.length === 0) return;
  throw new TestkitError(bind ? 'ERR_TESTKIT_NOT_LOOPBACK' : 'ERR_TESTKIT_INVALID_OPTION', problems.join(' '));
}

/**
 * The full argument list of a test server: defaults a caller may change, then `extra`, then the
 * locked options. redis-server keeps the last occurrence of an option, so the locked ones win even
 * if {@link assertCallerRedisArgs} missed a spelling; `--loglevel` first also means a leading
 * non-option argument is read as its value, never as a config file.
 */
export function redisArgs(port: number, dir: string, extra: readonly string[] = []): string[] {
  return ['--loglevel', 'warning', ...extra, ...redisBaseArgs(port, dir)];
}

/** Arguments every test server gets: loopback only, nothing on disk, not detached. */
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
  let spawnError: Error | undefined;
  child.once('exit', () => {
    exited = true;
  });
  child.once('error', (error) => {
    if (child.pid !== undefined) return; // a failed kill(), not a failed start
    spawnError = error;
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
  // Read before terminate(): the exit it causes would make a server that is too slow look like one
  // that exited by itself.
  const exitedByItself = exited;
  await terminate(child, 1_000);
  if (spawnError !== undefined) {
    throw new TestkitError(
      'ERR_TESTKIT_START_FAILED',
      `redis-server could not be started (${spawnError.message}): check that ${binary} is an executable redis-server.`,
      { cause: spawnError },
    );
  }
  if (foreignPid !== undefined) {
    throw new PortTakenError(port, foreignPid === null ? 'a Redis that wants a password' : `pid ${foreignPid}`);
  }
  // Whatever ended the wait: a server that said so lost the port (a race with another process).
  if (/address already in use/i.test(output())) throw new PortTakenError(port, 'address already in use');
  throw new TestkitError(
    exitedByItself ? 'ERR_TESTKIT_START_FAILED' : 'ERR_TESTKIT_START_TIMEOUT',
    exitedByItself
      ? `redis-server on 127.0.0.1:${port} did not start. Its output:\n${output()}`
      : `redis-server on 127.0.0.1:${port} did not answer within ${startTimeoutMs} ms: raise startTimeoutMs on a slow machine. Its output:\n${output()}`,
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
