import { describe, expect, it } from 'vitest';
import { type CacheAuditRow, CacheRegistry } from './cache-registry.ts';

const store = (row: Partial<CacheAuditRow> & { name: string }) => ({
  name: row.name,
  audit: (): CacheAuditRow => ({
    kind: 'SharedCache',
    class: 'pod',
    reason: 'memoized pure function',
    backing: 'l1',
    size: 0,
    maxSize: 100,
    ...row,
  }),
});

describe('CacheRegistry', () => {
  it('prints the audit table sorted by name, escaping pipes in reasons', () => {
    const registry = new CacheRegistry();
    registry.register(store({ name: 'tokens', size: 3 }));
    registry.register(
      store({
        name: 'jwks',
        class: 'cluster',
        backing: 'l1+redis',
        reason: 'rotation | every pod',
        kind: 'SharedCache',
      }),
    );
    registry.register(store({ name: 'jwks', kind: 'ReplayGuard', backing: 'redis', maxSize: undefined }));
    expect(registry.table()).toBe(
      [
        '| name | kind | class | backing | size | max | reason |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        '| jwks | ReplayGuard | pod | redis | 0 | - | memoized pure function |',
        '| jwks | SharedCache | cluster | l1+redis | 0 | 100 | rotation \\| every pod |',
        '| tokens | SharedCache | pod | l1 | 3 | 100 | memoized pure function |',
      ].join('\n'),
    );
  });

  it('refuses a second store of the same kind and name, until the first unregisters', () => {
    const registry = new CacheRegistry();
    const unregister = registry.register(store({ name: 'a' }));
    expect(() => registry.register(store({ name: 'a' }))).toThrow(
      expect.objectContaining({ code: 'ERR_REDIS_INVALID_OPTIONS' }),
    );
    unregister();
    expect(() => registry.register(store({ name: 'a' }))).not.toThrow();
  });
});
