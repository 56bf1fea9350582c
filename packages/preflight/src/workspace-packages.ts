// Imports of workspace packages (`@acme/config`), resolved to their sources in the scanned tree
// the way Node reads a package.json, closely enough to find a config module: `exports` (exact
// subpaths, `*` patterns ranked as Node ranks them, `null` blocks, the first condition Node would
// take), else `source`/`module`/`main`; a build directory is read as `src/`.
import semver from 'semver';

/** A package of the scanned tree: its directory ('' for the root) and its package.json. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: Readonly<Record<string, unknown>>;
}

/** How the importing file loads the module: the condition Node matches besides `node` and `default`. */
export type ImportKind = 'import' | 'require';

/**
 * How a file's `import` declarations load: `import` in .mjs/.mts files and in packages of
 * `"type": "module"`, `require` in .cjs/.cts files (.cts compiles to require), `either` otherwise (a
 * .js/.jsx/.ts/.tsx file that a compiler or bundler may turn into either).
 */
export function importSyntaxKind(file: string, packageType: unknown): ImportKind | 'either' {
  if (/\.m[jt]s$/.test(file)) return 'import';
  if (isCommonJsFile(file)) return 'require';
  return packageType === 'module' ? 'import' : 'either';
}

/** A `.cjs`/`.cts` file: CommonJS whatever its package's `type` and whatever it imports. */
export function isCommonJsFile(file: string): boolean {
  return /\.c[jt]s$/.test(file);
}

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

/**
 * A target Node accepts: `./` and then no `.`, `..` or `node_modules` segment (Node refuses the
 * whole resolution otherwise, so does this).
 */
const validTarget = (target: string): boolean =>
  target.startsWith('./') &&
  target
    .slice(2)
    .split(/[\\/]/)
    .every((segment) => segment !== '.' && segment !== '..' && segment.toLowerCase() !== 'node_modules');

/** What Node makes of an invalid target or configuration: an error, so nothing is followed. */
const INVALID = Symbol('invalid');

/**
 * The target Node takes from one `exports` value for `kind`, as in Node's PACKAGE_TARGET_RESOLVE:
 * a valid string; `null` blocks (also a matching condition or an array element that is `null`, and
 * an empty array); an object tries the conditions Node matches (`node`, `import` or `require`,
 * `module-sync`, `default`) in written order and gives `undefined` when none resolves; an array
 * takes its first element that resolves, skipping invalid ones. INVALID stands for Node's error.
 */
function target(value: unknown, kind: ImportKind, depth = 0): string | null | undefined | typeof INVALID {
  if (typeof value === 'string') return validTarget(value) ? value : INVALID;
  if (value === null) return null;
  if (depth >= MAX_CONDITION_DEPTH || typeof value !== 'object') return INVALID;
  if (Array.isArray(value)) {
    let last: null | typeof INVALID = null;
    for (const item of value) {
      const found = target(item, kind, depth + 1);
      if (found === INVALID) last = INVALID;
      else if (found !== undefined) return found;
    }
    return last;
  }
  const conditions = Object.keys(value);
  // Node refuses numeric condition keys.
  if (conditions.some((c) => /^\d+$/.test(c))) return INVALID;
  for (const condition of conditions) {
    if (condition !== 'node' && condition !== kind && condition !== 'module-sync' && condition !== 'default') continue;
    const found = target((value as Record<string, unknown>)[condition], kind, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
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
  const keys = typeof exportsField === 'object' && exportsField !== null ? Object.keys(exportsField) : [];
  const subpathKeys = !Array.isArray(exportsField) && keys.some((k) => k.startsWith('.'));
  // Subpath keys mixed with condition keys: Node refuses the package.json.
  if (subpathKeys && !keys.every((k) => k.startsWith('.'))) return null;
  const map = subpathKeys ? (exportsField as Record<string, unknown>) : { '.': exportsField };
  const key = subpath === '' ? '.' : `./${subpath}`;
  // A subpath with `.`, `..` or empty segments is no valid specifier.
  if (subpath !== '' && subpath.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
  if (Object.hasOwn(map, key) && !key.includes('*')) return valid(target(map[key], kind));
  const patterns = Object.keys(map)
    .filter((k) => k.indexOf('*') >= 0 && k.indexOf('*') === k.lastIndexOf('*'))
    .sort(patternOrder);
  for (const pattern of patterns) {
    const star = pattern.indexOf('*');
    const prefix = pattern.slice(0, star);
    const suffix = pattern.slice(star + 1);
    // The `*` matches at least one character.
    if (key.length <= prefix.length + suffix.length || !key.startsWith(prefix) || !key.endsWith(suffix)) continue;
    const found = valid(target(map[pattern], kind));
    const filled = found?.replaceAll('*', key.slice(prefix.length, key.length - suffix.length));
    return filled !== undefined && validTarget(filled) ? filled : null;
  }
  return null;
}

/** A target, or null for a blocked, invalid or missing one. */
const valid = (found: string | null | undefined | typeof INVALID): string | null =>
  typeof found === 'string' ? found : null;

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
 * `portal:`, or a semver range its version satisfies (prereleases as semver reads them). `npm:`
 * aliases, `catalog:` and anything else mean a package from the registry.
 */
export function meansWorkspacePackage(range: string | undefined, pkg: WorkspacePackage): boolean {
  if (range === undefined) return true;
  if (/^(workspace|file|link|portal):/.test(range)) return true;
  if (/^[a-z]+:/i.test(range)) return false; // npm:, catalog:, git:, http: …
  const version = pkg.manifest.version;
  // Real ranges are short; a huge one is no range worth seconds of parsing.
  return (
    typeof version === 'string' &&
    range.length <= 256 &&
    semver.valid(version) !== null &&
    semver.satisfies(version, range)
  );
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
