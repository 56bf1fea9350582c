import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findExecutable } from '../src/binary.ts';
import { getFreePort } from '../src/free-port.ts';
import { terminate } from '../src/process-registry.ts';
import { startOwnedRedis, startRedis, type TestRedis } from '../src/redis.ts';
import { startRedisClusterOn, type TestRedisCluster } from '../src/redis-cluster.ts';
import { PortTakenError, redisBaseArgs, servesPort, spawnRedisServer } from '../src/redis-server-process.ts';
import { sendCommand } from '../src/resp-client.ts';

// A redis-server the code under test did not start, holding the port it is made to pick first.
const handles: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.stop()));
});

async function foreignRedis(): Promise<{ redis: TestRedis; pid: number }> {
  const redis = await startRedis({ owned: true });
  handles.push(redis);
  return { redis, pid: await serverPid(redis.port) };
}

async function serverPid(port: number): Promise<number> {
  const info = await sendCommand(port, ['INFO', 'server']);
  return Number(/process_id:(\d+)/.exec(String(info))?.[1]);
}

/** Answers `first`, then whatever `next` picks: forces a clash on the first attempt. */
function pickFirst(first: number, next: () => Promise<number>): () => Promise<number> {
  let picks = 0;
  return () => (picks++ === 0 ? Promise.resolve(first) : next());
}

describe('spawnRedisServer', () => {
  it('refuses a port where another redis-server answers PONG, and its child is gone', async () => {
    const foreign = await foreignRedis();
    const dir = await mkdtemp(join(tmpdir(), 'rampart-clash-'));
    try {
      const binary = findExecutable('redis-server') ?? 'redis-server';
      const port = foreign.redis.port;
      await expect(spawnRedisServer(binary, port, redisBaseArgs(port, dir), 10_000)).rejects.toBeInstanceOf(
        PortTakenError,
      );
      expect(await serverPid(port)).toBe(foreign.pid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('servesPort() tells its own server from a foreign one on the same port', async () => {
    const foreign = await foreignRedis();
    const dir = await mkdtemp(join(tmpdir(), 'rampart-clash-'));
    try {
      const binary = findExecutable('redis-server') ?? 'redis-server';
      const port = await getFreePort();
      const own = await spawnRedisServer(binary, port, redisBaseArgs(port, dir), 10_000);
      handles.push({ stop: () => terminate(own) });
      expect(await servesPort(own, port)).toBe(true);
      expect(await servesPort(own, foreign.redis.port)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('startRedis on a port another redis-server holds', () => {
  it('does not hand out the other server: it starts its own on a new port', async () => {
    const foreign = await foreignRedis();
    const redis = await startOwnedRedis({}, 'clash-test:', pickFirst(foreign.redis.port, getFreePort));
    handles.push(redis);
    expect(redis.port).not.toBe(foreign.redis.port);
    expect(await serverPid(redis.port)).not.toBe(foreign.pid);
    // The other server is untouched.
    expect(await serverPid(foreign.redis.port)).toBe(foreign.pid);
  });
});

describe('startRedisCluster on a port another redis-server holds', () => {
  it('starts every node on a port of its own', async () => {
    const foreign = await foreignRedis();
    const cluster: TestRedisCluster = await startRedisClusterOn(
      { masters: 1 },
      pickFirst(foreign.redis.port, async () => {
        // A pair whose bus port (port + 10000) is free too.
        for (;;) {
          const port = await getFreePort();
          if (port + 10_000 <= 65_535) return port;
        }
      }),
    );
    handles.push(cluster);
    expect(cluster.nodes.map((n) => n.port)).not.toContain(foreign.redis.port);
    const info = await sendCommand(cluster.nodes[0]!.port, ['CLUSTER', 'INFO']);
    expect(String(info)).toContain('cluster_state:ok');
    expect(await serverPid(foreign.redis.port)).toBe(foreign.pid);
  });
});
