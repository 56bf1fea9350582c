import type { ChildProcess } from 'node:child_process';
import { requireExecutable } from './binary.ts';
import { TestkitError } from './errors.ts';
import { getFreePortPair } from './free-port.ts';
import { makeManagedTempDir, removeManagedTempDir, terminate } from './process-registry.ts';
import { refuseInProduction } from './production-guard.ts';
import { REDIS_INSTALL_HINT } from './redis.ts';
import { redisArgs, spawnOnFreePort } from './redis-server-process.ts';
import { sendCommand } from './resp-client.ts';
import { waitFor } from './wait.ts';

const SLOTS = 16_384;
const CLUSTER_BUS_OFFSET = 10_000;

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of masters; the slots are split evenly. Default 3, minimum 1. */
  readonly masters?: number;
  /** Replicas per master. Default 0. */
  readonly replicasPerMaster?: number;
  /** How long to wait for `cluster_state:ok` on every node. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/** One node of a {@link TestRedisCluster}. */
export interface TestRedisClusterNode {
  readonly host: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
}

/** A running Redis Cluster on loopback ports. */
export interface TestRedisCluster {
  /** Every node, masters first. */
  readonly nodes: readonly TestRedisClusterNode[];
  /** The masters as `{ host, port }`, ready for `new Cluster(cluster.startupNodes)` (ioredis). */
  readonly startupNodes: readonly { host: string; port: number }[];
  /** A key prefix unique to this cluster handle (kept for parity with {@link startRedis}). */
  readonly keyPrefix: string;
  /** Stops every node and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster (3 masters by default, optional replicas) on free loopback ports, with
 * every slot assigned, and waits until each node reports `cluster_state:ok` and every replica has
 * finished its first sync (so `WAIT` counts it).
 *
 * @example
 * ```ts
 * import { startRedisCluster } from '@rampart/testkit';
 * import { Cluster } from 'ioredis';
 *
 * const cluster = await startRedisCluster();
 * const client = new Cluster([...cluster.startupNodes]);
 * await client.set('{user:1}:name', 'Ada');
 * await client.quit();
 * await cluster.stop();
 * ```
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<TestRedisCluster> {
  refuseInProduction('startRedisCluster');
  return startRedisClusterOn(options, () => getFreePortPair(CLUSTER_BUS_OFFSET));
}

/**
 * {@link startRedisCluster} with the node ports from `pickPort` (a free `port`, `port + 10000`
 * pair outside tests; a test passes a port it knows to be taken).
 */
export async function startRedisClusterOn(
  options: StartRedisClusterOptions,
  pickPort: () => Promise<number>,
): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  if (!Number.isInteger(masters) || masters < 1 || masters > 16) {
    throw new TestkitError('ERR_TESTKIT_INVALID_OPTION', 'masters must be an integer from 1 to 16.');
  }
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 3) {
    throw new TestkitError('ERR_TESTKIT_INVALID_OPTION', 'replicasPerMaster must be an integer from 0 to 3.');
  }
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const binary = requireExecutable('redis-server', REDIS_INSTALL_HINT);
  const dir = await makeManagedTempDir('redis-cluster');
  const processes: ChildProcess[] = [];
  const nodes: TestRedisClusterNode[] = [];

  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((child) => terminate(child)));
    processes.length = 0;
    await removeManagedTempDir(dir);
  };

  try {
    const total = masters * (1 + replicas);
    for (let i = 0; i < total; i++) {
      const { child, port } = await startNode(binary, dir, startTimeoutMs, pickPort);
      processes.push(child);
      nodes.push({ host: '127.0.0.1', port, role: i < masters ? 'master' : 'replica' });
    }

    // Assign the slots evenly to the masters.
    for (let m = 0; m < masters; m++) {
      const first = Math.floor((m * SLOTS) / masters);
      const last = Math.floor(((m + 1) * SLOTS) / masters) - 1;
      await sendCommand(nodes[m]!.port, ['CLUSTER', 'ADDSLOTSRANGE', first, last]);
    }
    // Introduce every node to the first.
    const first = nodes[0]!;
    for (const node of nodes.slice(1)) {
      await sendCommand(node.port, ['CLUSTER', 'MEET', first.host, first.port]);
    }
    await waitFor(
      async () => {
        for (const node of nodes) {
          const known = await sendCommand(node.port, ['CLUSTER', 'NODES']);
          if (typeof known !== 'string' || known.trim().split('\n').length < nodes.length) return false;
        }
        return true;
      },
      { timeoutMs: startTimeoutMs, what: 'every cluster node to know the others' },
    );
    // Attach replicas to their masters.
    for (let r = 0; r < masters * replicas; r++) {
      const master = nodes[r % masters]!;
      const masterId = await sendCommand(master.port, ['CLUSTER', 'MYID']);
      await sendCommand(nodes[masters + r]!.port, ['CLUSTER', 'REPLICATE', String(masterId)]);
    }
    await waitFor(
      async () => {
        for (const node of nodes) {
          const info = await sendCommand(node.port, ['CLUSTER', 'INFO']);
          if (typeof info !== 'string' || !info.includes('cluster_state:ok')) return false;
          const slotsOk = /cluster_slots_ok:(\d+)/.exec(info)?.[1];
          if (Number(slotsOk) !== SLOTS) return false;
          // A replica counts once its first sync is done: before that WAIT gets no acknowledgement.
          if (node.role === 'replica') {
            const replication = await sendCommand(node.port, ['INFO', 'replication']);
            if (typeof replication !== 'string' || !replication.includes('master_link_status:up')) return false;
          }
        }
        return true;
      },
      { timeoutMs: startTimeoutMs, what: 'cluster_state:ok on every node and every replica in sync' },
    );
  } catch (error) {
    await stop();
    if (error instanceof TestkitError && error.code === 'ERR_TESTKIT_WAIT_TIMEOUT') {
      throw new TestkitError(
        'ERR_TESTKIT_START_TIMEOUT',
        `the Redis Cluster did not form within ${startTimeoutMs} ms: raise startTimeoutMs on a slow machine.`,
        { cause: error },
      );
    }
    if (error instanceof TestkitError) throw error;
    throw new TestkitError('ERR_TESTKIT_START_FAILED', 'the Redis Cluster did not form.', { cause: error });
  }

  return {
    nodes,
    startupNodes: nodes.filter((n) => n.role === 'master').map(({ host, port }) => ({ host, port })),
    keyPrefix: `rampart-test:${process.pid}:cluster:${Date.now().toString(36)}:`,
    stop,
  };
}

/** Starts one cluster node, on a new port whenever the picked one is someone else's. */
async function startNode(
  binary: string,
  dir: string,
  startTimeoutMs: number,
  pickPort: () => Promise<number>,
): Promise<{ child: ChildProcess; port: number }> {
  return spawnOnFreePort(
    binary,
    pickPort,
    (port) => [
      ...redisArgs(port, dir, [
        '--cluster-node-timeout',
        '2000',
        '--cluster-require-full-coverage',
        'yes',
        // Replicas sync at once instead of after the default 5 s wait for more replicas.
        '--repl-diskless-sync-delay',
        '0',
      ]),
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
    ],
    startTimeoutMs,
  );
}
