import type { ChildProcess } from 'node:child_process';
import { requireExecutable } from './binary.ts';
import { TestkitError } from './errors.ts';
import { getFreePort } from './free-port.ts';
import { makeManagedTempDir, removeManagedTempDir, terminate } from './process-registry.ts';
import { refuseInProduction } from './production-guard.ts';
import { assertCallerRedisArgs, redisArgs, spawnOnFreePort, spawnRedisServer } from './redis-server-process.ts';
import { sendCommand } from './resp-client.ts';

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
   * `--appendonly`, `--dir`, `--daemonize`, `--cluster-enabled`, `--cluster-config-file`
   * (`ERR_TESTKIT_INVALID_OPTION`).
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
 * free loopback port with no persistence.
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

function externalRedis(url: string, keyPrefix: string): TestRedis {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || 6379);
  const refuse = async (): Promise<never> => {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      'restart()/kill() need a server the test-kit owns: call startRedis({ owned: true }).',
    );
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
      if (parsed.password || parsed.username) return; // no RESP AUTH here; leave cleanup to the owner
      // Delete only this handle's keys: the server is shared.
      let cursor = '0';
      do {
        const reply = await sendCommand(port, ['SCAN', cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000], { host });
        if (!Array.isArray(reply)) break;
        cursor = String(reply[0]);
        const keys = Array.isArray(reply[1]) ? (reply[1] as string[]) : [];
        if (keys.length > 0) await sendCommand(port, ['UNLINK', ...keys], { host });
      } while (cursor !== '0');
    },
  };
}
