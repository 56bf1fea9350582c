/** Stable codes of {@link SanitizeError}; see the README's errors table. */
export type SanitizeErrorCode =
  /** `createSanitizer()` options are invalid or try to switch off a hard rule. */
  | 'ERR_SANITIZE_INVALID_OPTIONS'
  /** The input is larger than `limits.maxInputBytes`; checked before any parsing. */
  | 'ERR_SANITIZE_INPUT_TOO_LARGE'
  /** The input is not a string. */
  | 'ERR_SANITIZE_INVALID_INPUT';

/**
 * The one error class of `@rampart/sanitize`. Messages name the option or limit and say how to fix
 * it; they never quote the input or a configured value.
 *
 * @example
 * ```ts
 * import { createSanitizer, SanitizeError } from '@rampart/sanitize';
 *
 * const sanitizer = createSanitizer({ preset: 'ugc', limits: { maxInputBytes: 64 * 1024 } });
 * try {
 *   sanitizer.sanitize('<p>hello</p>'.repeat(10_000));
 * } catch (error) {
 *   if (error instanceof SanitizeError && error.code === 'ERR_SANITIZE_INPUT_TOO_LARGE') {
 *     // answer 413
 *   }
 * }
 * ```
 */
export class SanitizeError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: SanitizeErrorCode;
  /** Every problem found, for `ERR_SANITIZE_INVALID_OPTIONS` (one line each). */
  readonly problems: readonly string[];
  /** Retrying the same input never helps: sanitizing is deterministic. */
  readonly retryable = false;

  constructor(code: SanitizeErrorCode, message: string, options?: { cause?: unknown; problems?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SanitizeError';
    this.code = code;
    this.problems = Object.freeze([...(options?.problems ?? [])]);
  }
}
