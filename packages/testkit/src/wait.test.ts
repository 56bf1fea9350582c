import { describe, expect, it } from 'vitest';
import { TestkitError } from './errors.ts';
import { waitFor } from './wait.ts';

describe('waitFor', () => {
  it('returns once the probe is true', async () => {
    let calls = 0;
    await waitFor(() => ++calls >= 3, { timeoutMs: 5_000, intervalMs: 1, what: 'the third call' });
    expect(calls).toBe(3);
  });

  it('throws a TestkitError ERR_TESTKIT_WAIT_TIMEOUT naming what it waited for when the deadline passes', async () => {
    const failure = await waitFor(() => false, { timeoutMs: 20, intervalMs: 5, what: 'the queue to drain' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TestkitError);
    expect(failure).toMatchObject({ name: 'TestkitError', code: 'ERR_TESTKIT_WAIT_TIMEOUT' });
    expect((failure as Error).message).toContain('the queue to drain');
    expect((failure as Error).message).toContain('timeoutMs');
  });

  it('keeps the last error the probe threw as the cause of the timeout', async () => {
    const probeError = new Error('connection refused');
    const failure = await waitFor(
      () => {
        throw probeError;
      },
      { timeoutMs: 20, intervalMs: 5, what: 'the server' },
    ).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'ERR_TESTKIT_WAIT_TIMEOUT', cause: probeError });
  });
});
