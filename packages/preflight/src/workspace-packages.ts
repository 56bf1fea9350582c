// Imports of workspace packages (`@acme/config`), resolved to their sources in the scanned tree
// the way Node reads a package.json, closely enough to find a config module: `exports` (exact
// subpaths, `*` patterns ranked as Node ranks them, `null` blocks, the first condition Node would
// take), else `source`/`module`/`main`; a build directory is read as `src/`.
import { posix } from 'node:path';

/** A package of the scanned tree: its directory ('' for the root) and its package.json. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: Readonly<Record<string, unknown>>;
}

/** How the importing file loads the module: the condition Node matches besides `node` and `default`. */
export type ImportKind = 'import' | 'require';

/** The JSON object of a package.json text, or undefined. */
export function manifestOf(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = text === undefined ? undefined : JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Nesting deeper than this in an `exports` value is not read (real ones nest two or three levels). */
const MAX_CONDITION_DEPTH = 8;

/** A target Node accepts: inside the package (`./…`, no `..` leaving it). */
const validTarget = (target: string): boolean => target.startsWith('./') && !posix.normalize(target).startsWith('..');

/**
 * The target Node takes from one `exports` value for `kind`: a string, the first array element
 * that gives one, or the value of the first condition in written order that Node matches (`node`,
 * `import` or `require`, `module-sync`, `default`). `null`: blocked or nothing matches.
 */
function target(value: unknown, kind: ImportKind, depth = 0): string | null {
  if (typeof value === 'string') return validTarget(value) ? value : null;
  if (depth >= MAX_CONDITION_DEPTH || typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = target(item, kind, depth + 1);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [condition, inner] of Object.entries(value)) {
    if (condition !== 'node' && condition !== kind && condition !== 'module-sync' && condition !== 'default') continue;
    const found = target(inner, kind, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/** Node's order of `*` keys: longer prefix first, then the longer key. */
function patternOrder(a: string, b: string): number {
  const prefix = b.indexOf('*') - a.indexOf('*');
  return prefix !== 0 ? prefix : b.length - a.length;
}

/**
 * What `exports` gives for `subpath` ('' for the package itself): the target path, `null` when
 * the package does not export it, `undefined` when the package has no `exports` (anything goes).
 */
function exportTarget(exportsField: unknown, subpath: string, kind: ImportKind): string | null | undefined {
  if (exportsField === undefined) return undefined;
  const isSubpathMap =
    typeof exportsField === 'object' &&
    exportsField !== null &&
    !Array.isArray(exportsField) &&
    Object.keys(exportsField).some((k) => k.startsWith('.'));
  const map = isSubpathMap ? (exportsField as Record<string, unknown>) : { '.': exportsField };
  const key = subpath === '' ? '.' : `./${subpath}`;
  if (Object.hasOwn(map, key) && !key.includes('*')) return target(map[key], kind);
  const patterns = Object.keys(map)
    .filter((k) => k.indexOf('*') >= 0 && k.indexOf('*') === k.lastIndexOf('*'))
    .sort(patternOrder);
  for (const pattern of patterns) {
    const star = pattern.indexOf('*');
    const prefix = pattern.slice(0, star);
    const suffix = pattern.slice(star + 1);
    // The `*` matches at least one character.
    if (key.length <= prefix.length + suffix.length || !key.startsWith(prefix) || !key.endsWith(suffix)) continue;
    const found = target(map[pattern], kind);
    const match = key.slice(prefix.length, key.length - suffix.length);
    return found === null ? null : found.replaceAll('*', match);
  }
  return null;
}

/** `1.2.3` → [1, 2, 3] (pre-release and build ignored). */
function versionOf(text: string): [number, number, number] | undefined {
  const m = /^\s*v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether `version` satisfies a plain range: exact, `^x.y.z`, `~x.y.z`, `*`, `x` (others: no). */
function satisfies(range: string, version: string): boolean {
  const r = range.trim();
  if (r === '*' || r === 'x' || r === '') return true; // npm reads '' as '*'
  const v = versionOf(version);
  const op = /^[\^~=]/.test(r) ? r[0] : '';
  const base = versionOf(op === '' ? r : r.slice(1));
  if (v === undefined || base === undefined || /\s|\|\||[<>]/.test(r)) return false;
  const atLeast = v[0] !== base[0] ? v[0] > base[0] : v[1] !== base[1] ? v[1] > base[1] : v[2] >= base[2];
  if (op === '' || op === '=') return v[0] === base[0] && v[1] === base[1] && v[2] === base[2];
  if (op === '~') return atLeast && v[0] === base[0] && v[1] === base[1];
  // ^: the left-most non-zero part stays.
  if (base[0] > 0) return atLeast && v[0] === base[0];
  if (base[1] > 0) return atLeast && v[0] === 0 && v[1] === base[1];
  return v[0] === 0 && v[1] === 0 && v[2] === base[2];
}

/** The fields of a package.json that list dependencies. */
export const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/** The range under which `manifest` lists `name`, if it does. */
export function dependencyRange(
  manifest: Readonly<Record<string, unknown>> | undefined,
  name: string,
): string | undefined {
  for (const field of DEPENDENCY_FIELDS) {
    const deps = manifest?.[field];
    const range = typeof deps === 'object' && deps !== null ? (deps as Record<string, unknown>)[name] : undefined;
    if (typeof range === 'string') return range;
  }
  return undefined;
}

/**
 * Whether a dependency range means the workspace package: `workspace:`, `file:`, `link:`,
 * `portal:`, or a plain range its version satisfies. `npm:` aliases, `catalog:` and anything else
 * mean a package from the registry.
 */
export function meansWorkspacePackage(range: string | undefined, pkg: WorkspacePackage): boolean {
  if (range === undefined) return true;
  if (/^(workspace|file|link|portal):/.test(range)) return true;
  const version = pkg.manifest.version;
  return typeof version === 'string' && satisfies(range, version);
}

/** `@acme/config/env` → ['@acme/config', 'env']; `config` → ['config', '']. */
export function splitSpecifier(specifier: string): [string, string] {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  return [parts.slice(0, nameLength).join('/'), parts.slice(nameLength).join('/')];
}

/**
 * The paths, relative to the package directory, where the sources of `subpath` of `pkg` may be, in
 * order; empty when the package does not export it. A target in a build directory is tried as
 * `src/` too.
 */
export function workspaceEntryPaths(pkg: WorkspacePackage, subpath: string, kind: ImportKind): string[] {
  const exported = exportTarget(pkg.manifest.exports, subpath, kind);
  if (exported === null) return [];
  const paths: string[] = [];
  if (exported !== undefined) paths.push(exported);
  else if (subpath !== '') paths.push(`./${subpath}`, `./src/${subpath}`);
  else {
    for (const field of ['source', 'module', 'main']) {
      if (typeof pkg.manifest[field] === 'string') paths.push(pkg.manifest[field] as string);
    }
    paths.push('./src/', './');
  }
  const out: string[] = [];
  for (const path of paths) {
    if (/\.d\.[cm]?ts$/.test(path)) continue;
    const relative = path.startsWith('./') || path.startsWith('../') ? path : `./${path}`;
    out.push(relative);
    const built = relative.replace(/^\.\/(?:dist|build|lib|out)\//, './src/');
    if (built !== relative) out.push(built);
  }
  return out;
}
