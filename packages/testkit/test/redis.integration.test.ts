import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { findExecutable } from '../src/binary.ts';
import { getFreePort } from '../src/free-port.ts';
import { startRedis, type TestRedis } from '../src/index.ts';
import { redisArgs, spawnRedisServer } from '../src/redis-server-process.ts';
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

  it('refuses args that would set a password, before starting anything', async () => {
    const started = Date.now();
    await expect(startRedis({ owned: true, args: ['--requirepass', 's3cr3t-pass'] })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_INVALID_OPTION',
      message: expect.stringContaining('--requirepass'),
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('refuses args that would write outside its temp dir', async () => {
    for (const args of [
      ['--logfile', '/tmp/x.log'],
      ['--unixsocket', '/tmp/x.sock', '--unixsocketperm', '777'],
    ]) {
      await expect(startRedis({ owned: true, args })).rejects.toMatchObject({ code: 'ERR_TESTKIT_INVALID_OPTION' });
    }
  });

  it('fails as a typed start failure, not an uncaught error, when redis-server cannot be executed', async () => {
    // A directory passes the executable check (X_OK) but spawn fails with EACCES.
    const bin = mkdtempSync(join(tmpdir(), 'rampart-bin-'));
    try {
      mkdirSync(join(bin, 'redis-server'));
      vi.stubEnv('PATH', bin);
      await expect(startRedis({ owned: true, startTimeoutMs: 3_000 })).rejects.toMatchObject({
        code: 'ERR_TESTKIT_START_FAILED',
        message: expect.stringContaining('could not be started'),
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('fails with ERR_TESTKIT_START_TIMEOUT, and stops the server, when it does not answer in time', async () => {
    const binary = findExecutable('redis-server');
    expect(binary).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'rampart-start-timeout-'));
    try {
      // The server listens on another port than the one watched, so it never answers there.
      const [watched, actual] = [await getFreePort(), await getFreePort()];
      const error = await spawnRedisServer(binary ?? '', watched, redisArgs(actual, dir), 300).catch(
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({
        code: 'ERR_TESTKIT_START_TIMEOUT',
        message: expect.stringContaining('raise startTimeoutMs'),
      });
      expect(await isProcessListening(actual)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
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

  it('on a REDIS_URL naming a database, a user and a password, stop() deletes its keys in that database', async () => {
    const server = await owned();
    const password = randomBytes(12).toString('hex');
    const admin = new Redis(server.url);
    await admin.acl('SETUSER', 'tester', 'on', `>${password}`, '~*', '+@all');
    await admin.config('SET', 'requirepass', randomBytes(12).toString('hex')); // the default user is locked out
    admin.disconnect();
    const url = `redis://tester:${password}@127.0.0.1:${server.port}/9`;
    vi.stubEnv('REDIS_URL', url);
    const shared = await startRedis();
    const client = new Redis(url);
    await client.set(`${shared.keyPrefix}a`, '1');
    await client.set('someone-else', '2');
    await shared.stop();
    expect(await client.exists(`${shared.keyPrefix}a`)).toBe(0);
    expect(await client.get('someone-else')).toBe('2');
    client.disconnect();
  });

  it('on a REDIS_URL whose password is refused, stop() fails with a typed error that does not echo it', async () => {
    const server = await owned();
    vi.stubEnv('REDIS_URL', `redis://tester:wr0ng-pass@127.0.0.1:${server.port}`);
    const shared = await startRedis();
    const error = await shared.stop().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_TESTKIT_INVALID_OPTION', message: expect.stringContaining('REDIS_URL') });
    expect(String((error as Error).message)).not.toContain('wr0ng-pass');
  });

  it('refuses a rediss: REDIS_URL, whose keys it could not clean up, without echoing the password', async () => {
    vi.stubEnv('REDIS_URL', 'rediss://tester:s3cr3t-pass@127.0.0.1:6380/2');
    const error = await startRedis().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_TESTKIT_INVALID_OPTION', message: expect.stringContaining('rediss:') });
    expect(String((error as Error).message)).not.toContain('s3cr3t-pass');
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
