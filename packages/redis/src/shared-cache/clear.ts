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
 * Deletes every key under `prefix` on a single node or on every master of a Cluster. Each key is
 * unlinked on its own (in one pipeline per node): a multi-key UNLINK would be CROSSSLOT on a
 * Cluster, and a Cluster pipeline spanning slots is sent to one node. ioredis applies a client's
 * `keyPrefix` to UNLINK but not to SCAN's MATCH nor to the keys SCAN returns: the pattern gets it
 * here, and each returned key loses the part the node adds back.
 */
export async function unlinkByPrefix(client: RedisClient, prefix: string): Promise<number> {
  const nodes: Redis[] = client.isCluster
    ? (client as unknown as { nodes(role: 'master'): Redis[] }).nodes('master')
    : [client as Redis];
  const pattern = `${escapeGlob(clientKeyPrefix(client))}${escapeGlob(prefix)}*`;
  let removed = 0;
  await Promise.all(
    nodes.map(async (node) => {
      const added = clientKeyPrefix(node);
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) {
          const pipeline = node.pipeline();
          for (const key of keys) pipeline.unlink(key.startsWith(added) ? key.slice(added.length) : key);
          await pipeline.exec();
          removed += keys.length;
        }
      } while (cursor !== '0');
    }),
  );
  return removed;
}
