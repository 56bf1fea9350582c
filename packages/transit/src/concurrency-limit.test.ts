import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from './concurrency-limit.ts';

const closed = (): Error => new Error('closed');

describe('ConcurrencyLimit', () => {
  it('starts no task after close(), not even one handed its slot in the microtask before', async () => {
    const limit = new ConcurrencyLimit(1);
    let release: () => void = () => {};
    const first = limit.run(() => new Promise<void>((resolve) => (release = resolve)));
    let ran = false;
    const second = limit
      .run(async () => {
        ran = true;
      })
      .catch((error: unknown) => error);
    // `first` hands its slot to `second` in the next microtask; close() runs in the one after,
    // before `second` has resumed.
    release();
    queueMicrotask(() => limit.close(closed));
    await first;
    expect(await second).toMatchObject({ message: 'closed' });
    expect(ran).toBe(false);
  });

  it('frees the slot of a waiter that found the limit closed', async () => {
    const limit = new ConcurrencyLimit(1);
    let release: () => void = () => {};
    const first = limit.run(() => new Promise<void>((resolve) => (release = resolve)));
    const second = limit.run(async () => 'second').catch((error: unknown) => error);
    release();
    queueMicrotask(() => limit.close(closed));
    await Promise.all([first, second]);
    // Closed for good: a later task is refused at once rather than queued behind a lost slot.
    await expect(limit.run(async () => 'third')).rejects.toThrow('closed');
  });

  it('serves urgent waiters first, then the others in order', async () => {
    const limit = new ConcurrencyLimit(1);
    const order: string[] = [];
    let release: () => void = () => {};
    const first = limit.run(() => new Promise<void>((resolve) => (release = resolve)));
    const tasks = [
      limit.run(async () => order.push('bulk 1')),
      limit.run(async () => order.push('bulk 2')),
      limit.run(async () => order.push('urgent'), { urgent: true }),
    ];
    release();
    await Promise.all([first, ...tasks]);
    expect(order).toEqual(['urgent', 'bulk 1', 'bulk 2']);
  });
});
