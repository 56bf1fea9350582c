/** Every reason a preflight API call can fail. Findings are not errors: they are the scanner's output. */
export type PreflightErrorCode =
  | 'ERR_PREFLIGHT_INVALID_OPTION'
  | 'ERR_PREFLIGHT_BASELINE_INVALID'
  | 'ERR_PREFLIGHT_DOCKERIGNORE_PATTERN'
  | 'ERR_PREFLIGHT_CORPUS_INVALID'
  | 'ERR_PREFLIGHT_USAGE';

/**
 * The one error class of `@rampart/preflight`. Messages name the option, file or pattern and say how
 * to fix it; they never quote a scanned value.
 *
 * @example
 * ```ts
 * import { PreflightError, scan } from '@rampart/preflight';
 * try {
 *   await scan({ root: '.', baseline: 'missing.json' });
 * } catch (error) {
 *   if (error instanceof PreflightError) console.error(error.code);
 * }
 * ```
 */
export class PreflightError extends Error {
  readonly code: PreflightErrorCode;

  constructor(code: PreflightErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PreflightError';
    this.code = code;
  }
}
