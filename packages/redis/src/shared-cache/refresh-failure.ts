// Why an early refresh's Redis step failed, and whether that pauses the cache's early refreshes.
import { RedisStoreError } from '../errors.ts';

/**
 * What stopped a refresh before its loader: Redis refusing writes (`oom`, `readonly`,
 * `write-refused`: MISCONF, NOREPLICAS), refusing this connection's commands (`auth`: NOAUTH,
 * WRONGPASS), not answering in time (`timeout`), not reachable or not serving (`unreachable`), or
 * anything else about this one call (`other`: WRONGTYPE, NOPERM, a script error).
 */
export type RefreshFailureKind = 'oom' | 'readonly' | 'write-refused' | 'auth' | 'timeout' | 'unreachable' | 'other';

/** How a cache reacts to a {@link RefreshFailureKind}: see {@link classifyRefreshFailure}. */
export interface RefreshFailure {
  readonly kind: RefreshFailureKind;
  /** Whether no early refresh of the cache starts for a while: Redis would refuse or drop them all. */
  readonly pause: boolean;
  readonly code: RedisStoreError['code'];
  /** What to do about it, for the report's message. */
  readonly advice: string;
}

// Redis reply prefixes that mean the server is not serving at all, whatever the key or command:
// loading its dataset, busy with a script, a replica cut from its primary, a cluster without quorum.
const NOT_SERVING = /(?:^|[\s-])(?:LOADING|BUSY|MASTERDOWN|CLUSTERDOWN)\b/;
const OOM = /(?:^|[\s-])OOM\b/;
const READONLY = /(?:^|[\s-])READONLY\b/;
// Every write refused, whatever the key: a failed RDB save under stop-writes-on-bgsave-error, or
// fewer replicas than min-replicas-to-write.
const MISCONF = /(?:^|[\s-])MISCONF\b/;
const NOREPLICAS = /(?:^|[\s-])NOREPLICAS\b/;
// Every command refused on this connection: the server wants a password it was not given (after a
// restart with requirepass, an ACL change), or the one it has no longer works.
const AUTH = /(?:^|[\s-])(?:NOAUTH|WRONGPASS)\b/;

/**
 * Classifies the error a refresh's Redis step rejected with (a {@link RedisStoreError} from the call
 * guard, whose `cause` is the client's error). Pauses on what hits every key alike: OOM, READONLY,
 * MISCONF, NOREPLICAS, NOAUTH/WRONGPASS, Redis unreachable or not serving, and a timeout (a Redis that does not answer one call in
 * `timeoutMs` is most likely overloaded or cut off, and more refreshes would only add load; no call
 * is made long by its caller: tags go at most `TAG_COMMANDS_PER_CALL` to a call). Errors
 * about one call (WRONGTYPE on a key another program wrote, NOPERM from an ACL, a script error) do
 * not pause the others.
 */
export function classifyRefreshFailure(error: unknown): RefreshFailure {
  const code = error instanceof RedisStoreError ? error.code : undefined;
  if (code === 'ERR_REDIS_TIMEOUT') {
    return {
      kind: 'timeout',
      pause: true,
      code: 'ERR_REDIS_TIMEOUT',
      advice:
        'Redis did not answer within timeoutMs: check that it is up and not overloaded (slow commands, CPU, memory, network), or raise timeoutMs.',
    };
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const reply = cause instanceof Error && cause.name === 'ReplyError' ? cause.message : undefined;
  if (reply !== undefined && OOM.test(reply)) {
    return {
      kind: 'oom',
      pause: true,
      code: 'ERR_REDIS_UNAVAILABLE',
      advice:
        'Redis refuses writes because it is out of memory (OOM: maxmemory reached under maxmemory-policy noeviction): raise maxmemory, or choose an evicting policy such as allkeys-lru for a cache-only Redis.',
    };
  }
  if (reply !== undefined && READONLY.test(reply)) {
    return {
      kind: 'readonly',
      pause: true,
      code: 'ERR_REDIS_UNAVAILABLE',
      advice:
        'Redis refuses writes because `redis` is connected to a read-only replica (READONLY): point `redis` at the primary (after a failover, with a client that follows it: Sentinel or Cluster).',
    };
  }
  if (reply !== undefined && MISCONF.test(reply)) {
    return {
      kind: 'write-refused',
      pause: true,
      code: 'ERR_REDIS_UNAVAILABLE',
      advice:
        'Redis refuses writes because its last RDB snapshot failed (MISCONF, stop-writes-on-bgsave-error): check its log, the disk space and the permissions of its dir; for a cache-only Redis, turn snapshots off (save "").',
    };
  }
  if (reply !== undefined && NOREPLICAS.test(reply)) {
    return {
      kind: 'write-refused',
      pause: true,
      code: 'ERR_REDIS_UNAVAILABLE',
      advice:
        'Redis refuses writes because fewer replicas than min-replicas-to-write are connected (NOREPLICAS): bring the replicas back, or lower min-replicas-to-write.',
    };
  }
  if (reply !== undefined && AUTH.test(reply)) {
    return {
      kind: 'auth',
      pause: true,
      code: 'ERR_REDIS_UNAVAILABLE',
      advice:
        "Redis refuses this connection's commands (NOAUTH: a password is required; WRONGPASS: the credentials no longer work): give the client the current username and password, e.g. after a restart with requirepass or an ACL change.",
    };
  }
  if (reply === undefined ? code === 'ERR_REDIS_UNAVAILABLE' : NOT_SERVING.test(reply)) {
    return {
      kind: 'unreachable',
      pause: true,
      code: 'ERR_REDIS_UNAVAILABLE',
      advice:
        'Redis cannot be reached or is not serving (see the cause): check that it is up and reachable from this process.',
    };
  }
  return {
    kind: 'other',
    pause: false,
    code: code ?? 'ERR_REDIS_UNAVAILABLE',
    advice:
      "Redis answered this key's step with an error (see the cause: WRONGTYPE when another program wrote the cache's keys, NOPERM when an ACL lacks a command or the cache's key pattern): fix what it names.",
  };
}
