/** Stable codes of {@link HeadersError}; see the README's errors table. */
export type HeadersErrorCode =
  /** A preset or adapter option is invalid (start-up). */
  | 'ERR_HEADERS_INVALID_OPTION'
  /** A Content-Security-Policy failed validation (start-up). */
  | 'ERR_HEADERS_INVALID_CSP'
  /** A state-changing request came from a site that is not allowed (403). */
  | 'ERR_HEADERS_CROSS_SITE_REQUEST'
  /** Cross-site protection runs in production without allowed origins, so it fails closed (403). */
  | 'ERR_HEADERS_NO_ALLOWED_ORIGINS';

/**
 * The one error class of `@rampart/headers`. `problems` lists every problem found at once (for
 * option and CSP validation). Messages name the option or directive and never echo a configured
 * value or a request header.
 *
 * @example
 * ```ts
 * import { csp, HeadersError } from '@rampart/headers';
 * try {
 *   csp({ 'default-src': ['self'] });
 * } catch (error) {
 *   if (error instanceof HeadersError && error.code === 'ERR_HEADERS_INVALID_CSP') {
 *     console.error(error.problems.join('\n'));
 *   }
 * }
 * ```
 */
export class HeadersError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: HeadersErrorCode;
  /** Every problem found, one sentence each. */
  readonly problems: readonly string[];
  /** Always false: none of these errors goes away by retrying the same request or configuration. */
  readonly retryable = false;

  constructor(code: HeadersErrorCode, message: string, options?: { cause?: unknown; problems?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeadersError';
    this.code = code;
    this.problems = Object.freeze([...(options?.problems ?? [message])]);
  }
}

/** Throws one {@link HeadersError} listing every problem, when there is any. */
export function throwIfProblems(code: HeadersErrorCode, subject: string, problems: readonly string[]): void {
  if (problems.length === 0) return;
  const list = problems.map((p) => `  - ${p}`).join('\n');
  throw new HeadersError(code, `${subject}: ${problems.length} problem(s):\n${list}`, { problems });
}
