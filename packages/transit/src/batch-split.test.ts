import { describe, expect, it } from 'vitest';
import { SplitBudget } from './batch-split.ts';
import { closedError, TransitError } from './errors.ts';

// 4 items: a budget of 4·⌈log2 4⌉ = 8 calls, four splits.
describe('SplitBudget', () => {
  it('grants splits while the balance pays for them, then refuses when no resend is in flight', () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 4; split++) expect(budget.request(false)).toBe(true);
    for (let resend = 0; resend < 8; resend++) budget.settle(false);
    expect(budget.request(false)).toBe(false);
  });

  it('earns two calls back for each resend answered per item: an all-good half pays for the split of its sibling', () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 4; split++) expect(budget.request(false)).toBe(true);
    budget.settle(true);
    expect(budget.request(true)).toBe(true);
  });

  it('makes a split the balance cannot pay for wait for the resends in flight: granted if one earns', async () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 4; split++) expect(budget.request(false)).toBe(true);
    const waiting = budget.request(false);
    expect(waiting).toBeInstanceOf(Promise);
    budget.settle(false);
    budget.settle(true);
    await expect(waiting).resolves.toBe(true);
  });

  it('refuses a waiting split once the last resend in flight settles without earning', async () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 4; split++) expect(budget.request(false)).toBe(true);
    const waiting = budget.request(false);
    for (let resend = 0; resend < 7; resend++) budget.settle(false);
    // The last resend in flight fails whole and asks for its own split: it does not wait on itself.
    expect(budget.request(true)).toBe(false);
    budget.settle(false);
    await expect(waiting).resolves.toBe(false);
  });

  it('serves waiting splits first come first served', async () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 4; split++) expect(budget.request(false)).toBe(true);
    const order: string[] = [];
    const first = (budget.request(false) as Promise<boolean>).then((granted) => order.push(`first ${granted}`));
    const second = (budget.request(false) as Promise<boolean>).then((granted) => order.push(`second ${granted}`));
    budget.settle(true);
    // 7 resends left in flight, and the two of the split granted to the first.
    for (let resend = 0; resend < 9; resend++) budget.settle(false);
    await Promise.all([first, second]);
    expect(order).toEqual(['first true', 'second false']);
  });
});

describe('SplitBudget credits', () => {
  const integrity = new TransitError('ERR_TRANSIT_INTEGRITY', 'an item is bad');
  const unavailable = new TransitError('ERR_TRANSIT_VAULT_UNAVAILABLE', 'Vault is down');
  const keyA = 'transit\u0000a';
  const keyB = 'transit\u0000b';

  it("leaves one credit per resend Vault failed otherwise, for its key only; an item's own failure leaves none", () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 2; split++) expect(budget.request(false)).toBe(true);
    budget.settle(false, { error: integrity, scope: keyA });
    expect(budget.takeCredit(keyA)).toBeUndefined();
    budget.settle(false, { error: unavailable, scope: keyA });
    budget.settle(false, { error: closedError(), scope: keyA });
    expect(budget.takeCredit(keyB)).toBeUndefined();
    expect(budget.takeCredit(keyA)).toBe(unavailable);
    expect(budget.takeCredit(keyA)).toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
    expect(budget.takeCredit(keyA)).toBeUndefined();
  });

  it('has one credit for a waiting split refused after a resend that could have paid for it failed otherwise', async () => {
    const budget = new SplitBudget(4);
    for (let split = 0; split < 4; split++) expect(budget.request(false)).toBe(true);
    const waiting = (budget.request(false) as Promise<boolean>).then((granted) => ({
      granted,
      credit: budget.takeCredit(keyA),
      another: budget.takeCredit(keyA),
    }));
    for (let resend = 0; resend < 7; resend++) budget.settle(false, { error: integrity, scope: keyA });
    budget.settle(false, { error: unavailable, scope: keyA });
    await expect(waiting).resolves.toEqual({ granted: false, credit: unavailable, another: undefined });
  });
});
