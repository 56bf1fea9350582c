import { createHash } from 'node:crypto';
import { type Cluster, Command, type Redis } from 'ioredis';
import { RedisStoreError, safeCause } from './errors.ts';

/** A caller's ioredis client: a single node (`Redis`) or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** A Lua script with its SHA1, ready for {@link runScript}. */
export interface RedisScript {
  /** Short name used in error messages. */
  readonly name: string;
  readonly lua: string;
  readonly sha1: string;
}

/**
 * Declares a Lua script once (its SHA1 is computed here, not per call).
 *
 * @example
 * ```ts
 * import { defineScript } from '@rampart/redis';
 * const ping = defineScript('ping', "return redis.call('PING')");
 * ```
 */
export function defineScript(name: string, lua: string): RedisScript {
  return { name, lua, sha1: createHash('sha1').update(lua).digest('hex') };
}

/** True for Redis's NOSCRIPT error reply (the script is not in the server's script cache). */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs `script` with EVALSHA and, when the server answers NOSCRIPT (after `SCRIPT FLUSH`, a
 * restart or a failover to a replica that never saw the script), once more with EVAL, which also
 * reloads it on that node. The keys decide the node on a Cluster, so every key of one call must
 * share a hash tag.
 *
 * @example
 * ```ts
 * import { defineScript, runScript } from '@rampart/redis';
 * const incr = defineScript('incr', "return redis.call('INCR', KEYS[1])");
 * const value = await runScript(redis, incr, ['{user:1}:n'], []);
 * ```
 */
export function runScript(
  client: RedisClient,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  return evalWithReload(client, TEXT_REPLIES, script, keys, args);
}

/**
 * {@link runScript} with replies as bytes (Buffers; integers stay numbers), for a caller that must
 * see the bytes Redis holds (a digest of a stored value). Sent with ioredis's own
 * `evalshaBuffer`/`evalBuffer`, not `callBuffer('evalsha', …)`: on a client with
 * `enableAutoPipelining`, ioredis 6 drops the command name of an auto-pipelined `callBuffer`, and
 * Redis got the script's SHA as the command.
 *
 * @internal
 */
export function runScriptForBytes(
  client: RedisClient,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  return evalWithReload(client, BYTE_REPLIES, script, keys, args);
}

type EvalMethod = (...args: (string | number)[]) => Promise<unknown>;
/** The EVALSHA and EVAL methods of a client (ioredis makes a `<command>Buffer` one for every command; its typings leave out EVAL's). */
type EvalMethods = readonly [sha: 'evalsha' | 'evalshaBuffer', lua: 'eval' | 'evalBuffer'];
const TEXT_REPLIES: EvalMethods = ['evalsha', 'eval'];
const BYTE_REPLIES: EvalMethods = ['evalshaBuffer', 'evalBuffer'];

function evalWithReload(
  client: RedisClient,
  [sha, lua]: EvalMethods,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  // Not async: on the hot path every promise layer is measurable (see the rate-limit bench).
  const methods = client as unknown as Record<EvalMethods[number], EvalMethod>;
  let sent: Promise<unknown>;
  try {
    sent = methods[sha].call(client, script.sha1, keys.length, ...keys, ...args);
  } catch (error) {
    return Promise.reject(error);
  }
  return sent.then(undefined, (error: unknown) => {
    if (!isNoScript(error)) throw error;
    return methods[lua].call(client, script.lua, keys.length, ...keys, ...args);
  });
}

/**
 * Loads `scripts` into the script cache of a single node or of every master of a Cluster (`SCRIPT
 * LOAD`), waiting up to `timeoutMs` for the client to be ready. Afterwards the first
 * {@link runScript} of a new process is one EVALSHA instead of EVALSHA, NOSCRIPT and EVAL with the
 * whole script, which under load can exceed a store's per-call timeout. Throws
 * `ERR_REDIS_UNAVAILABLE` (retryable) when a node cannot be reached, `ERR_REDIS_TIMEOUT` after
 * `timeoutMs`, and `ERR_REDIS_UNEXPECTED_REPLY` (not retryable: calling again cannot help) when
 * Redis refuses `SCRIPT LOAD` itself (`NOPERM`: an ACL denies `script|load`; unknown command:
 * renamed, disabled, or a proxy without it). Redis may still lose the scripts later (`SCRIPT
 * FLUSH`, a restart, a failover): {@link runScript} reloads them then, so loading is an
 * optimisation, never required.
 *
 * @example
 * ```ts
 * import { defineScript, loadScripts } from '@rampart/redis';
 * const incr = defineScript('incr', "return redis.call('INCR', KEYS[1])");
 * await loadScripts(redis, [incr]);
 * ```
 */
