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
          const before = tier.ticket(key);
          tier.invalidate(message);
          const after = tier.ticket(key);
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
    const ticket = tier.ticket('k');
    tier.invalidate({ keys: ['k'], w: 'pod-b.1' });
    tier.set('k', 0, { ...entry, w: 'pod-a.7' }, 0, [], ticket);
    expect(tier.get('k', 0)).toBeUndefined();
    tier.set('k', 1, { ...entry, w: 'pod-b.1' }, 0, [], ticket);
    expect(tier.get('k', 0)?.value).toBe(1);
  });

  it('keeps no mark for a key nobody is loading, so a load survives any number of writes to other keys', () => {
    const tier = new LocalTier<number>(10, undefined, 0, () => true);
    const ticket = tier.ticket('k');
    for (let i = 0; i <= 20_000; i++) tier.invalidate({ keys: [`other-${i}`], w: `pod-b.${i}` });
    expect(tier.marks).toBe(0);
    tier.set('k', 1, entry, 0, [], ticket);
    expect(tier.get('k', 0)?.value).toBe(1);
    tier.invalidate({ keys: ['k'] });
    expect(tier.marks).toBe(1);
    tier.release(ticket, 'k');
    expect(tier.marks).toBe(0); // the last ticket for the key took its mark with it
  });

  it('drops tag marks older than every ticket held, and past the cap refuses only loads begun before', () => {
    const tier = new LocalTier<number>(10, undefined, 0, () => true);
    for (let i = 0; i < 20_000; i++) tier.invalidate({ tags: [`t-${i}`] });
    expect(tier.marks).toBeLessThanOrEqual(1); // nobody held a ticket
    const before = tier.ticket('k');
    for (let i = 0; i <= 10_000; i++) tier.invalidate({ tags: [`u-${i}`] });
    expect(tier.marks).toBeLessThanOrEqual(10_000);
    tier.set('k', 1, entry, 0, [], before);
    expect(tier.get('k', 0)).toBeUndefined(); // it may have carried a forgotten tag
    const after = tier.ticket('k');
    tier.set('k', 1, entry, 0, [], after);
    expect(tier.get('k', 0)?.value).toBe(1);
    tier.release(before, 'k');
    tier.release(after, 'k');
    tier.invalidate({ tags: ['v'] });
    expect(tier.marks).toBe(1);
  });

  it('keeps nothing and serves nothing while invalidations cannot arrive', () => {
    let trusted = false;
    const tier = new LocalTier<number>(10, undefined, 0, () => trusted);
    tier.set('k', 1, entry, 0, [], tier.ticket('k'));
    trusted = true;
    expect(tier.get('k', 0)).toBeUndefined();
  });

  it('expires sooner with an L1 TTL but keeps the entry’s expiry for XFetch', () => {
    const tier = new LocalTier<number>(10, 200, 0, () => true);
    tier.set('k', 1, { v: '', e: 60_000, d: 50 }, 0, [], tier.ticket('k'));
    expect(tier.get('k', 0)).toMatchObject({ expiresAt: 200, entryExpiresAt: 60_000 });
  });
});
