import type { Redis } from 'ioredis';
import type { RedisClient } from '../scripts.ts';

/**
 * Deletes every key under `prefix` on a single node or on every master of a Cluster. Each key is
 * unlinked on its own (in one pipeline per node): a multi-key UNLINK would be CROSSSLOT on a
 * Cluster, and a Cluster pipeline spanning slots is sent to one node.
 */
export async function unlinkByPrefix(client: RedisClient, prefix: string): Promise<number> {
  const nodes: Redis[] = client.isCluster
    ? (client as unknown as { nodes(role: 'master'): Redis[] }).nodes('master')
    : [client as Redis];
  let removed = 0;
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) {
          const pipeline = node.pipeline();
          for (const key of keys) pipeline.unlink(key);
          await pipeline.exec();
          removed += keys.length;
        }
      } while (cursor !== '0');
    }),
  );
  return removed;
}
