import { afterEach, describe, expect, it, vi } from 'vitest';
import { launchChromium, startRedis, startRedisCluster } from '../src/index.ts';

describe('every helper', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([
    ['startRedis', () => startRedis()],
    ['startRedis (owned)', () => startRedis({ owned: true })],
    ['startRedisCluster', () => startRedisCluster()],
    ['launchChromium', () => launchChromium()],
  ])('%s refuses to start anything when NODE_ENV is production', async (_name, start) => {
    vi.stubEnv('NODE_ENV', 'production');
    await expect(start()).rejects.toMatchObject({ code: 'ERR_TESTKIT_PRODUCTION' });
  });
});
