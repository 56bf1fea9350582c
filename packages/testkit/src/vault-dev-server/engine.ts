import type { Fields } from './fields.ts';

/** What a secrets engine sees of a request: the path below its mount and Vault's operation. */
export interface EngineRequest {
  readonly operation: 'read' | 'update' | 'delete' | 'list' | 'patch';
  /** Path below the mount, without leading or trailing slash. */
  readonly path: string;
  /** The JSON body for writes; the query parameters for reads. */
  readonly data: Fields;
}

/** What an engine answers; the server wraps `data` in Vault's response envelope. */
export interface EngineResponse {
  /** 200 with `data`, 204 without; batch failures answer 400/500 with `data` too. */
  readonly status: number;
  readonly data?: Record<string, unknown>;
  readonly warnings?: readonly string[];
}

/** A mounted secrets engine (`transit` or `kv` version 2). */
export interface SecretsEngine {
  readonly type: 'transit' | 'kv';
  /** `options` as `sys/mounts` reports them (`{ version: '2' }` for KV v2). */
  readonly options: Readonly<Record<string, string>> | null;
  handle(request: EngineRequest): EngineResponse;
}
