import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalTier } from './local-tier.ts';

const entry = { v: '', e: 1_000, d: 0 };

describe('LocalTier', () => {
  it('refuses a value loaded before an invalidation of its key or one of its tags, and keeps one loaded after', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('k1', 'k2'),
        fc.subarray(['t1', 't2', 't3']),
        fc.record({ keys: fc.subarray(['k1', 'k2']), tags: fc.subarray(['t1', 't2', 't3']), all: fc.boolean() }),
        (key, tags, message) => {
          const tier = new LocalTier<number>(10, undefined, 0, () => true);
          const before = tier.ticket();
          tier.invalidate(message);
          const after = tier.ticket();
          tier.set(key, 1, entry, 0, tags, before);
          const touched = message.all || message.keys.includes(key) || tags.some((t) => message.tags.includes(t));
          expect(tier.get(key, 0)?.value).toBe(touched ? undefined : 1);
          tier.set(key, 2, entry, 0, tags, after);
          expect(tier.get(key, 0)?.value).toBe(2);
        },
      ),
    );
  });

  it('keeps a value read during the write message that announced that very entry, and no other', () => {
    const tier = new LocalTier<number>(10, undefined, 0, () => true);
    const ticket = tier.ticket();
    tier.invalidate({ keys: ['k'], w: 'pod-b.1' });
    tier.set('k', 0, { ...entry, w: 'pod-a.7' }, 0, [], ticket);
    expect(tier.get('k', 0)).toBeUndefined();
    tier.set('k', 1, { ...entry, w: 'pod-b.1' }, 0, [], ticket);
    expect(tier.get('k', 0)?.value).toBe(1);
  });

  it('forgets its marks past the cap by refusing every load begun before (never a stale value)', () => {
    const tier = new LocalTier<number>(10, undefined, 0, () => true);
    const before = tier.ticket();
    for (let i = 0; i <= 10_000; i++) tier.invalidate({ keys: [`other-${i}`] });
    tier.set('k', 1, entry, 0, [], before);
    expect(tier.get('k', 0)).toBeUndefined();
    tier.set('k', 1, entry, 0, [], tier.ticket());
    expect(tier.get('k', 0)?.value).toBe(1);
  });

  it('keeps nothing and serves nothing while invalidations cannot arrive', () => {
    let trusted = false;
    const tier = new LocalTier<number>(10, undefined, 0, () => trusted);
    tier.set('k', 1, entry, 0, [], tier.ticket());
    trusted = true;
    expect(tier.get('k', 0)).toBeUndefined();
  });

  it('expires sooner with an L1 TTL but keeps the entry’s expiry for XFetch', () => {
    const tier = new LocalTier<number>(10, 200, 0, () => true);
    tier.set('k', 1, { v: '', e: 60_000, d: 50 }, 0, [], tier.ticket());
    expect(tier.get('k', 0)).toMatchObject({ expiresAt: 200, entryExpiresAt: 60_000 });
  });
});
