import type { ChildProcess } from 'node:child_process';
import { requireExecutable } from './binary.ts';
import { TestkitError } from './errors.ts';
import { getFreePort } from './free-port.ts';
import { makeManagedTempDir, removeManagedTempDir, terminate } from './process-registry.ts';
import { refuseInProduction } from './production-guard.ts';
import { assertCallerRedisArgs, redisArgs, spawnOnFreePort, spawnRedisServer } from './redis-server-process.ts';
import { type RespValue, sendCommands } from './resp-client.ts';

/** Install hint shared by every helper that needs `redis-server`. */
export const REDIS_INSTALL_HINT =
  'Install Redis 7 (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or set REDIS_URL to a Redis the tests may use.';

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * Ignore `REDIS_URL` and always start a private `redis-server`. Needed by tests that stop,
   * restart or flush the server. Default `false`.
   */
  readonly owned?: boolean;
  /**
   * Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. Only for owned servers. May not
   * set `--bind` (`ERR_TESTKIT_NOT_LOOPBACK`) or `--port`, `--protected-mode`, `--save`,
   * `--appendonly`, `--dir`, `--daemonize`, `--cluster-enabled`, `--cluster-config-file`, nor
   * options that touch files outside its temp dir or set a password (`--logfile`, `--unixsocket`,
   * `--requirepass`, ...: see `REFUSED_REDIS_OPTIONS`) (`ERR_TESTKIT_INVALID_OPTION`).
   */
  readonly args?: readonly string[];
  /** How long to wait for the server to answer (as the process started, not another on its port). Default 10 s. */
  readonly startTimeoutMs?: number;
}

/** A running Redis for tests. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>` (or `REDIS_URL` when that was used). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /**
   * A key prefix unique to this handle. On a shared `REDIS_URL` server, tests must keep their keys
   * under it; `stop()` deletes them.
   */
  readonly keyPrefix: string;
  /** True when this handle uses `REDIS_URL` instead of a server it started. */
  readonly external: boolean;
  /** Stops the server (SIGTERM, then SIGKILL) and starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Stops the server without removing its handle, so tests can observe Redis being down. */
  kill(): Promise<void>;
  /** Stops and cleans up: the process, its temp dir, or (external) the keys under `keyPrefix`. */
  stop(): Promise<void>;
}

let handleCounter = 0;

function uniquePrefix(): string {
  handleCounter += 1;
  return `rampart-test:${process.pid}:${handleCounter}:${Date.now().toString(36)}:`;
}

/**
 * A Redis for tests: `REDIS_URL` when set (and `owned` is not), else a fresh `redis-server` on a
 * free loopback port with no persistence. `REDIS_URL` must be `redis://[user:password@]host:port[/db]`
 * (`rediss:` is refused with `ERR_TESTKIT_INVALID_OPTION`).
 *
 * @example
 * ```ts
 * import { startRedis } from '@rampart/testkit';
 * import { Redis } from 'ioredis';
 *
 * const redis = await startRedis();
 * const client = new Redis(redis.url);
 * await client.set(`${redis.keyPrefix}greeting`, 'hello');
 * client.disconnect();
 * await redis.stop();
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  refuseInProduction('startRedis');
  assertCallerRedisArgs(options.args ?? []);
  const keyPrefix = uniquePrefix();
  const externalUrl = process.env.REDIS_URL?.trim();
  if (externalUrl && options.owned !== true) return externalRedis(externalUrl, keyPrefix);

  return startOwnedRedis(options, keyPrefix, getFreePort);
}

/**
 * Starts a private `redis-server` on a port from `pickPort` (the kernel's free port outside
 * tests; a test passes a port it knows to be taken).
 */
export async function startOwnedRedis(
  options: StartRedisOptions,
  keyPrefix: string,
  pickPort: () => Promise<number>,
): Promise<TestRedis> {
  assertCallerRedisArgs(options.args ?? []);
  const binary = requireExecutable('redis-server', REDIS_INSTALL_HINT);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = await makeManagedTempDir('redis');
  const extra = options.args ?? [];
  const argsFor = (port: number): string[] => redisArgs(port, dir, extra);
  let started: { child: ChildProcess; port: number };
  try {
    started = await spawnOnFreePort(binary, pickPort, argsFor, startTimeoutMs);
  } catch (error) {
    await removeManagedTempDir(dir);
    throw error;
  }
  const { child, port } = started;
  let current: ChildProcess | undefined = child;
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    keyPrefix,
    external: false,
    async kill() {
      if (current) await terminate(current);
      current = undefined;
    },
    async restart() {
      if (current) await terminate(current);
      current = await spawnRedisServer(binary, port, argsFor(port), startTimeoutMs);
    },
    async stop() {
      if (current) await terminate(current);
      current = undefined;
      await removeManagedTempDir(dir);
    },
  };
}

/** What the cleanup connection needs from `REDIS_URL`: where, which database, which credentials. */
function parseRedisUrl(url: string): { host: string; port: number; prelude: (string | number)[][] } {
  // The URL may hold a password: no message here quotes it.
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      'REDIS_URL is not a URL: use redis://[user:password@]host:port[/db].',
    );
  }
  if (parsed.protocol !== 'redis:') {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      parsed.protocol === 'rediss:'
        ? 'REDIS_URL uses rediss: (TLS), which the test-kit cannot clean up over: point REDIS_URL at a test Redis reached with redis:, or unset it to get a private redis-server.'
        : 'REDIS_URL must be a redis:// URL: redis://[user:password@]host:port[/db].',
    );
  }
  const dbText = parsed.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      'REDIS_URL names a database that is not a number: use /0 to /15.',
    );
  }
  const prelude: (string | number)[][] = [];
  if (parsed.password !== '') {
    const password = decodeURIComponent(parsed.password);
    prelude.push(parsed.username === '' ? ['AUTH', password] : ['AUTH', decodeURIComponent(parsed.username), password]);
  }
  if (dbText !== '') prelude.push(['SELECT', Number(dbText)]);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 6379), prelude };
}

function externalRedis(url: string, keyPrefix: string): TestRedis {
  const { host, port, prelude } = parseRedisUrl(url);
  const refuse = async (): Promise<never> => {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      'restart()/kill() need a server the test-kit owns: call startRedis({ owned: true }).',
    );
  };
  /** Runs `command` after the URL's AUTH and SELECT, on one connection; refused credentials throw. */
  const run = async (command: (string | number)[]): Promise<RespValue> => {
    const replies = await sendCommands(port, [...prelude, command], { host });
    const refused = replies.slice(0, prelude.length).find((reply) => reply instanceof Error);
    if (refused) {
      throw new TestkitError(
        'ERR_TESTKIT_INVALID_OPTION',
        `the Redis at REDIS_URL refused its user, password or database, so the keys under keyPrefix could not be deleted: check REDIS_URL (${refused.message.split(' ')[0]}).`,
      );
    }
    return replies[prelude.length] ?? null;
  };
  return {
    url,
    host,
    port,
    keyPrefix,
    external: true,
    restart: refuse,
    kill: refuse,
    async stop() {
      // Delete only this handle's keys, in the URL's database: the server is shared.
      let cursor = '0';
      do {
        const reply = await run(['SCAN', cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000]);
        if (!Array.isArray(reply)) break;
        cursor = String(reply[0]);
        const keys = Array.isArray(reply[1]) ? (reply[1] as string[]) : [];
        if (keys.length > 0) await run(['UNLINK', ...keys]);
      } while (cursor !== '0');
    },
  };
}
