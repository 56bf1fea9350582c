/** Stable codes of {@link TestkitError}; see the README's errors table. */
export type TestkitErrorCode =
  | 'ERR_TESTKIT_PRODUCTION'
  | 'ERR_TESTKIT_BINARY_NOT_FOUND'
  | 'ERR_TESTKIT_START_FAILED'
  | 'ERR_TESTKIT_START_TIMEOUT'
  | 'ERR_TESTKIT_WAIT_TIMEOUT'
  | 'ERR_TESTKIT_NOT_LOOPBACK'
  | 'ERR_TESTKIT_INVALID_OPTION'
  | 'ERR_TESTKIT_STOPPED';

/**
 * The one error class of `@rampart/testkit`.
 *
 * @example
 * ```ts
 * import { startRedis, TestkitError } from '@rampart/testkit';
 * try {
 *   await startRedis();
 * } catch (error) {
 *   if (error instanceof TestkitError && error.code === 'ERR_TESTKIT_BINARY_NOT_FOUND') {
 *     console.error(error.message); // says how to install redis-server
 *   }
 * }
 * ```
 */
export class TestkitError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: TestkitErrorCode;

  constructor(code: TestkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestkitError';
    this.code = code;
  }
}
