import type { Fields } from './fields.ts';
import { readInt } from './fields.ts';
import type { MountTable } from './mount-table.ts';
import { noHandler, notImplemented, unsupportedOperation } from './vault-http-error.ts';

/** What the server reports about itself in `sys/health` and `sys/seal-status`. */
export interface ServerIdentity {
  readonly version: string;
  readonly clusterName: string;
  readonly clusterId: string;
}

/** `GET|HEAD sys/health`: 200 when unsealed, `sealedcode` (default 503) when sealed. No token needed. */
export function health(identity: ServerIdentity, sealed: boolean, query: Fields): { status: number; body: unknown } {
  const sealedCode = readInt(query, 'sealedcode') ?? 503;
  const activeCode = readInt(query, 'activecode') ?? 200;
  return {
    status: sealed ? sealedCode : activeCode,
    body: {
      initialized: true,
      sealed,
      standby: false,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(Date.now() / 1000),
      version: identity.version,
      enterprise: false,
      cluster_name: identity.clusterName,
      cluster_id: identity.clusterId,
      echo_duration_ms: 0,
      clock_skew_ms: 0,
    },
  };
}

/** `GET sys/seal-status`: a dev server is a one-of-one Shamir seal with in-memory storage. */
export function sealStatus(identity: ServerIdentity, sealed: boolean): unknown {
  return {
    type: 'shamir',
    initialized: true,
    sealed,
    t: 1,
    n: 1,
    progress: 0,
    nonce: '',
    version: identity.version,
    build_date: '',
    migration: false,
    cluster_name: identity.clusterName,
    cluster_id: identity.clusterId,
    recovery_seal: false,
    storage_type: 'inmem',
  };
}

/** Authenticated `sys/mounts` and `auth/token/lookup-self`. */
export function sysRoute(
  operation: string,
  path: string,
  data: Fields,
  mounts: MountTable,
  token: string,
  startedAt: number,
): { status: number; data?: Record<string, unknown> } | undefined {
  if (path === 'sys/mounts') {
    if (operation !== 'read') throw unsupportedOperation();
    return { status: 200, data: mounts.describe() };
  }
  if (path.startsWith('sys/mounts/')) {
    const mountPath = path.slice('sys/mounts/'.length);
    if (operation === 'update') {
      mounts.enable(mountPath, data);
      return { status: 204 };
    }
    if (operation === 'delete') {
      mounts.disable(mountPath);
      return { status: 204 };
    }
    throw unsupportedOperation();
  }
  if (path === 'auth/token/lookup-self') {
    if (operation !== 'read') throw unsupportedOperation();
    return {
      status: 200,
      data: {
        accessor: '',
        creation_time: Math.floor(startedAt / 1000),
        creation_ttl: 0,
        display_name: 'root',
        entity_id: '',
        expire_time: null,
        explicit_max_ttl: 0,
        id: token,
        meta: null,
        num_uses: 0,
        orphan: true,
        path: 'auth/token/root',
        policies: ['root'],
        renewable: false,
        ttl: 0,
        type: 'service',
      },
    };
  }
  if (/^sys\/(?:policy|policies|auth)(?:\/|$)/.test(path)) throw notImplemented(path.split('/', 2).join('/'));
  if (path.startsWith('auth/') && !path.startsWith('auth/token/'))
    throw notImplemented('auth methods other than tokens');
  if (path.startsWith('sys/') || path.startsWith('auth/')) throw noHandler(path);
  return undefined;
}
