import { ConfigError } from '../src/errors.ts';

/** The ConfigError `fn` throws; anything else is rethrown, and no throw fails the test. */
export function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** The ConfigError `promise` rejects with; anything else is rethrown, and no rejection fails the test. */
export async function rejectionOf(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
