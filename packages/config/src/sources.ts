import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import type { ConfigIssue } from './errors.ts';
import { decodeUtf8 } from './secret-encoding.ts';

/** Where a raw value was found. `vault` is added when a reference is resolved. */
export type ProvenanceSource = 'env' | 'file' | 'tree' | 'vault' | 'dev-profile' | 'default' | 'override' | 'unset';

/** A raw value and where it came from. */
export interface RawValue {
  readonly raw: string;
  readonly source: 'env' | 'file' | 'tree' | 'dev-profile';
  /** The variable name, file path or profile path: a locator, never the value. */
  readonly detail: string;
}

/** Everything the source readers need. */
export interface SourceContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly configTree: string | undefined;
  readonly fileAllowlist: readonly string[] | undefined;
  readonly devProfile: { readonly path: string; readonly values: ReadonlyMap<string, string> } | undefined;
  /** The config tree's `..data` generation, resolved once per load (Kubernetes mounts). */
  readonly treeSnapshot?: TreeSnapshot | undefined;
}

/**
 * A Kubernetes-mounted config tree's current generation: `..data` resolved once, so every key is
 * read from the same `..<timestamp>` directory even if kubelet swaps `..data` during the load.
 * `stale` is set when that directory vanished mid-load (kubelet removes the old one after a swap).
 */
export interface TreeSnapshot {
  readonly dir: string;
  stale: boolean;
}

/** The tree's `..data` generation, or `undefined` for a tree without one (a plain directory). */
export function snapshotConfigTree(tree: string): TreeSnapshot | undefined {
  try {
    return { dir: realpathSync(join(tree, '..data')), stale: false };
  } catch {
    return undefined;
  }
}

/** True when the tree entry is kubelet's symlink `KEY -> ..data/KEY`. */
function linksThroughData(entry: string, key: string): boolean {
  try {
    return lstatSync(entry).isSymbolicLink() && normalize(readlinkSync(entry)) === join('..data', key);
  } catch {
    return false;
  }
}

const MAX_FILE_BYTES = 1 << 20;

type FileRead =
  | { readonly ok: true; readonly raw: string }
  | { readonly ok: false; readonly issue: ConfigIssue; readonly missing?: boolean };

/**
 * Reads a secret file the way Docker's `file_env` does: one trailing newline is stripped, an
 * empty file is refused. Only regular files up to 1 MiB are read, and only inside the allowlist.
 */
