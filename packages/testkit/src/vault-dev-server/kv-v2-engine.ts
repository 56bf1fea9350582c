import type { EngineRequest, EngineResponse, SecretsEngine } from './engine.ts';
import { type Fields, has, readInt } from './fields.ts';
import { cloneJson } from './json-value.ts';
import { notFound, unsupportedOperation, userError, VaultHttpError } from './vault-http-error.ts';

interface Version {
  data: Record<string, unknown> | null;
  readonly createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

interface Secret {
  readonly versions: Map<number, Version>;
  currentVersion: number;
  readonly createdTime: string;
  updatedTime: string;
}

const INVALID_PATH_WARNING =
  "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.";

/**
 * KV version 2: `data/`, `metadata/`, `delete/`, `undelete/` and `destroy/` with versions and
 * check-and-set, answering with the `data`/`metadata` shapes Vault returns.
 */
export class KvV2Engine implements SecretsEngine {
  readonly type = 'kv' as const;
  readonly options = { version: '2' } as const;
  readonly #secrets = new Map<string, Secret>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  handle(request: EngineRequest): EngineResponse {
    const slash = request.path.indexOf('/');
    const area = slash < 0 ? request.path : request.path.slice(0, slash);
    const path = slash < 0 ? '' : request.path.slice(slash + 1);
    const op = request.operation;
    if (area === 'config' && slash < 0) {
      if (op !== 'read') throw unsupportedOperation();
      return { status: 200, data: { cas_required: false, delete_version_after: '0s', max_versions: 0 } };
    }
    if (area === 'metadata' && (op === 'list' || path !== '')) return this.#metadata(op, path);
    if (path !== '') {
      if (area === 'data') return this.#data(op, path, request.data);
      if (area === 'delete' || area === 'undelete' || area === 'destroy') {
        if (op !== 'update') throw unsupportedOperation();
        return this.#versionsOp(area, path, request.data);
      }
    }
    throw new VaultHttpError(404, [], { errors: [], warnings: [INVALID_PATH_WARNING] });
  }

  #time(): string {
    return new Date(this.#now()).toISOString();
  }

  #data(op: EngineRequest['operation'], path: string, fields: Fields): EngineResponse {
    if (op === 'read') return this.#read(path, fields);
    if (op === 'update') return this.#write(path, fields);
    if (op === 'delete') {
      const secret = this.#secrets.get(path);
      const latest = secret?.versions.get(secret.currentVersion);
      if (latest && latest.deletionTime === '' && !latest.destroyed) latest.deletionTime = this.#time();
      return { status: 204 };
    }
    throw unsupportedOperation();
  }

  #read(path: string, fields: Fields): EngineResponse {
    const secret = this.#secrets.get(path);
    if (!secret) throw notFound();
    const wanted = readInt(fields, 'version') ?? 0;
    const number = wanted === 0 ? secret.currentVersion : wanted;
    const version = secret.versions.get(number);
    if (!version) throw notFound();
    const metadata = versionMetadata(number, version);
    if (version.data === null || version.deletionTime !== '' || version.destroyed) {
      // Vault answers a deleted or destroyed version with 404 and the metadata in the body.
      throw new VaultHttpError(404, [], { data: { data: null, metadata } });
    }
    return { status: 200, data: { data: cloneJson(version.data), metadata } };
  }

  #write(path: string, fields: Fields): EngineResponse {
    if (!has(fields, 'data')) throw userError('no data provided');
    const data = fields.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw userError('no data provided');
    const options = fields.options;
    const secret = this.#secrets.get(path);
    if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
      const cas = readInt(options as Fields, 'cas');
      if (cas !== undefined && cas !== (secret?.currentVersion ?? 0)) {
        throw userError('check-and-set parameter did not match the current version');
      }
    }
    const now = this.#time();
    const target = secret ?? { versions: new Map(), currentVersion: 0, createdTime: now, updatedTime: now };
    const number = target.currentVersion + 1;
    const version: Version = {
      data: cloneJson(data as Record<string, unknown>),
      createdTime: now,
      deletionTime: '',
      destroyed: false,
    };
    target.versions.set(number, version);
    target.currentVersion = number;
    target.updatedTime = now;
    this.#secrets.set(path, target);
    return { status: 200, data: versionMetadata(number, version) };
  }

  #metadata(op: EngineRequest['operation'], path: string): EngineResponse {
    if (op === 'list') {
      const prefix = path === '' ? '' : `${path.replace(/\/$/, '')}/`;
      const keys = new Set<string>();
      for (const name of this.#secrets.keys()) {
        if (!name.startsWith(prefix)) continue;
        const rest = name.slice(prefix.length);
        const slash = rest.indexOf('/');
        keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
      }
      if (keys.size === 0) throw notFound();
      return { status: 200, data: { keys: [...keys].sort() } };
    }
    if (op === 'delete') {
      this.#secrets.delete(path);
      return { status: 204 };
    }
    if (op !== 'read') throw unsupportedOperation();
    const secret = this.#secrets.get(path);
    if (!secret) throw notFound();
    const versions: Record<string, unknown> = {};
    for (const [number, version] of secret.versions) {
      versions[String(number)] = {
        created_time: version.createdTime,
        deletion_time: version.deletionTime,
        destroyed: version.destroyed,
      };
    }
    return {
      status: 200,
      data: {
        cas_required: false,
        created_time: secret.createdTime,
        current_version: secret.currentVersion,
        custom_metadata: null,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: 0,
        updated_time: secret.updatedTime,
        versions,
      },
    };
  }

  #versionsOp(area: 'delete' | 'undelete' | 'destroy', path: string, fields: Fields): EngineResponse {
    const raw = fields.versions;
    if (!Array.isArray(raw) || raw.length === 0) throw userError('no version number provided');
    const secret = this.#secrets.get(path);
    for (const entry of raw) {
      const number = readInt({ v: entry }, 'v');
      const version = number === undefined ? undefined : secret?.versions.get(number);
      if (!version) continue;
      if (area === 'delete' && version.deletionTime === '') version.deletionTime = this.#time();
      if (area === 'undelete' && !version.destroyed) version.deletionTime = '';
      if (area === 'destroy') {
        version.destroyed = true;
        version.data = null;
      }
    }
    return { status: 204 };
  }
}

function versionMetadata(number: number, version: Version): Record<string, unknown> {
  return {
    created_time: version.createdTime,
    custom_metadata: null,
    deletion_time: version.deletionTime,
    destroyed: version.destroyed,
    version: number,
  };
}
