import type { ConfigIssue, ConfigIssueCode } from './errors.ts';
import { foldLookalikes } from './lookalikes.ts';
import { withRequestDeadline } from './request-deadline.ts';

/**
 * What `@rampart/config` needs from a Vault client: node-vault's `read`. Pass your own client
 * (`vault({ endpoint, token })`); this package never opens a connection itself. `requestOptions`
 * carries a `signal` aborted at `vaultTimeoutMs`, for clients that honour it (node-vault 0.12 does
 * not; the HTTP request it started is then closed at the deadline instead).
 */
export interface VaultReader {
  read(path: string, requestOptions?: { readonly signal?: AbortSignal }): Promise<unknown>;
}

/** A parsed `vault:` reference: `vault:<mount>/<path>#<field>` or `vault:<mount>/<path>?version=<n>#<field>`. */
export interface VaultRef {
  readonly mount: string;
  readonly path: string;
  readonly field: string;
  readonly version: number | undefined;
}

/**
 * The prefix that marks a value as a Vault KV v2 reference.
 *
 * @example
 * ```ts
 * import { VAULT_PREFIX } from '@rampart/config';
 * `${VAULT_PREFIX}secret/billing#jwt_key`; // what DB_PASSWORD or DB_PASSWORD_FILE may hold
 * ```
 */
export const VAULT_PREFIX = 'vault:';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * True when a value is meant as a Vault reference, however it is written: `VAULT:…`, `Vault:…`,
 * ` vault:…`, `vault :…`, and after the lookalike folding the weak-secret rules use (NFKC forms,
 * default-ignorable characters dropped, lookalike letters): `\u200bvault:…`, `vault\uff1a…`
 * (fullwidth colon), `vаult:…` (Cyrillic а). Only the exact lowercase prefix is read; the others
 * are reported as malformed rather than loaded as the secret itself.
 */
export function looksLikeVaultRef(value: string): boolean {
  return /^\s*vault\s*:/i.test(foldLookalikes(value));
}

/**
 * Parses a `vault:` reference; `undefined` when it is malformed. KV v2 only: the `data/` segment
 * of the API path is added for you.
 *
 * @example
 * ```ts
 * import { parseVaultRef } from '@rampart/config';
 * parseVaultRef('vault:secret/billing/jwt#key'); // { mount: 'secret', path: 'billing/jwt', field: 'key', version: undefined }
 * ```
 */
export function parseVaultRef(value: string): VaultRef | undefined {
  if (!value.startsWith(VAULT_PREFIX)) return undefined;
  const match = /^vault:([^#?]+)(?:\?version=(\d{1,9}))?#([^#?]+)$/.exec(value.trim());
  if (!match) return undefined;
  const segments = match[1]!.replace(/^\/+/, '').split('/');
  const field = match[3]!;
  if (segments.length < 2 || segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) return undefined;
  if (!SEGMENT.test(field)) return undefined;
  const version = match[2] === undefined ? undefined : Number(match[2]);
  if (version === 0) return undefined;
  return Object.freeze({ mount: segments[0]!, path: segments.slice(1).join('/'), field, version });
}

/** Where a reference points, for provenance (mount, path, field: locators, not values). */
export function describeVaultRef(ref: VaultRef): string {
  return `${ref.mount}/${ref.path}#${ref.field}${ref.version === undefined ? '' : ` (version ${ref.version})`}`;
}

function apiPath(ref: VaultRef): string {
  return `${ref.mount}/data/${ref.path}${ref.version === undefined ? '' : `?version=${ref.version}`}`;
}

type FailureKind = 'not-found' | 'denied' | 'rejected' | 'upgrading' | 'unavailable';

type Outcome =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly kind: FailureKind; readonly detail: string };

// The 4xx answers a retry can cure. Vault's API docs call only 412 retryable (Enterprise: the node
// has not caught up with replicated state yet). 429 is Vault's answer past a rate-limit quota (and
// the health code of a standby), 472 and 473 the health codes of a DR secondary and a performance
// standby, which a load balancer can route a read to while the cluster changes. 408 (a proxy or
// load balancer timed out) and 425 Too Early (RFC 8470: replay the request later) are transient by
// definition. Every other 4xx (400, 405, ...) answers the same again, so a restart loop would never end.
const TRANSIENT_4XX = new Set([408, 412, 425, 429, 472, 473]);

// Vault answers 400 while a KV mount is upgraded to version 2 ("Upgrading from non-versioned to
// versioned data. ..."; "Waiting for the primary to upgrade from non-versioned to versioned data.
// ..." on a secondary). The stable phrase is matched, across any line wrapping, and never quoted.
const KV_UPGRADE = /non-versioned\s+to\s+versioned\s+data/i;
// Vault's error texts are short and few; a longer body (a proxy's page) is not searched past this,
// and no more than this many entries of `errors[]` are read.
const MAX_ERROR_TEXT = 4096;
const MAX_ERROR_ENTRIES = 16;

/** The texts of a node-vault error: the first entries of `response.body.errors` (or a text body) and `message`. */
function errorTexts(error: unknown): string[] {
  const texts: string[] = [];
  const body = (error as { response?: { body?: unknown } } | null)?.response?.body;
  if (typeof body === 'string') texts.push(body);
  const errors = (body as { errors?: unknown } | null | undefined)?.errors;
  if (Array.isArray(errors))
    for (const text of errors.slice(0, MAX_ERROR_ENTRIES)) if (typeof text === 'string') texts.push(text);
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message === 'string') texts.push(message);
  return texts.map((text) => text.slice(0, MAX_ERROR_TEXT));
}