export function readValueFile(
  key: string,
  label: string,
  path: string,
  allowlist: readonly string[] | undefined,
): FileRead {
  let real: string;
  try {
    real = realpathSync(resolve(path));
  } catch (error) {
    return unreadable(key, label, error);
  }
  if (allowlist && !allowlist.some((dir) => isInside(real, dir))) {
    return {
      ok: false,
      issue: {
        key,
        code: 'file-outside-allowlist',
        message: `${key}: ${label} points outside the allowed secret directories (${allowlist.join(', ')}). Mount the secret there.`,
      },
    };
  }
  let fd: number | undefined;
  try {
    // Checked before opening: opening a FIFO for reading blocks until a writer appears, which
    // would hang start-up. O_NONBLOCK covers one swapped in between; fstat checks again.
    if (!statSync(real).isFile()) {
      return { ok: false, issue: { key, code: 'file-unreadable', message: `${key}: ${label} is not a regular file.` } };
    }
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      return { ok: false, issue: { key, code: 'file-unreadable', message: `${key}: ${label} is not a regular file.` } };
    }
    if (stat.size > MAX_FILE_BYTES) {
      return { ok: false, issue: { key, code: 'file-unreadable', message: `${key}: ${label} is larger than 1 MiB.` } };
    }
    const buffer = Buffer.alloc(stat.size);
    let offset = 0;
    while (offset < buffer.length) {
      const read = readSync(fd, buffer, offset, buffer.length - offset, offset);
      if (read === 0) break;
      offset += read;
    }
    // Strict: a binary key (`openssl rand 32 > key`) read leniently loads as a different, weaker
    // key with U+FFFD in place of every byte sequence that is not UTF-8.
    const text = decodeUtf8(buffer.subarray(0, offset));
    if (text === undefined) {
      return {
        ok: false,
        issue: {
          key,
          code: 'file-not-text',
          message: `${key}: ${label} is not UTF-8 text. Store a binary key as base64 or hex (\`openssl rand -base64 32\`) and declare it with secret({ encoding: 'base64' }) or 'hex'.`,
        },
      };
    }
    let raw = text;
    if (raw.endsWith('\r\n')) raw = raw.slice(0, -2);
    else if (raw.endsWith('\n')) raw = raw.slice(0, -1);
    if (raw.length === 0) {
      return {
        ok: false,
        issue: { key, code: 'file-empty', message: `${key}: ${label} is empty. Write the value into the file.` },
      };
    }
    return { ok: true, raw };
  } catch (error) {
    return unreadable(key, label, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function unreadable(key: string, label: string, error: unknown): FileRead {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'error';
  return {
    ok: false,
    missing: code === 'ENOENT',
    issue: {
      key,
      code: 'file-unreadable',
      message: `${key}: ${label} cannot be read (${/^E[A-Z]+$/.test(code) ? code : 'read error'}). Check the mount and its permissions.`,
    },
  };
}

function isInside(path: string, dir: string): boolean {
  let base: string;
  try {
    base = realpathSync(dir);
  } catch {
    return false;
  }
  const rel = relative(base, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/** The result of looking a key up in every source. */
export interface Lookup {
  readonly value: RawValue | undefined;
  readonly issues: readonly ConfigIssue[];
}

/**
 * Finds a key's raw value. Exactly one of `NAME`, `NAME_FILE` and the config-tree file may be set
 * (two are refused: which one wins would be a guess); the dev profile fills in only when none is.
 */
function ownString(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  if (!Object.hasOwn(env, name)) return undefined;
  const value = env[name];
  return typeof value === 'string' ? value : undefined;
}

export function lookupKey(key: string, ctx: SourceContext): Lookup {
  const present: RawValue[] = [];
  const issues: ConfigIssue[] = [];
  // Own properties only: a key named like an Object.prototype member (`toString`) must not read
  // the prototype's function.
  const envValue = ownString(ctx.env, key);
  if (envValue !== undefined && envValue !== '') present.push({ raw: envValue, source: 'env', detail: key });
  const fileVar = `${key}_FILE`;
  const filePath = ownString(ctx.env, fileVar);
  const fileSet = filePath !== undefined && filePath !== '';
  let treePath: string | undefined;
  if (ctx.configTree !== undefined) {
    const candidate = join(ctx.configTree, key);
    try {
      realpathSync(candidate);
      treePath = candidate;
    } catch {
      treePath = undefined;
    }
  }
  const count = present.length + (fileSet ? 1 : 0) + (treePath ? 1 : 0);
  if (count > 1) {
    const where = [
      present.length ? key : undefined,
      fileSet ? fileVar : undefined,
      treePath ? `the config tree file ${key}` : undefined,
    ].filter(Boolean);
    issues.push({
      key,
      code: 'ambiguous-source',
      message: `${key}: set in more than one place (${where.join(' and ')}). Keep exactly one.`,
    });
    return { value: undefined, issues };
  }
  if (fileSet) {
    const read = readValueFile(key, fileVar, filePath, ctx.fileAllowlist);
    if (!read.ok) return { value: undefined, issues: [read.issue] };
    return { value: { raw: read.raw, source: 'file', detail: filePath }, issues };
  }
  if (treePath) {
    const snapshot = ctx.treeSnapshot;
    const fromSnapshot = snapshot !== undefined && linksThroughData(treePath, key);
    const read = readValueFile(
      key,
      `the config tree file ${key}`,
      fromSnapshot ? join(snapshot.dir, key) : treePath,
      undefined,
    );
    if (!read.ok) {
      // The generation this load began with was removed: the caller reads the tree again.
      if (fromSnapshot && read.missing) snapshot.stale = true;
      return { value: undefined, issues: [read.issue] };
    }
    return { value: { raw: read.raw, source: 'tree', detail: treePath }, issues };
  }
  if (present[0]) return { value: present[0], issues };
  const dev = ctx.devProfile?.values.get(key);
  if (ctx.devProfile && dev !== undefined && dev !== '') {
    return { value: { raw: dev, source: 'dev-profile', detail: ctx.devProfile.path }, issues };
  }
  return { value: undefined, issues };
}
