/** A value that may still be served, stale, until `staleUntil` (epoch ms) when a fresh one cannot be had. */
export interface StaleValue<T> {
  readonly value: T;
  readonly staleUntil: number;
}

/**
 * Runs `loader` (`loaded: true`); when it fails and `stale` may still be served at `now()`, reports
 * the failure to `onError` and returns the stale value instead (`loaded: false`: not to be cached).
 */
export async function loadOrStale<T>(
  loader: () => Promise<T> | T,
  stale: StaleValue<T> | undefined,
  now: () => number,
  onError: (error: unknown) => void,
): Promise<{ value: T; loaded: boolean }> {
  try {
    return { value: await loader(), loaded: true };
  } catch (error) {
    if (!stale || stale.staleUntil <= now()) throw error;
    onError(error);
    return { value: stale.value, loaded: false };
  }
}
