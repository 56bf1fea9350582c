/** Stable codes of {@link ConfigError}; see the README's errors table. */
export type ConfigErrorCode =
  /** One or more keys are missing, invalid, weak or from a forbidden source; `issues` lists them all. */
  | 'ERR_CONFIG_INVALID'
  /** Only Vault could not be reached; retrying start-up may succeed. */
  | 'ERR_CONFIG_VAULT_UNAVAILABLE'
  /** The schema itself is wrong (a default on a secret, an invalid default, an unknown option). */
  | 'ERR_CONFIG_SCHEMA'
  /** Load options are wrong (a relative allowlist entry, a missing config-tree directory, ...). */
  | 'ERR_CONFIG_OPTIONS'
  /** Code read a key the schema does not declare. */
  | 'ERR_CONFIG_UNDECLARED_KEY'
  /** Code tried to assign, delete or define a key of a loaded config. */
  | 'ERR_CONFIG_IMMUTABLE'
  /** `withOverrides()` was called on a config loaded under the production profile. */
  | 'ERR_CONFIG_OVERRIDE_IN_PRODUCTION'
  /** `reveal()` was called on, or `equals()` given, something that is not a live `Secret` (a clone, a spread copy, `undefined`). */
  | 'ERR_CONFIG_NOT_A_SECRET'
  /** A Standard Schema validator returned a promise to `loadConfigSync()`, or a Vault reference met it. */
  | 'ERR_CONFIG_ASYNC_REQUIRED';

/** Why one key failed; `issues` of an `ERR_CONFIG_INVALID` error carry one each. */
export type ConfigIssueCode =
  | 'missing'
  | 'invalid'
  | 'weak-secret'
  | 'ambiguous-source'
  | 'file-unreadable'
  | 'file-empty'
  /** The file's bytes are not UTF-8 text (a raw binary key): store it base64 or hex and declare `encoding`. */
  | 'file-not-text'
  | 'file-outside-allowlist'
  | 'source-not-allowed'
  | 'vault-ref-malformed'
  | 'vault-no-client'
  | 'vault-not-found'
  | 'vault-denied'
  /**
   * Vault, or a proxy in front of it, refused the read as malformed (400, 405, any 4xx but
   * 401/403/404 and the retryable 408/412/425/429/472/473): check the proxy, and that the mount
   * is KV version 2; not retryable. The reference's version cannot cause it (Vault answers 404).
   */
  | 'vault-rejected'
  | 'vault-field-missing'
  /**
   * Vault could not answer (down, sealed, 5xx, 408/412/425/429/472/473, a KV mount being upgraded
   * to version 2, timeout); the only retryable issue.
   */
  | 'vault-unavailable';

/** One problem with one key. `message` names the key and the fix; it never contains the value. */
export interface ConfigIssue {
  readonly key: string;
  readonly code: ConfigIssueCode;
  readonly message: string;
  /** For `weak-secret`: the rules the value broke (`too-short`, `known-demo`, ...). */
  readonly rules?: readonly string[];
}

/**
 * The one error class of `@rampart/config`. Messages name keys, rules and fixes and never contain
 * a configured value, not even partly.
 *
 * @example
 * ```ts
 * import { ConfigError, loadConfig, port, secret } from '@rampart/config';
 * try {
 *   await loadConfig({ PORT: port(), JWT_KEY: secret({ kind: 'hmac-sha256' }) });
 * } catch (error) {
 *   if (error instanceof ConfigError) {
 *     for (const issue of error.issues) console.error(issue.key, issue.code);
 *     process.exitCode = 1;
 *   }
 * }
 * ```
 */
export class ConfigError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: ConfigErrorCode;
  /** Every problem found, all at once (empty for errors that are not about loading). */
  readonly issues: readonly ConfigIssue[];
  /** True only when retrying may help (Vault was unreachable and nothing else was wrong). */
  readonly retryable: boolean;

  constructor(
    code: ConfigErrorCode,
    message: string,
    options: { cause?: unknown; issues?: readonly ConfigIssue[]; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.code = code;
    this.issues = Object.freeze([...(options.issues ?? [])]);
    this.retryable = options.retryable ?? false;
  }
}
