import type { SecretsEngine } from './engine.ts';
import { readString } from './fields.ts';
import { KvV2Engine } from './kv-v2-engine.ts';
import { TransitEngine } from './transit-engine.ts';
import { userError } from './vault-http-error.ts';

export interface MountDefaults {
  readonly transitMounts: readonly string[];
  readonly kvMounts: readonly string[];
}

/** Trims slashes; Vault stores mount paths as `name/`. */
export function normalizeMountPath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** The mounts of one namespace, matched by longest path prefix as Vault's router does. */
export class MountTable {
  readonly #mounts = new Map<string, SecretsEngine>();
  readonly #now: () => number;

  constructor(defaults: MountDefaults, now: () => number) {
    this.#now = now;
    for (const path of defaults.transitMounts) this.#mounts.set(normalizeMountPath(path), new TransitEngine(now));
    for (const path of defaults.kvMounts) this.#mounts.set(normalizeMountPath(path), new KvV2Engine(now));
  }

  /** The engine owning `path` and the rest of the path below its mount. */
  route(path: string): { engine: SecretsEngine; rest: string } | undefined {
    let best: string | undefined;
    for (const mount of this.#mounts.keys()) {
      if ((path === mount || path.startsWith(`${mount}/`)) && (best === undefined || mount.length > best.length)) {
        best = mount;
      }
    }
    if (best === undefined) return undefined;
    const engine = this.#mounts.get(best);
    if (!engine) return undefined;
    return { engine, rest: path.slice(best.length).replace(/^\/+|\/+$/g, '') };
  }

  /** `POST sys/mounts/:path` with `type` `transit` or `kv` (`options.version` `2`). */
  enable(rawPath: string, fields: Readonly<Record<string, unknown>>): void {
    const path = normalizeMountPath(rawPath);
    if (path === '' || path.startsWith('sys') || path.startsWith('auth') || path.startsWith('identity')) {
      throw userError(`cannot mount at reserved path "${path}/"`);
    }
    for (const existing of this.#mounts.keys()) {
      if (existing === path || existing.startsWith(`${path}/`) || path.startsWith(`${existing}/`)) {
        throw userError(`path is already in use at ${existing}/`);
      }
    }
    const type = readString(fields, 'type');
    const options = fields.options as Readonly<Record<string, unknown>> | undefined;
    const version = options && typeof options === 'object' ? readString(options, 'version') : undefined;
    if (type === 'transit') this.#mounts.set(path, new TransitEngine(this.#now));
    else if (type === 'kv-v2' || (type === 'kv' && version === '2')) this.#mounts.set(path, new KvV2Engine(this.#now));
    else if (type === 'kv') {
      throw userError('kv version 1 is not implemented by the rampart Vault dev server; pass options.version "2"');
    } else throw userError(`plugin not found in the catalog: ${type ?? ''}`);
  }

  disable(rawPath: string): void {
    this.#mounts.delete(normalizeMountPath(rawPath));
  }

  /** The `data` of `GET sys/mounts` (secrets engines only; Vault also lists sys/, cubbyhole/, identity/). */
  describe(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [path, engine] of this.#mounts) {
      out[`${path}/`] = {
        type: engine.type,
        description: '',
        accessor: `${engine.type}_${Buffer.from(path).toString('hex').slice(0, 8)}`,
        config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
        options: engine.options,
        local: false,
        seal_wrap: false,
        external_entropy_access: false,
      };
    }
    return out;
  }
}
