import { RedisStoreError } from './errors.ts';

/**
 * The audit class of a store or cache:
 * - `cluster`: correctness needs one view across pods (nonces, single-use items, JWKS rotation,
 *   session tokens). Lives in Redis; an in-process copy is only allowed with cross-pod invalidation.
 * - `pod`: a per-pod copy is fine (token caches, memoized pure functions).
 */
export type CacheClass = 'cluster' | 'pod';

/** One row of the cache audit table. */
export interface CacheAuditRow {
  readonly name: string;
  readonly class: CacheClass;
  readonly reason: string;
  /** Where the data lives: `redis`, `l1+redis` (in-process copy invalidated over pub/sub) or `l1`. */
  readonly backing: 'redis' | 'l1+redis' | 'l1';
  /** Entries currently held in this process (0 for Redis-only stores). */
  readonly size: number;
  /** The in-process cap, when there is an in-process tier. */
  readonly maxSize: number | undefined;
  /** The kind of store: `ReplayGuard`, `SingleUseStore`, `SharedCache`, ... */
  readonly kind: string;
}

/** What a store hands to {@link CacheRegistry.register}. */
export interface AuditedStore {
  readonly name: string;
  audit(): CacheAuditRow;
}

/**
 * Every store and cache created through this package registers itself here, so a service can print
 * its cache audit table (name, class, reason, size): the "which in-process state must live in
 * Redis" decision record, as code. Pass your own registry to a store's `registry` option to keep
 * tests or sub-applications apart.
 *
 * @example
 * ```ts
 * import { cacheRegistry } from '@rampart/redis';
 * console.log(cacheRegistry.table());
 * // | name | kind | class | backing | size | max | reason |
 * // | jwks | SharedCache | cluster | l1+redis | 3 | 100 | keys rotate; every pod must drop old keys together |
 * ```
 */
export class CacheRegistry {
  readonly #stores = new Map<string, AuditedStore>();

  /**
   * Adds a store; a second store of the same kind with the same name is refused, because the two
   * would share their Redis keys. Returns a function that removes it again.
   */
  register(store: AuditedStore): () => void {
    // Each kind has its own key prefix, so only the same kind and name would share Redis keys.
    const id = `${store.audit().kind}\u0000${store.name}`;
    if (this.#stores.has(id)) {
      throw new RedisStoreError(
        'ERR_REDIS_INVALID_OPTIONS',
        `name: a ${store.audit().kind} named "${store.name}" is already registered; give each store its own name, or close() the old one first.`,
      );
    }
    this.#stores.set(id, store);
    return () => {
      if (this.#stores.get(id) === store) this.#stores.delete(id);
    };
  }

  /** The audit rows, sorted by name. */
  rows(): CacheAuditRow[] {
    return [...this.#stores.values()]
      .map((s) => s.audit())
      .sort((a, b) => a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind));
  }

  /** The audit table as Markdown, ready for a log line or an ADR. */
  table(): string {
    const lines = [
      '| name | kind | class | backing | size | max | reason |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const r of this.rows()) {
      const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
      lines.push(
        `| ${cell(r.name)} | ${r.kind} | ${r.class} | ${r.backing} | ${r.size} | ${r.maxSize ?? '-'} | ${cell(r.reason)} |`,
      );
    }
    return lines.join('\n');
  }
}

/**
 * The registry stores join when their `registry` option is not given.
 *
 * @example
 * ```ts
 * import { cacheRegistry } from '@rampart/redis';
 * for (const row of cacheRegistry.rows()) console.log(row.name, row.class, row.reason);
 * ```
 */
export const cacheRegistry: CacheRegistry = new CacheRegistry();

/** Validates the audit fields every store shares; pushes problems into `problems`. */
export function checkAuditFields(
  options: { name?: unknown; reason?: unknown; class?: unknown },
  problems: string[],
  { requireClass = true }: { requireClass?: boolean } = {},
): void {
  if (typeof options.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(options.name)) {
    problems.push('name must be 1-64 characters of letters, digits, ".", "_" or "-".');
  }
  if (typeof options.reason !== 'string' || options.reason.trim().length < 3) {
    problems.push('reason must say in words why this state exists and why its class is right.');
  }
  if (requireClass && options.class !== 'cluster' && options.class !== 'pod') {
    problems.push(
      "class must be 'cluster' (must be consistent across pods: lives in Redis) or 'pod' (a per-pod copy is fine).",
    );
  }
}
