import { performance } from 'node:perf_hooks';
import { startRedis, type TestRedis, waitFor } from '@rampart/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheRegistry, type RedisClient, ReplayGuard } from '../src/index.ts';
import { NextReadyQueue } from '../src/next-ready-queue.ts';
import { FORGET_OWN_LUA } from '../src/replay-attempt.ts';
import { startRedisProxy } from './fixtures/redis-proxy.ts';

/**
 * A TCP proxy in front of a real Redis that passes everything through, except that once armed it
 * holds the next `SET` a client writes (never forwards it) and resets that client's socket 20 ms
 * later: the SET is left without an answer, so ioredis keeps it and resends it after reconnecting
 * (`autoResendUnfulfilledCommands`).
 */
interface HoldingProxy {
  readonly port: number;
  /** Hold the next SET and reset its connection; resolves once the socket was reset. */
  holdNextSet(): Promise<void>;
  /** While true, every new connection is closed at once (Redis looks down). */
  refuse: boolean;
  stop(): Promise<void>;
}

/** A `SET` command at the start of a chunk a client wrote (RESP array of bulk strings). */
const SET_CALL = /^\*\d+\r\n\$3\r\nset\r\n/i;

async function startHoldingProxy(target: { host: string; port: number }): Promise<HoldingProxy> {
  let armed: (() => void) | undefined;
  const state = { refuse: false };
  const proxy = await startRedisProxy(
    target,
    (chunk, client, upstream) => {
      const reset = armed;
      if (reset !== undefined && SET_CALL.test(chunk.toString('latin1', 0, 32))) {
        armed = undefined;
        const timer = setTimeout(() => {
          client.resetAndDestroy();
          upstream.destroy();
          reset();
        }, 20);
        timer.unref();
        return;
      }
      upstream.write(chunk);
    },
    () => !state.refuse,
  );
  return {
    port: proxy.port,
    get refuse() {
      return state.refuse;
    },
    set refuse(value: boolean) {
      state.refuse = value;
    },
    holdNextSet: () =>
      new Promise<void>((resolve) => {
        armed = resolve;
      }),
    stop: async () => {
      armed = undefined;
      await proxy.stop();
    },
  };
}

