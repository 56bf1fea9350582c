import { createHash } from 'node:crypto';
import { type Cluster, Command, type Redis } from 'ioredis';

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
  // Not async: on the hot path every promise layer is measurable (see the rate-limit bench).
  let sent: Promise<unknown>;
  try {
    sent = client.evalsha(script.sha1, keys.length, ...keys, ...args);
  } catch (error) {
    return Promise.reject(error);
  }
  return sent.then(undefined, (error: unknown) => {
    if (!isNoScript(error)) throw error;
    return client.eval(script.lua, keys.length, ...keys, ...args);
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
