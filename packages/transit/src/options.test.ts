import { describe, expect, it } from 'vitest';
import { createTransit } from './transit.ts';

const vault = { write: async () => ({}), read: async () => ({}) };

describe('createTransit', () => {
  it('lists every problem with the options at once', () => {
    try {
      createTransit({
        vault: {} as never,
        key: 'bad key!',
        mount: '/x/',
        cache: { maxAgeMs: 0, maxMessages: 2 ** 31 },
        batchSize: 0,
        batchConcurrency: 0,
      } as never);
      expect.unreachable();
    } catch (error) {
      expect((error as { code: string }).code).toBe('ERR_TRANSIT_INVALID_OPTIONS');
      const message = (error as Error).message;
      for (const name of [
        'vault:',
        'options.key',
        'options.mount',
        'cache.maxAgeMs',
        'cache.maxMessages',
        'batchSize',
        'batchConcurrency',
      ]) {
        expect(message).toContain(name);
      }
    }
  });

  it.each(['..', '../sys', 'transit/..', 'a/./b', '/transit', 'transit/', 'a//b'])(
    'refuses the mount path %j, which would lead requests out of the mount',
    (mount) => {
      for (const options of [{ mount }, { acceptKeys: [{ key: 'k2', mount }] }]) {
        expect(() => createTransit({ vault, key: 'k', cache: { maxAgeMs: 1000 }, ...options })).toThrowError(
          expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_OPTIONS', message: expect.stringContaining('.mount') }),
        );
      }
    },
  );

  it.each(['transit', 'team/transit', 'transit.v2', 'a..b/c'])('accepts the mount path %j', (mount) => {
    expect(() => createTransit({ vault, key: 'k', mount, cache: { maxAgeMs: 1000 } })).not.toThrow();
  });

  it.each(['team\u00e9-a', 'team\u2028a', 'team-a\r\nX-Injected: 1', 'team a', 'a\u0000', 'admin ', '\tadmin'])(
    'refuses the namespace %j, which no Vault namespace path holds, at construction',
    (namespace) => {
      expect(() => createTransit({ vault, key: 'k', namespace, cache: { maxAgeMs: 1000 } })).toThrowError(
        expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_OPTIONS', message: expect.stringContaining('namespace') }),
      );
    },
  );

  it.each(['team-a', 'admin/team_a', 'ns1/ns2.v2'])('accepts the namespace %j', (namespace) => {
    expect(() => createTransit({ vault, key: 'k', namespace, cache: { maxAgeMs: 1000 } })).not.toThrow();
  });

  it.each([0, -1, 1.5, 65, Number.NaN, '4'])('refuses batchConcurrency %j', (batchConcurrency) => {
    expect(() => createTransit({ vault, key: 'k', cache: { maxAgeMs: 1000 }, batchConcurrency } as never)).toThrowError(
      expect.objectContaining({
        code: 'ERR_TRANSIT_INVALID_OPTIONS',
        message: expect.stringContaining('batchConcurrency: 1 to 64'),
      }),
    );
    expect(() => createTransit({ vault, key: 'k', cache: { maxAgeMs: 1000 }, batchConcurrency: 64 })).not.toThrow();
  });

  it('requires cache.maxAgeMs', () => {
    expect(() => createTransit({ vault, key: 'k' } as never)).toThrowError(/cache: required/);
  });

  it('opens no connection and makes no call when created', () => {
    let calls = 0;
    const counting = {
      write: async () => {
        calls += 1;
      },
      read: async () => {
        calls += 1;
      },
    };
    createTransit({ vault: counting, key: 'k', cache: { maxAgeMs: 1000 } });
    expect(calls).toBe(0);
  });

  it('prints without secrets', () => {
    const transit = createTransit({ vault, key: 'k', cache: { maxAgeMs: 1000 } });
    expect(JSON.stringify(transit)).toBe('{"mount":"transit","key":"k"}');
  });

  it('refuses a tenantBinding.contextKey with a lone surrogate, which no context key can match', () => {
    expect(() =>
      createTransit({ vault, key: 'k', cache: { maxAgeMs: 1000 }, tenantBinding: { contextKey: 'tenant\ud800' } }),
    ).toThrowError(
      expect.objectContaining({
        code: 'ERR_TRANSIT_INVALID_OPTIONS',
        message: expect.stringContaining('tenantBinding.contextKey'),
      }),
    );
  });
});