function isKvUpgrade(error: unknown): boolean {
  return errorTexts(error).some((text) => KV_UPGRADE.test(text));
}

function classify(error: unknown): Outcome {
  const status = (error as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  if (status === 404) return { ok: false, kind: 'not-found', detail: 'HTTP 404' };
  if (status === 403 || status === 401) return { ok: false, kind: 'denied', detail: `HTTP ${status}` };
  if (typeof status === 'number' && status >= 400 && status < 500 && !TRANSIENT_4XX.has(status)) {
    if (isKvUpgrade(error)) return { ok: false, kind: 'upgrading', detail: `HTTP ${status}` };
    return { ok: false, kind: 'rejected', detail: `HTTP ${status}` };
  }
  if (typeof status === 'number') return { ok: false, kind: 'unavailable', detail: `HTTP ${status}` };
  const code = (error as { code?: unknown } | null)?.code;
  return {
    ok: false,
    kind: 'unavailable',
    detail: typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'no response',
  };
}

const FAILURES: Readonly<Record<FailureKind, { readonly code: ConfigIssueCode; readonly fix: string }>> = {
  'not-found': {
    code: 'vault-not-found',
    fix: 'check the mount, the path and the version, and that the mount is KV version 2',
  },
  denied: {
    code: 'vault-denied',
    fix: "grant the client's token read on the path, and check the mount and the path: Vault answers 403 for a path the token may not read, whether or not it exists",
  },
  rejected: {
    code: 'vault-rejected',
    fix: "Vault, or a proxy in front of it, refused the request itself, so retrying will not help: read the same path with the same token from the service's network (vault kv get, or curl to /v1/<mount>/data/<path>); if Vault answers there, fix the proxy or gateway in front of it, otherwise check that the mount is KV version 2 and not another engine or plugin",
  },
  upgrading: {
    code: 'vault-unavailable',
    fix: 'the KV mount is being upgraded to KV version 2 and is unavailable until that ends: restart once the upgrade is done',
  },
  unavailable: { code: 'vault-unavailable', fix: 'check that Vault is reachable and unsealed, then restart' },
};

/** One reference to resolve, with the key and source it came from. */
export interface PendingRef {
  readonly key: string;
  readonly ref: VaultRef;
  readonly via: string;
}

/** The resolved values (by key) and the problems found. */
export interface ResolvedRefs {
  readonly values: ReadonlyMap<string, string>;
  readonly issues: readonly ConfigIssue[];
}

/**
 * Resolves references through `client`, reading each secret path once. Never includes a value,
 * a token or the client's own error (node-vault errors can carry request headers) in an issue.
 */
export async function resolveVaultRefs(
  pending: readonly PendingRef[],
  client: VaultReader,
  timeoutMs: number,
): Promise<ResolvedRefs> {
  const reads = new Map<string, Promise<Outcome>>();
  for (const { ref } of pending) {
    const path = apiPath(ref);
    if (!reads.has(path)) reads.set(path, readWithTimeout(client, path, timeoutMs));
  }
  const values = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const { key, ref, via } of pending) {
    const outcome = await reads.get(apiPath(ref))!;
    const from = `the Vault reference in ${via}`;
    if (!outcome.ok) {
      const { code, fix } = FAILURES[outcome.kind];
      issues.push({ key, code, message: `${key}: ${from} could not be read (${outcome.detail}); ${fix}.` });
      continue;
    }
    const data = (outcome.data as { data?: { data?: Record<string, unknown> } } | null)?.data?.data;
    const value = data && Object.hasOwn(data, ref.field) ? data[ref.field] : undefined;
    if (typeof value !== 'string' || value.length === 0) {
      issues.push({
        key,
        code: 'vault-field-missing',
        message: `${key}: ${from} names a field that is missing, empty or not a string in that secret.`,
      });
      continue;
    }
    values.set(key, value);
  }
  return { values, issues };
}

function readWithTimeout(client: VaultReader, path: string, timeoutMs: number): Promise<Outcome> {
  return withRequestDeadline(
    async (signal): Promise<Outcome> => {
      try {
        return { ok: true, data: await client.read(path, { signal }) };
      } catch (error) {
        return classify(error);
      }
    },
    timeoutMs,
    () => ({ ok: false, kind: 'unavailable', detail: `no answer within ${timeoutMs} ms` }),
  );
}
