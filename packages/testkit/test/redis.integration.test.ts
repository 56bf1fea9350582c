import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startRedis, type TestRedis } from '../src/index.ts';
import { isProcessListening } from './process-probe.ts';

const started: TestRedis[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(started.splice(0).map((r) => r.stop()));
});

async function owned(args?: readonly string[]): Promise<TestRedis> {
  const redis = await startRedis(args ? { owned: true, args } : { owned: true });
  started.push(redis);
  return redis;
}

describe('startRedis', () => {
  it('starts a private redis-server on a free loopback port with no persistence', async () => {
    const redis = await owned();
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(redis.external).toBe(false);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await client.connect();
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    client.disconnect();
  });

  it('gives two handles two different servers', async () => {
    const [a, b] = await Promise.all([owned(), owned()]);
    expect(a.port).not.toBe(b.port);
    expect(a.keyPrefix).not.toBe(b.keyPrefix);
  });

  it('restart() brings the server back, empty, on the same port', async () => {
    const redis = await owned();
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    await client.set('k', 'v');
    await redis.restart();
    expect(await client.get('k')).toBeNull();
    client.disconnect();
  });

  it('kill() stops the server so a test can watch Redis being down', async () => {
    const redis = await owned();
    await redis.kill();
    expect(await isProcessListening(redis.port)).toBe(false);
  });

  it('refuses args that would bind beyond loopback, before starting anything', async () => {
    await expect(startRedis({ owned: true, args: ['--maxmemory', '7mb', '--BIND', '0.0.0.0'] })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_NOT_LOOPBACK',
    });
  });

  it('refuses args that would override protected mode, the port or persistence', async () => {
    for (const args of [
      ['--protected-mode', 'no'],
      ['--Protected-Mode=no'],
      ['--port', '1'],
      ['--save', '1 1'],
      ['--dir', '.'],
    ]) {
      await expect(startRedis({ owned: true, args, startTimeoutMs: 2_000 })).rejects.toMatchObject({
        code: 'ERR_TESTKIT_INVALID_OPTION',
      });
    }
  });

  it('passes extra redis-server arguments', async () => {
    const redis = await owned(['--maxmemory', '7mb']);
    const client = new Redis(redis.url);
    expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(7 * 1024 * 1024)]);
    client.disconnect();
  });

  it('uses REDIS_URL when set, and stop() deletes only its own keys', async () => {
    const server = await owned();
    vi.stubEnv('REDIS_URL', server.url);
    const shared = await startRedis();
    expect(shared.external).toBe(true);
    expect(shared.url).toBe(server.url);
    const client = new Redis(server.url);
    await client.set(`${shared.keyPrefix}a`, '1');
    await client.set('someone-else', '2');
    await shared.stop();
    expect(await client.exists(`${shared.keyPrefix}a`)).toBe(0);
    expect(await client.get('someone-else')).toBe('2');
    await expect(shared.restart()).rejects.toMatchObject({ code: 'ERR_TESTKIT_INVALID_OPTION' });
    client.disconnect();
  });

  it('explains how to install redis-server when it is missing', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    await expect(startRedis({ owned: true })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_BINARY_NOT_FOUND',
      message: expect.stringContaining('apt-get install redis-server'),
    });
  });

  it('stop() removes the process and leaves no listener behind', async () => {
    const redis = await startRedis({ owned: true });
    await redis.stop();
    expect(await isProcessListening(redis.port)).toBe(false);
  });
});