let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${++counter}`;

// ReplayGuard.attempt().forget() while the client reconnects: the check's SET is resent by ioredis
// after the reconnect, so a forget refused meanwhile must still release the record, after that SET.
describe('ReplayGuard.attempt forget while the client reconnects', () => {
  let server: TestRedis;
  let proxy: HoldingProxy;
  let admin: Redis;
  const clients: RedisClient[] = [];
  const guards: ReplayGuard[] = [];

  beforeAll(async () => {
    server = await startRedis({ owned: true });
    proxy = await startHoldingProxy({ host: server.host, port: server.port });
    admin = new Redis(server.url, { enableOfflineQueue: false });
    admin.on('error', () => {});
    await waitFor(() => admin.status === 'ready', { timeoutMs: 10_000, what: 'the admin client to be ready' });
  });
  afterEach(() => {
    for (const g of guards.splice(0)) g.close();
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(async () => {
    admin?.disconnect();
    await proxy?.stop();
    await server?.stop();
  });

  /** A client through the proxy that reconnects after 250 ms (the reported probe used 100 ms; more leaves room under load). */
  const throughProxy = async (retryStrategy: () => number | null = () => 250): Promise<Redis> => {
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, enableOfflineQueue: false, retryStrategy });
    client.on('error', () => {});
    clients.push(client);
    await waitFor(() => client.status === 'ready', { timeoutMs: 10_000, what: 'the proxied client to be ready' });
    return client;
  };

  const guardOn = (
    redis: RedisClient,
    extra: { name?: string; timeoutMs?: number; wait?: { replicas: number; timeoutMs: number } } = {},
  ) => {
    const g = new ReplayGuard({
      redis,
      name: unique('late-forget'),
      ttlMs: 60_000,
      timeoutMs: 50,
      registry: new CacheRegistry(),
      ...extra,
    });
    guards.push(g);
    return g;
  };

  /**
   * Holds the next SET `client` writes and resets its connection; resolves once `client` itself has
   * seen the reset (its `close`: it is reconnecting). The proxy's reset is a timer in this process:
   * under load it, or the check's 50 ms timeout, can run before the client reads its socket, and
   * the client is then still 'ready' (a forget would be sent, not refused). Arms the proxy at once.
   */
  const holdNextSetAndReset = async (client: RedisClient): Promise<void> => {
    // Not events.once: it rejects on the 'error' the reset also emits.
    const lost = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await proxy.holdNextSet();
    await lost;
  };

  /** Whether `promise` settles before the next turn of the event loop: without waiting for I/O or a timer. */
  const settlesAtOnce = (promise: Promise<unknown>): Promise<boolean> =>
    Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);

  /** Check, see the SET held and the socket reset, forget at once; returns the forget's outcome. */
  const checkHeldThenForget = async (g: ReplayGuard, id: string, client: RedisClient) => {
    const attempt = g.attempt(id);
    const reset = holdNextSetAndReset(client);
    const checked = attempt.check().catch((e: unknown) => e);
    await reset;
    expect(await checked).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    expect(client.status).not.toBe('ready');
    const forgot = attempt.forget().catch((e: unknown) => e);
    const atOnce = await settlesAtOnce(forgot);
    return { outcome: await forgot, atOnce };
  };

  it('releases the record the resent SET makes once the client is ready again, and a retry is first time', async () => {
    const client = await throughProxy();
    const g = guardOn(client);
    const key = `rampart:replay:${g.name}:secret-delivery`;
    const { outcome, atOnce } = await checkHeldThenForget(g, 'secret-delivery', client);
    // Refused at once (the receiver answers 503 without waiting for the reconnect)...
    expect(outcome).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
    expect((outcome as Error).message).not.toContain('secret-delivery');
    expect(atOnce).toBe(true);
    // ...and the release is sent on the next ready, after ioredis's resend of the SET.
    await waitFor(() => client.status === 'ready', { timeoutMs: 10_000, what: 'the client to reconnect' });
    // Answered only after every command sent before it on that connection: the SET, then the forget.
    await client.ping();
    expect(await admin.exists(key)).toBe(0);
    expect(await g.attempt('secret-delivery').check()).toBe(true);
  });

  it("leaves another pod's record that was made while the client reconnected", async () => {
    const client = await throughProxy();
    const g = guardOn(client);
    // Only g's held SET is meant to time out: the other calls get room for a loaded machine.
    const other = guardOn(admin, { name: g.name, timeoutMs: 10_000 });
    const held = other.attempt('taken');
    const reset = holdNextSetAndReset(client);
    const mine = g.attempt('taken');
    const checked = mine.check().catch((e: unknown) => e);
    await reset;
    // Another pod records the id before the resent SET lands: that SET NX leaves it as it is.
    expect(await held.check()).toBe(true);
    expect(await checked).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    await expect(mine.forget()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    await waitFor(() => client.status === 'ready', { timeoutMs: 10_000, what: 'the client to reconnect' });
    // Answered only after every command sent before it on that connection, the late forget included.
    await client.ping();
    expect(await guardOn(client, { name: g.name, timeoutMs: 10_000 }).attempt('taken').check()).toBe(false);
    expect(await held.forget()).toBe(true);
  });

  it('keeps one ready listener for any number of forgets refused during one reconnect, and none after', async () => {
    const client = await throughProxy();
    const g = guardOn(client);
    const listeners = client.listenerCount('ready');
    const attempts = Array.from({ length: 30 }, (_, i) => g.attempt(`many-${i}`));
    const reset = holdNextSetAndReset(client);
    const checks = attempts.map((a) => a.check().catch((e: unknown) => e));
    await reset;
    await Promise.all(checks);
    const forgets = await Promise.all(attempts.map((a) => a.forget().catch((e: unknown) => e)));
    for (const f of forgets) expect(f).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    expect(client.listenerCount('ready')).toBe(listeners + 1);
    await waitFor(() => client.status === 'ready', { timeoutMs: 10_000, what: 'the client to reconnect' });
    await waitFor(() => client.listenerCount('ready') === listeners, {
      timeoutMs: 5_000,
      what: 'the ready listener to be removed',
    });
    await client.ping();
    const left = await Promise.all(attempts.map((_, i) => admin.exists(`rampart:replay:${g.name}:many-${i}`)));
    expect(left).toEqual(attempts.map(() => 0));
  });

  it('drops the pending releases and their listeners when the client is closed for good', async () => {
    let closing = false;
    const client = await throughProxy(() => (closing ? null : 250));
    const g = guardOn(client);
    const ready = client.listenerCount('ready');
    const end = client.listenerCount('end');
    await checkHeldThenForget(g, 'closed-for-good', client);
    expect(client.listenerCount('ready')).toBe(ready + 1);
    expect(client.listenerCount('end')).toBe(end + 1);
    // The reconnect fails and the retry strategy gives up: the client ends, its commands failed.
    proxy.refuse = true;
    closing = true;
    try {
      await waitFor(() => client.status === 'end', { timeoutMs: 10_000, what: 'the client to end' });
    } finally {
      proxy.refuse = false;
    }
    expect(client.listenerCount('ready')).toBe(ready);
    expect(client.listenerCount('end')).toBe(end);
    // An ended client gets nothing scheduled.
    await expect(g.attempt('after-end').forget()).resolves.toBe(false);
    const late = g.attempt('after-end');
    await late.check().catch(() => undefined);
    await expect(late.forget()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    expect(client.listenerCount('ready')).toBe(ready);
  });

  it('drops the pending releases after their window when the client never gets ready', async () => {
    const client = await throughProxy();
    // The late forgets' queue with a short window (theirs is LATE_FORGET_WINDOW_MS, 60 s: pinned by
    // src/replay-attempt.test.ts).
    const forgets = new NextReadyQueue<string>({
      windowMs: 200,
      run: (c, tokens) => {
        for (const token of tokens) (c as Redis).eval(FORGET_OWN_LUA, 1, 'rampart:replay:never', token).catch(() => {});
      },
    });
    const ready = client.listenerCount('ready');
    const end = client.listenerCount('end');
    proxy.refuse = true;
    try {
      client.disconnect(true);
      await waitFor(() => client.status === 'reconnecting', { timeoutMs: 5_000, what: 'the client to reconnect' });
      const started = performance.now();
      expect(forgets.add(client, 'token.1')).toBe(true);
      expect(forgets.add(client, 'token.2')).toBe(true);
      expect(client.listenerCount('ready')).toBe(ready + 1);
      await waitFor(() => client.listenerCount('ready') === ready && client.listenerCount('end') === end, {
        timeoutMs: 5_000,
        what: 'the pending releases to be dropped',
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(200);
      expect(client.status).not.toBe('ready');
    } finally {
      proxy.refuse = false;
    }
  });

  /** A wait guard on `client`, and the connection of its own it duplicates from `client` (private to it). */
  const waitGuardOn = (client: Redis): { g: ReplayGuard; own: Redis } => {
    const duplicate = client.duplicate.bind(client);
    let own: Redis | undefined;
    client.duplicate = (...args: Parameters<Redis['duplicate']>): Redis => {
      own = duplicate(...args);
      return own;
    };
    const g = guardOn(client, { wait: { replicas: 1, timeoutMs: 100 } });
    if (own === undefined) throw new Error('the guard did not duplicate the client');
    return { g, own };
  };

  /**
   * Gets a wait guard's own connection ready and idle: checks until one is answered (no replica
   * here: ERR_REDIS_NOT_REPLICATED). Under load a check can time out (the 50 ms limit) while its
   * SET or WAIT is still on the connection; the PING is answered after them, so nothing of the
   * warm-up is left to answer a later check.
   */
  const warmUp = async (g: ReplayGuard, own: Redis): Promise<void> => {
    let round = 0;
    await waitFor(
      async () =>
        (await g
          .attempt(`warm-up-${++round}`)
          .check()
          .catch((e: { code?: string }) => e.code)) === 'ERR_REDIS_NOT_REPLICATED',
      { timeoutMs: 10_000, what: "the wait guard's own connection to answer a check" },
    );
    await own.ping();
  };

  it("drops a wait guard's pending releases and their listener when the guard is closed", async () => {
    const client = await throughProxy();
    const { g, own } = waitGuardOn(client);
    await warmUp(g, own);
    const listeners = own.listenerCount('ready');
    const attempt = g.attempt('closing');
    const reset = holdNextSetAndReset(own);
    const checked = attempt.check().catch((e: unknown) => e);
    await reset;
    expect(await checked).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    await expect(attempt.forget()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    expect(own.listenerCount('ready')).toBe(listeners + 1);
    g.close();
    expect(own.listenerCount('ready')).toBe(listeners);
    await expect(attempt.forget()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
  });

  it("releases the record on a wait guard's own connection once it is ready again", async () => {
    const client = await throughProxy();
    const { g, own } = waitGuardOn(client);
    const key = `rampart:replay:${g.name}:own-connection`;
    // The guard's own connection (a duplicate through the proxy) is ready after its first answered check.
    await warmUp(g, own);
    const attempt = g.attempt('own-connection');
    const reset = holdNextSetAndReset(own);
    const checked = attempt.check().catch((e: unknown) => e);
    await reset;
    expect(await checked).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    const forgot = attempt.forget().catch((e: unknown) => e);
    expect(await settlesAtOnce(forgot)).toBe(true);
    expect(await forgot).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    // The caller's client was never disturbed: only the guard's own connection reconnects.
    expect(client.status).toBe('ready');
    // Until the own connection is back a check is refused at once; the first one it takes is
    // answered after the late forget (sent on its ready, before this check's WAIT).
    let probes = 0;
    await waitFor(
      async () => {
        const probe = await g
          .attempt(`probe-${++probes}`)
          .check()
          .catch((e: { code?: string }) => e.code);
        return probe === 'ERR_REDIS_NOT_REPLICATED';
      },
      { timeoutMs: 10_000, what: "the guard's own connection to reconnect" },
    );
    expect(await admin.exists(key)).toBe(0);
    await expect(g.attempt('own-connection').check()).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
  });
});