export async function loadScripts(
  client: RedisClient,
  scripts: readonly RedisScript[],
  timeoutMs = 5_000,
): Promise<void> {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new RedisStoreError('ERR_REDIS_INVALID_ARGUMENT', 'loadScripts: timeoutMs must be a positive integer.');
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RedisStoreError(
            'ERR_REDIS_TIMEOUT',
            `loading scripts took more than ${timeoutMs} ms; check that Redis is reachable, or raise timeoutMs.`,
          ),
        ),
      timeoutMs,
    );
  });
  // Whatever ends the call (loaded, failed, timed out), the wait for 'ready' stops listening:
  // otherwise every timed-out call would leave a pair of listeners on the caller's client.
  const done = new AbortController();
  try {
    await Promise.race([load(client, scripts, done.signal), timedOut]);
  } finally {
    clearTimeout(timer);
    done.abort();
  }
}

async function load(client: RedisClient, scripts: readonly RedisScript[], signal: AbortSignal): Promise<void> {
  await ready(client, signal);
  const nodes: Redis[] = client.isCluster
    ? (client as unknown as { nodes(role: 'master'): Redis[] }).nodes('master')
    : [client as Redis];
  await Promise.all(
    nodes.flatMap((node) =>
      scripts.map(async (script) => {
        let sha1: unknown;
        try {
          sha1 = await node.script('LOAD', script.lua);
        } catch (error) {
          throw loadFailed(script, error);
        }
        if (sha1 !== script.sha1) {
          throw new RedisStoreError(
            'ERR_REDIS_UNEXPECTED_REPLY',
            `SCRIPT LOAD of ${script.name} answered another SHA1 than the script's.`,
          );
        }
      }),
    ),
  );
}

// Replies refusing SCRIPT LOAD itself, whatever the script or the moment: an ACL without
// `script|load`, or a server (or proxy) that does not know the command.
const LOAD_REFUSED = /^(?:NOPERM|ERR unknown (?:sub)?command)\b/;

/** The error for a SCRIPT LOAD that failed: refused for good (see {@link LOAD_REFUSED}), or Redis unreachable. */
function loadFailed(script: RedisScript, error: unknown): RedisStoreError {
  const cause = safeCause(error);
  const reply = error instanceof Error && error.name === 'ReplyError' ? error.message : '';
  if (LOAD_REFUSED.test(reply)) {
    return new RedisStoreError(
      'ERR_REDIS_UNEXPECTED_REPLY',
      `Redis refused SCRIPT LOAD of ${script.name} (see cause: NOPERM when the user's ACL lacks script|load, unknown command when SCRIPT is renamed or disabled, or a proxy does not pass it); calling again will not help: grant the command (ACL SETUSER <user> +script|load), or go without loading: a script Redis lacks is sent whole with EVAL.`,
      { cause },
    );
  }
  return new RedisStoreError(
    'ERR_REDIS_UNAVAILABLE',
    `loading script ${script.name} failed (see cause); check that Redis is reachable.`,
    { cause },
  );
}

/**
 * Resolves once `client` is ready; starts a lazy client (status `wait`). Stops listening when
 * `signal` aborts (the caller gave up: its promise settles by then, so this one may stay pending).
 */
async function ready(client: RedisClient, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'end') {
    throw new RedisStoreError('ERR_REDIS_UNAVAILABLE', 'the Redis client was closed (status end); create a new one.');
  }
  if (signal.aborted) return;
  await new Promise<void>((resolve, reject) => {
    const stop = (): void => {
      client.off('ready', onReady);
      client.off('end', onEnd);
      signal.removeEventListener('abort', stop);
    };
    const onReady = (): void => {
      stop();
      resolve();
    };
    const onEnd = (): void => {
      stop();
      reject(new RedisStoreError('ERR_REDIS_UNAVAILABLE', 'the Redis client was closed before it was ready.'));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
    signal.addEventListener('abort', stop, { once: true });
    if (client.status === 'wait') client.connect().catch(() => {});
  });
}

const UTF8_REPLIES = { replyEncoding: 'utf8' } as const;

/**
 * The ioredis command that `client.call(name, ...args)` would send without auto-pipelining (the
 * client's key prefix applied, replies as UTF-8 strings, the caller's stack kept when the client
 * has `showFriendlyErrorStack`), for sending it with `sendCommand`.
 */
export function newCommand(client: RedisClient, name: string, args: readonly (string | number)[]): Command {
  const options = client.options as { keyPrefix?: string; showFriendlyErrorStack?: boolean };
  const keyPrefix = options.keyPrefix;
  if (options.showFriendlyErrorStack === true) {
    const withStack = { replyEncoding: 'utf8', errorStack: new Error() } as const;
    return new Command(
      name,
      args as (string | number)[],
      keyPrefix === undefined ? withStack : { ...withStack, keyPrefix },
    );
  }
  return new Command(
    name,
    args as (string | number)[],
    keyPrefix === undefined ? UTF8_REPLIES : { keyPrefix, replyEncoding: 'utf8' },
  );
}
