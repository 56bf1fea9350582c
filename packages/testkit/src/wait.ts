import { TestkitError } from './errors.ts';

/**
 * Polls `probe` until it returns true, or throws a {@link TestkitError} `ERR_TESTKIT_WAIT_TIMEOUT`
 * (its `cause` the probe's last error, if it threw) once `timeoutMs` passes. A probe that throws is
 * retried; never sleeps longer than `intervalMs` (default 25) between calls.
 *
 * @example
 * ```ts
 * import { waitFor } from '@rampart/testkit';
 * await waitFor(async () => (await client.exists('job:1')) === 1, { timeoutMs: 2_000, what: 'job:1 to be written' });
 * ```
 */
export async function waitFor(
  probe: () => Promise<boolean> | boolean,
  { timeoutMs, intervalMs = 25, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new TestkitError(
        'ERR_TESTKIT_WAIT_TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for ${what}: raise timeoutMs on a slow machine, or see the cause for the probe's last error.`,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
