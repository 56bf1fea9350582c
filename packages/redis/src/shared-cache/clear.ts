import type { Redis } from 'ioredis';
import type { RedisClient } from '../scripts.ts';

interface PrefixOptions {
  readonly keyPrefix?: unknown;
  readonly redisOptions?: { readonly keyPrefix?: unknown };
}

/** The ioredis `keyPrefix` a client puts before every key (a Cluster's own, or its nodes'). */
export function clientKeyPrefix(client: { readonly options?: unknown }): string {
  const options = (client.options ?? {}) as PrefixOptions;
  const prefix = options.keyPrefix ?? options.redisOptions?.keyPrefix;
  return typeof prefix === 'string' ? prefix : '';
}

/** `text` as a SCAN MATCH pattern that matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Deletes every key under `prefix` for which `own` accepts the rest of the key (what follows the
 * prefix: a prefix may also begin other stores' key spaces) on a single node or on every master of a Cluster, in two full
 * SCAN passes per node. Each SCAN page and each UNLINK pipeline runs through `step` (the caller's
 * timeout); the first step that fails rejects the whole clear, and no node sends another page. Each key is unlinked on its own (in one pipeline per node): a multi-key
 * UNLINK would be CROSSSLOT on a Cluster, and a Cluster pipeline spanning slots is sent to one node.
 * ioredis applies a client's `keyPrefix` to UNLINK but not to SCAN's MATCH nor to the keys SCAN
 * returns: the pattern gets it here, and each returned key loses the part the node adds back.
 *
 * Why two passes: SCAN returns every key present for a whole pass, but may miss one created during
 * it. A SharedCache load that read its key's generation before the clear either writes before the
 * first pass removes that generation (its entry then exists for the whole second pass, which
 * removes it) or after (its write is refused). One pass would let such a write survive.
 */
export async function unlinkByPrefix(
  client: RedisClient,
  prefix: string,
  step: <R>(fn: () => Promise<R>) => Promise<R> = (fn) => fn(),
  own: (rest: string) => boolean = () => true,
): Promise<number> {
  const nodes: Redis[] = client.isCluster
    ? (client as unknown as { nodes(role: 'master'): Redis[] }).nodes('master')
    : [client as Redis];
  const matched = `${clientKeyPrefix(client)}${prefix}`;
  const pattern = `${escapeGlob(matched)}*`;
  let removed = 0;
  // Once one step fails the clear has failed: no node sends another page after that.
  let failed = false;
  const next = <R>(fn: () => Promise<R>): Promise<R> => {
    if (failed) return Promise.reject(new Error('the clear already failed on another node'));
    return step(fn).catch((error: unknown) => {
      failed = true;
      throw error;
    });
  };
  await Promise.all(
    nodes.map(async (node) => {
      const added = clientKeyPrefix(node);
      for (let pass = 0; pass < 2; pass++) {
        let cursor = '0';
        do {
          const [after, keys] = await next(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 500));
          cursor = after;
          const mine = keys.filter((key) => own(key.slice(matched.length)));
          if (mine.length > 0) {
            const pipeline = node.pipeline();
            for (const key of mine) pipeline.unlink(key.startsWith(added) ? key.slice(added.length) : key);
            const replies = await next(() => pipeline.exec());
            for (const [, count] of replies ?? []) removed += Number(count) || 0;
          }
        } while (cursor !== '0');
      }
    }),
  );
  return removed;
}
