import * as crypto from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startVaultDevServer } from '../src/index.ts';

// The comparison itself is what this file checks: a `!==` answers sooner the earlier a guess
// differs from the token, which is observable across the loopback.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const server = await startVaultDevServer();
afterAll(() => server.stop());

describe('startVaultDevServer', () => {
  it('compares the presented token in constant time, as equal-length digests', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    const denied = await fetch(`${server.addr}/v1/transit/keys/k`, { headers: { 'X-Vault-Token': 'hvs.x' } });
    expect(denied.status).toBe(403);
    const allowed = await fetch(`${server.addr}/v1/transit/keys/k`, {
      method: 'POST',
      headers: { 'X-Vault-Token': server.token },
      body: '{}',
    });
    expect(allowed.status).toBeLessThan(300);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
    expect(spy.mock.results.map((r) => r.value)).toEqual([false, true]);
  });
});
