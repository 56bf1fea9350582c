/** Identifiers of every rule the engine runs. */
export type RuleId =
  | 'env-fallback-literal'
  | 'seed-plaintext-secret'
  | 'dotenv-in-build-context'
  | 'unclassified-module-cache'
  | 'static-admin-key'
  | 'todo-auth'
  | 'deprecated-without-removal'
  | 'audit-coverage'
  | 'invalid-suppression'
  | 'parse-error'
  | 'not-scanned';

/**
 * `critical` is reserved for a public demo value used as a secret fallback: the service runs, and
 * anyone who read the same README can forge its tokens.
 */
export type Severity = 'critical' | 'error' | 'warning';

/** A position in a file, 1-based lines and columns (columns count UTF-16 units, like editors). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** What a rule reports before the engine adds the file, snippet and fingerprint. */
export interface RawFinding {
  readonly ruleId: RuleId;
  readonly severity: Severity;
  readonly message: string;
  /** Offsets into the file text (UTF-16), for location and snippet. */
  readonly start: number;
  readonly end: number;
  /**
   * What makes this finding the same finding after unrelated edits (an env var name, a column, a
   * cache name). Never a secret value: it feeds the fingerprint.
   */
  readonly key: string;
  /** Extra ranges (offsets) the snippet must hide, beyond every quoted string on the line. */
  readonly redact?: ReadonlyArray<readonly [number, number]>;
  /** No snippet at all: the line is not code the finding is about (a .dockerignore pattern). */
  readonly hideSnippet?: boolean;
}

/**
 * One problem the scanner found. `snippet` is the source line with every string literal and every
 * secret range replaced by `«redacted»`; no output format ever contains a scanned value.
 *
 * @example
 * ```ts
 * import type { Finding } from '@rampart/preflight';
 * const show = (f: Finding): string => `${f.file}:${f.start.line} ${f.ruleId} ${f.message}`;
 * ```
 */
export interface Finding {
  readonly ruleId: RuleId;
  readonly severity: Severity;
  readonly message: string;
  /** Path relative to the scan root, `/`-separated. */
  readonly file: string;
  readonly start: Position;
  readonly end: Position;
  readonly snippet: string;
  /** Stable across line moves and unrelated edits: rule, file, key and occurrence, hashed. */
  readonly fingerprint: string;
  /** Set when an expired suppression no longer applies. */
  readonly expiredSuppression?: string;
}

/** Severity order for sorting and exit decisions, most severe first. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, error: 1, warning: 2 };
