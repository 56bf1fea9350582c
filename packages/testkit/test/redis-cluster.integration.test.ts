import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getFreePortPair } from '../src/free-port.ts';
import { startRedisCluster } from '../src/index.ts';
import { startRedisClusterOn } from '../src/redis-cluster.ts';
import { isProcessListening } from './process-probe.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('startRedisCluster', () => {
  it('starts 3 masters with every slot assigned, usable through ioredis Cluster', async () => {
    const cluster = await startRedisCluster();
    try {
      expect(cluster.nodes).toHaveLength(3);
      expect(cluster.startupNodes).toHaveLength(3);
      const client = new Cluster([...cluster.startupNodes], { lazyConnect: true });
      await client.connect();
      // Keys in different slots land on different masters.
      for (let i = 0; i < 50; i++) await client.set(`key:${i}`, String(i));
      for (let i = 0; i < 50; i++) expect(await client.get(`key:${i}`)).toBe(String(i));
      const masters = client.nodes('master');
      expect(masters).toHaveLength(3);
      const counts = await Promise.all(masters.map((m) => m.dbsize()));
      expect(counts.every((n) => n > 0)).toBe(true);
      // Hash-tagged keys stay in one slot, so multi-key commands work.
      await client.mset('{tenant:1}:a', '1', '{tenant:1}:b', '2');
      expect(await client.mget('{tenant:1}:a', '{tenant:1}:b')).toEqual(['1', '2']);
      await client.quit();
    } finally {
      await cluster.stop();
    }
    for (const node of cluster.nodes) expect(await isProcessListening(node.port)).toBe(false);
  });

  it('attaches replicas when asked', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    try {
      expect(cluster.nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
      const client = new Cluster([...cluster.startupNodes], { lazyConnect: true });
      await client.connect();
      await client.set('{x}k', 'v');
      expect(await client.get('{x}k')).toBe('v');
      // In sync when it starts: the write is acknowledged by its replica at once.
      const replies = await client.pipeline().set('{x}k', 'w').wait(1, 1000).exec();
      expect(replies?.[1]).toEqual([null, 1]);
      await client.quit();
    } finally {
      await cluster.stop();
    }
  });

  it.each([
    [
      'the cluster does not form',
      'rampart-cluster-timeout-',
      { masters: 3, replicasPerMaster: 1, startTimeoutMs: 400 },
      'startTimeoutMs',
    ],
    ['a node does not answer', 'rampart-cluster-node-timeout-', { startTimeoutMs: 1 }, 'raise startTimeoutMs'],
  ] as const)(
    'fails with ERR_TESTKIT_START_TIMEOUT when %s in time, leaving nothing behind',
    async (_what, prefix, options, hint) => {
      const tmp = mkdtempSync(join(tmpdir(), prefix));
      vi.stubEnv('TMPDIR', tmp); // the cluster's temp dir goes here, so the test can see it removed
      const ports: number[] = [];
      try {
        const error = await startRedisClusterOn(options, async () => {
          const port = await getFreePortPair(10_000);
          ports.push(port);
          return port;
        }).catch((caught: unknown) => caught);
        expect(error).toMatchObject({ code: 'ERR_TESTKIT_START_TIMEOUT', message: expect.stringContaining(hint) });
        expect(ports.length).toBeGreaterThan(0);
        for (const port of ports) expect(await isProcessListening(port)).toBe(false);
        expect(readdirSync(tmp)).toEqual([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  );

  it('rejects impossible shapes before starting anything', async () => {
    await expect(startRedisCluster({ masters: 0 })).rejects.toMatchObject({ code: 'ERR_TESTKIT_INVALID_OPTION' });
    await expect(startRedisCluster({ replicasPerMaster: 1.5 })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_INVALID_OPTION',
    });
  });
});
