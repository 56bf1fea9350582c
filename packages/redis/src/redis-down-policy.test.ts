import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisStoreError } from './errors.ts';
import { RedisCallGuard } from './redis-down-policy.ts';

const client = (status: string) => ({ status, connect: () => Promise.resolve() }) as unknown as Redis;

/**
 * Puts the guard's clock (`performance.now` from node:perf_hooks) and its ticker (`setInterval`)
 * on one fake timeline that only the test advances, so what times out, and when, never depends on
 * how busy the machine is. Restored after each test (`restoreMocks`, `vi.useRealTimers`).
 */
function useFakeClock(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  // Fake timers replace the global `performance`; the guard reads the node:perf_hooks one.
  vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
}

/**
 * For tests about something other than the timeout: far beyond any pause a loaded machine makes,
 * so a slow run cannot turn an answer into ERR_REDIS_TIMEOUT (the default, 50 ms, is not).
 */
const NO_TIMEOUT = { timeoutMs: 60_000 } as const;

describe('RedisCallGuard', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses at once when the client is not connected, without calling Redis', async () => {
    let called = false;
    const guard = new RedisCallGuard(client('reconnecting'));
    const error = await guard
      .call('op', async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
    expect(called).toBe(false);
  });

  it('gives up on a call that never settles with ERR_REDIS_TIMEOUT', async () => {
    const guard = new RedisCallGuard(client('ready'), { timeoutMs: 5 });
    await expect(guard.call('op', () => new Promise(() => {}))).rejects.toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
  });

  it('opens the circuit after repeated timeouts and skips Redis during the cool-down', async () => {
    const guard = new RedisCallGuard(client('ready'), { timeoutMs: 1, failureThreshold: 2, cooldownMs: 60_000 });
    for (let i = 0; i < 2; i++) await guard.call('op', () => new Promise(() => {})).catch(() => {});
    expect(guard.open).toBe(true);
    let called = false;
    await expect(
      guard.call('op', async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(RedisStoreError);
    expect(called).toBe(false);
  });

  it('wraps a failed call without putting the cause into the message', async () => {
    const guard = new RedisCallGuard(client('ready'));
    const error = (await guard
      .call('op', () => Promise.reject(new Error('WRONGTYPE secret-value')))
      .catch((e: unknown) => e)) as RedisStoreError;
    expect(error.code).toBe('ERR_REDIS_UNAVAILABLE');
    expect(error.message).not.toContain('secret-value');
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('keeps the failed command and its arguments out of the cause', async () => {
    const guard = new RedisCallGuard(client('ready'));
    const reply = Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), {
      name: 'ReplyError',
      command: { name: 'set', args: ['rampart:once:key-1', 'stored-secret-value'] },
    });
    const error = (await guard.call('op', () => Promise.reject(reply)).catch((e: unknown) => e)) as RedisStoreError;
    const cause = error.cause as Error & { command?: unknown };
    expect(cause).toMatchObject({ name: 'ReplyError', message: reply.message });
    expect(cause.command).toBeUndefined();
    expect(inspect(error, { depth: 10 })).not.toContain('stored-secret-value');
    expect(inspect(error, { depth: 10 })).not.toContain('key-1');
  });

  it('times out exactly the calls that never answer, whatever the order answers come in, and ignores late answers', async () => {
    useFakeClock();
    const timeoutMs = 20;
    const guard = new RedisCallGuard(client('ready'), { timeoutMs, failureThreshold: 1_000 });
    const late: (() => void)[] = [];
    type Outcome = { i: number; value: number } | { i: number; code: string };
    const settled: Outcome[] = [];
    const calls = Array.from({ length: 200 }, (_, i) =>
      guard
        .call(`op${i}`, () =>
          i % 3 === 0
            ? new Promise<number>((resolve) => late.push(() => resolve(i))) // answers only after the timeout
            : // answers out of call order, up to the last millisecond before the deadline
              new Promise<number>((resolve) => setTimeout(() => resolve(i), timeoutMs - 1 - ((200 - i) % 7))),
        )
        .then(
          (value): Outcome => ({ i, value }),
          (error: RedisStoreError): Outcome => ({ i, code: error.code }),
        )
        .then((outcome) => {
          settled.push(outcome);
          return outcome;
        }),
    );
    // Until the deadline every call has its full timeoutMs: nothing has timed out, every answer counted.
    await vi.advanceTimersByTimeAsync(timeoutMs - 1);
    expect(settled.filter((r) => 'code' in r)).toEqual([]);
    expect(settled).toHaveLength(200 - late.length);
    // The ticker times a call out within one tick (at most 10 ms) after its deadline.
    await vi.advanceTimersByTimeAsync(1 + 10);
    expect(settled).toHaveLength(200);
    const results = await Promise.all(calls);
    for (const answer of late) answer();
    await vi.advanceTimersByTimeAsync(0);
    for (const r of results) {
      expect(r).toEqual(r.i % 3 === 0 ? { i: r.i, code: 'ERR_REDIS_TIMEOUT' } : { i: r.i, value: r.i });
    }
    // The late answers changed nothing: no call counted twice, and later calls run normally.
    expect(guard.inFlight).toBe(0);
    await expect(guard.call('after', () => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('counts the calls in flight until each is answered or timed out', async () => {
    useFakeClock();
    const guard = new RedisCallGuard(client('ready'), { timeoutMs: 10 });
    let answer!: (value: string) => void;
    const answered = guard.call('a', () => new Promise<string>((resolve) => (answer = resolve)));
    const hung = guard.call('b', () => new Promise<string>(() => {})).catch((e: RedisStoreError) => e.code);
    expect(guard.inFlight).toBe(2);
    answer('ok');
    await expect(answered).resolves.toBe('ok');
    expect(guard.inFlight).toBe(1);
    await vi.advanceTimersByTimeAsync(10 + 10);
    await expect(hung).resolves.toBe('ERR_REDIS_TIMEOUT');
    expect(guard.inFlight).toBe(0);
  });

  describe('send', () => {
    /** A connected client that keeps every command it is sent, unanswered. */
    const holding = () => {
      const sent: { name: string; args: unknown[]; resolve(v: unknown): void; reject(e: unknown): void }[] = [];
      const c = {
        status: 'ready',
        options: {},
        sendCommand(command: (typeof sent)[number] & { promise: Promise<unknown> }) {
          sent.push(command);
          return command.promise;
        },
      } as unknown as Redis;
      return { c, sent };
    };

    it('sends the command at once and maps the reply', async () => {
      const { c, sent } = holding();
      const guard = new RedisCallGuard(c, NO_TIMEOUT);
      const answer = guard.send('op', 'set', ['k', 'v'], (r) => r === 'OK');
      expect(sent.map((s) => [s.name, s.args])).toEqual([['set', ['k', 'v']]]);
      sent[0]!.resolve('OK');
      await expect(answer).resolves.toBe(true);
      expect(guard.inFlight).toBe(0);
    });

    it('times out a command Redis never answers, and ignores the answer that comes later', async () => {
      const { c, sent } = holding();
      const guard = new RedisCallGuard(c, { timeoutMs: 10 });
      const answer = guard.send('op', 'get', ['k'], (r) => r);
      await expect(answer).rejects.toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
      sent[0]!.resolve('late');
      expect(guard.inFlight).toBe(0);
    });

    it('sends EVAL once after NOSCRIPT, within the same call', async () => {
      const { c, sent } = holding();
      const guard = new RedisCallGuard(c, NO_TIMEOUT);
      const script = { name: 's', lua: 'return 1', sha1: 'a'.repeat(40) };
      const answer = guard.sendScript('op', script, ['k'], ['x'], (r) => r);
      sent[0]!.reject(new Error('NOSCRIPT No matching script.'));
      await waitForSent(sent, 2);
      expect([sent[1]!.name, sent[1]!.args]).toEqual(['eval', ['return 1', '1', 'k', 'x']]);
      sent[1]!.resolve(1);
      await expect(answer).resolves.toBe(1);
    });

    it('rejects with the store error when the reply cannot be mapped, without counting it against Redis', async () => {
      const { c, sent } = holding();
      const guard = new RedisCallGuard(c, { ...NO_TIMEOUT, failureThreshold: 2 });
      for (let i = 0; i < 3; i++) {
        const answer = guard.send('op', 'get', ['k'], () => {
          throw new Error('unexpected reply secret-value');
        });
        sent[i]!.resolve('x');
        const error = (await answer.catch((e: unknown) => e)) as RedisStoreError;
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error.code).toBe('ERR_REDIS_UNAVAILABLE');
        expect(error.message).not.toContain('secret-value');
      }
      expect(guard.inFlight).toBe(0);
      expect(guard.open).toBe(false);
    });

    it('fails the call when the EVAL after NOSCRIPT fails too, and sends no third command', async () => {
      const { c, sent } = holding();
      const guard = new RedisCallGuard(c, NO_TIMEOUT);
      const script = { name: 's', lua: 'return 1', sha1: 'a'.repeat(40) };
      const answer = guard.sendScript('op', script, ['k'], [], (r) => r).catch((e: RedisStoreError) => e);
      sent[0]!.reject(new Error('NOSCRIPT No matching script.'));
      await waitForSent(sent, 2);
      sent[1]!.reject(new Error('NOSCRIPT again'));
      expect(((await answer) as RedisStoreError).code).toBe('ERR_REDIS_UNAVAILABLE');
      await waitForSent(sent, 3);
      expect(sent).toHaveLength(2);
      expect(guard.inFlight).toBe(0);
    });

    it('turns a client that throws, or an error reply, into ERR_REDIS_UNAVAILABLE without the reply text', async () => {
      const throwing = {
        status: 'ready',
        options: {},
        sendCommand() {
          throw new Error('boom secret-value');
        },
      } as unknown as Redis;
      await expect(new RedisCallGuard(throwing).send('op', 'get', ['k'], (r) => r)).rejects.toMatchObject({
        code: 'ERR_REDIS_UNAVAILABLE',
      });
      const { c, sent } = holding();
      const answer = new RedisCallGuard(c, NO_TIMEOUT)
        .send('op', 'get', ['k'], (r) => r)
        .catch((e: RedisStoreError) => e);
      sent[0]!.reject(new Error('WRONGTYPE secret-value'));
      const error = (await answer) as RedisStoreError;
      expect(error.code).toBe('ERR_REDIS_UNAVAILABLE');
      expect(error.message).not.toContain('secret-value');
    });
  });
});

async function waitForSent(sent: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 100 && sent.length < n; i++) await new Promise((r) => setImmediate(r));
}
