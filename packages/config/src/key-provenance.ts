import type { Provenance } from './config-object.ts';
import type { RawEntry } from './raw-values.ts';
import { isSpec, type SourceKind, type Spec } from './spec.ts';
import type { StandardSchemaV1 } from './standard-schema.ts';

/** The source a key's value was read from, `vault` for a resolved reference. */
export function sourceKind(entry: RawEntry | undefined): SourceKind | 'dev-profile' | undefined {
  if (!entry) return undefined;
  if (entry.vault !== undefined) return 'vault';
  return entry.value.source;
}

/** Where a key's value came from, for the report: a locator, never the value. */
export function provenanceFor(
  key: string,
  spec: Spec<unknown> | StandardSchemaV1,
  entry: RawEntry | undefined,
  hasValue: boolean,
): Provenance {
  const secret = isSpec(spec) && spec.secret !== undefined;
  if (entry?.vault !== undefined) {
    return Object.freeze({ key, source: 'vault', detail: entry.vault, via: entry.value.source, secret });
  }
  if (entry) return Object.freeze({ key, source: entry.value.source, detail: entry.value.detail, secret });
  return Object.freeze({
    key,
    source: hasValue ? 'default' : 'unset',
    detail: hasValue ? 'schema default' : '-',
    secret,
  });
}
