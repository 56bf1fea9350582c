import type { Secret } from './secret.ts';
import {
  build,
  type CommonOptions,
  fail,
  type IsOptional,
  isSourceList,
  ok,
  type SecretSpecOptions,
  SOURCE_KINDS,
  type SourceKind,
  type Spec,
  schemaError,
} from './spec.ts';
import {
  DENYLIST_FIX,
  isDenylist,
  isPositiveSafeInteger,
  SECRET_ENCODINGS,
  SECRET_KINDS,
  type SecretEncoding,
  type SecretKind,
} from './weak-secret.ts';

/** Options of {@link secret}. There is deliberately no `default`: secrets come from a source. */
export interface SecretOptions {
  /** What the secret is for; sets the length and entropy floors. Default `'key'`. */
  readonly kind?: SecretKind;
  /** How the value encodes its bytes (for the length floor). Default `'utf8'`. */
  readonly encoding?: SecretEncoding;
  /** Raises the kind's minimum length in bytes; a positive safe integer, else `ERR_CONFIG_SCHEMA`. */
  readonly minBytes?: number;
  /** Extra known-bad values for this key, matched like the built-in demo list. */
  readonly denylist?: readonly string[];
  /** Sources allowed in production, overriding the load option `secretSources`. */
  readonly sources?: readonly SourceKind[];
  readonly optional?: boolean;
  readonly description?: string;
  /** Not supported: a secret with a default is a known secret. Use a dev profile (`gen-dev`). */
  readonly default?: never;
  /** Not supported: use a dev profile file (`rampart-config gen-dev`). */
  readonly devDefault?: never;
}

/**
 * A secret, loaded as a {@link Secret} that redacts itself everywhere. It has no default, at the
 * type level and at run time; development values come from a dev profile file.
 *
 * @example
 * ```ts
 * import { secret } from '@rampart/config';
 * const schema = {
 *   JWT_KEY: secret({ kind: 'jwt-hs256' }),
 *   DB_PASSWORD: secret({ kind: 'password', sources: ['file', 'vault'] }),
 * };
 * ```
 */
export function secret<const O extends SecretOptions>(options?: O): Spec<Secret, IsOptional<O>> {
  const o: SecretOptions = options ?? {};
  const raw = o as Record<string, unknown>;
  for (const forbidden of ['default', 'devDefault', 'testDefault', 'fallback'] as const) {
    if (forbidden in raw) {
      throw schemaError(
        `secret() does not accept \`${forbidden}\`: a secret with a default is a known secret. Set it through a secret file, the config tree or Vault; for development run \`rampart-config gen-dev\` to write a dev profile.`,
      );
    }
  }
  const unknown = Object.keys(raw).filter(
    (key) => !['kind', 'encoding', 'minBytes', 'denylist', 'sources', 'optional', 'description'].includes(key),
  );
  if (unknown.length > 0) throw schemaError(`secret() does not know the option(s) ${unknown.join(', ')}.`);
  const kind = o.kind ?? 'key';
  if (!SECRET_KINDS.includes(kind)) throw schemaError(`secret(): kind must be one of ${SECRET_KINDS.join(', ')}.`);
  const encoding = o.encoding ?? 'utf8';
  if (!SECRET_ENCODINGS.includes(encoding)) {
    throw schemaError('secret(): encoding must be utf8, hex, base64 or base64url.');
  }
  // Checked here, not trusted: `Math.max(32, NaN)` is NaN, which would switch the length floor off.
  if (o.minBytes !== undefined && !isPositiveSafeInteger(o.minBytes)) {
    throw schemaError('secret(): minBytes must be a positive safe integer (bytes), e.g. `minBytes: 64`.');
  }
  // Read as given, a string denylist became one entry per character (every secret holding an `a`
  // was weak) and a hole or a number threw a TypeError at the first production start-up.
  if (o.denylist !== undefined && !isDenylist(o.denylist)) throw schemaError(`secret(): ${DENYLIST_FIX}`);
  if (o.sources !== undefined && !isSourceList(o.sources)) {
    throw schemaError(`secret(): sources must be a non-empty list of ${SOURCE_KINDS.join(', ')}.`);
  }
  const secretOptions: SecretSpecOptions = Object.freeze({
    kind,
    encoding,
    minBytes: o.minBytes,
    denylist: Object.freeze([...(o.denylist ?? [])]),
    sources: o.sources ? Object.freeze([...o.sources]) : undefined,
  });
  const common: CommonOptions<string> = {
    ...(o.optional === undefined ? {} : { optional: o.optional }),
    ...(o.description === undefined ? {} : { description: o.description }),
  };
  // The spec parses to the raw string; loading wraps it in a Secret named after the key.
  const spec = build<string, boolean>(
    'secret',
    'secret',
    common,
    `a ${kind} secret`,
    (value) => (value.length === 0 ? fail('is empty') : ok(value)),
    () => undefined,
    secretOptions,
  );
  return spec as unknown as Spec<Secret, IsOptional<O>>;
}
