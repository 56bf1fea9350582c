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
});
