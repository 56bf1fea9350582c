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

type FailureKind = 'not-found' | 'denied' | 'rejected' | 'unavailable';

type Outcome =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly kind: FailureKind; readonly detail: string };

// The 4xx answers a retry can cure: Vault documents 412 (a performance standby has not caught up
// yet), 429 (rate limit, or a standby answering), 472 (DR secondary) and 473 (performance standby);
// 408 is a proxy timing out. Every other 4xx (400 bad path or KV version, 405, ...) answers the
// same again, so a restart loop would never end.
const TRANSIENT_4XX = new Set([408, 412, 429, 472, 473]);

function classify(error: unknown): Outcome {
  const status = (error as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  if (status === 404) return { ok: false, kind: 'not-found', detail: 'HTTP 404' };
  if (status === 403 || status === 401) return { ok: false, kind: 'denied', detail: `HTTP ${status}` };
  if (typeof status === 'number' && status >= 400 && status < 500 && !TRANSIENT_4XX.has(status)) {
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
  denied: { code: 'vault-denied', fix: "grant the client's token read on the path" },
  rejected: {
    code: 'vault-rejected',
    fix: 'Vault refused the request itself, so retrying will not help: check the mount, the path and the version, and that the mount is KV version 2 (a KV version 1 mount or a path that is not a secret is refused)',
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
