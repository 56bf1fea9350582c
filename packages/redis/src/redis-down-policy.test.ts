import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisStoreError } from './errors.ts';
import { RedisCallGuard } from './redis-down-policy.ts';

const client = (status: string) => ({ status, connect: () => Promise.resolve() }) as unknown as Redis;

describe('RedisCallGuard', () => {
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

  it('times out exactly the calls that never answer, whatever the order answers come in, and ignores late answers', async () => {
    const guard = new RedisCallGuard(client('ready'), { timeoutMs: 20, failureThreshold: 1_000 });
    const late: (() => void)[] = [];
    const calls = Array.from({ length: 200 }, (_, i) =>
      guard
        .call(`op${i}`, () =>
          i % 3 === 0
            ? new Promise<number>((resolve) => late.push(() => resolve(i))) // answers only after the timeout
            : new Promise<number>((resolve) => setTimeout(() => resolve(i), (200 - i) % 7)),
        )
        .then(
          (value) => ({ i, value }),
          (error: RedisStoreError) => ({ i, code: error.code }),
        ),
    );
    const results = await Promise.all(calls);
    for (const answer of late) answer();
    for (const r of results) {
      expect(r).toEqual(r.i % 3 === 0 ? { i: r.i, code: 'ERR_REDIS_TIMEOUT' } : { i: r.i, value: r.i });
    }
    // After everything settled, later calls run normally (nothing left over from the timed-out ones).
    await expect(guard.call('after', () => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('counts the calls in flight until each is answered or timed out', async () => {
    const guard = new RedisCallGuard(client('ready'), { timeoutMs: 10 });
    let answer!: (value: string) => void;
    const answered = guard.call('a', () => new Promise<string>((resolve) => (answer = resolve)));
    const hung = guard.call('b', () => new Promise<string>(() => {})).catch((e: RedisStoreError) => e.code);
    expect(guard.inFlight).toBe(2);
    answer('ok');
    await expect(answered).resolves.toBe('ok');
    expect(guard.inFlight).toBe(1);
    await expect(hung).resolves.toBe('ERR_REDIS_TIMEOUT');
    expect(guard.inFlight).toBe(0);
  });
});
