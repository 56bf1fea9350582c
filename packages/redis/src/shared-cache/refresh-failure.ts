// Why an early refresh's Redis step failed, and whether that pauses the cache's early refreshes.
import { RedisStoreError } from '../errors.ts';

/**
 * What stopped a refresh before its loader: Redis refusing writes (`oom`, `readonly`), not
 * answering in time (`timeout`), not reachable or not serving (`unreachable`), or anything else
 * about this one call (`other`: WRONGTYPE, NOPERM, a script error).
 */
export type RefreshFailureKind = 'oom' | 'readonly' | 'timeout' | 'unreachable' | 'other';

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

/**
 * Classifies the error a refresh's Redis step rejected with (a {@link RedisStoreError} from the call
 * guard, whose `cause` is the client's error). Pauses on what hits every key alike: OOM, READONLY,
 * Redis unreachable or not serving, and a timeout (a Redis that does not answer one call in
 * `timeoutMs` is most likely overloaded or cut off, and more refreshes would only add load). Errors
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
