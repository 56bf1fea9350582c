// Imports of workspace packages (`@acme/config`), resolved to their sources in the scanned tree
// the way Node reads a package.json, closely enough to find a config module: `exports` (exact
// subpaths and `*` patterns, `null` blocks), else `source`/`module`/`main`, a build directory
// read as `src/`.

/** A package of the scanned tree: its directory ('' for the root) and its package.json. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: Readonly<Record<string, unknown>>;
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
 * The target paths of one `exports` value, in the order written, under any condition but `types`
 * (declarations hold no code); `null` when the value blocks the subpath.
 */
function targets(value: unknown): string[] | null {
  if (value === null) return null;
  const out: string[] = [];
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') out.push(v);
    else if (depth >= MAX_CONDITION_DEPTH || typeof v !== 'object' || v === null) continue;
    else {
      const entries = Array.isArray(v) ? v.map((x) => ['', x] as const) : Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [condition, inner] = entries[i]!;
        if (condition !== 'types') stack.push([inner, depth + 1]);
      }
    }
  }
  return out;
}

/**
 * What `exports` gives for `subpath` ('' for the package itself): target paths, `null` when the
 * package does not export it, `undefined` when the package has no `exports` (anything goes).
 */
function exportTargets(exportsField: unknown, subpath: string): string[] | null | undefined {
  if (exportsField === undefined) return undefined;
  const map =
    typeof exportsField === 'object' &&
    exportsField !== null &&
    !Array.isArray(exportsField) &&
    Object.keys(exportsField).some((k) => k.startsWith('.'))
      ? (exportsField as Record<string, unknown>)
      : { '.': exportsField };
  const key = subpath === '' ? '.' : `./${subpath}`;
  if (Object.hasOwn(map, key)) return targets(map[key]);
  // `"./*": "./src/*.ts"`: the longest matching prefix wins, as in Node.
  let best: { prefix: string; suffix: string; value: unknown } | undefined;
  for (const [pattern, value] of Object.entries(map)) {
    const star = pattern.indexOf('*');
    if (star < 0) continue;
    const prefix = pattern.slice(0, star);
    const suffix = pattern.slice(star + 1);
    if (key.length < prefix.length + suffix.length || !key.startsWith(prefix) || !key.endsWith(suffix)) continue;
    if (best === undefined || prefix.length > best.prefix.length) best = { prefix, suffix, value };
  }
  if (best === undefined) return null;
  const match = key.slice(best.prefix.length, key.length - best.suffix.length);
  return targets(best.value)?.map((t) => t.replaceAll('*', match)) ?? null;
}

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/**
 * Whether an import of `name` from the package of `importer` means the workspace package: when the
 * importer lists `name` as a dependency, the range must point into the workspace (`workspace:`,
 * `file:`, `link:`, `*`, or one naming the workspace package's version); an npm package of the same
 * name otherwise.
 */
export function meansWorkspacePackage(
  importer: Readonly<Record<string, unknown>> | undefined,
  name: string,
  pkg: WorkspacePackage,
): boolean {
  if (importer === pkg.manifest) return true;
  for (const field of DEPENDENCY_FIELDS) {
    const deps = importer?.[field];
    const range = typeof deps === 'object' && deps !== null ? (deps as Record<string, unknown>)[name] : undefined;
    if (typeof range !== 'string') continue;
    const version = pkg.manifest.version;
    return (
      /^(workspace|file|link|portal):/.test(range) ||
      range.trim() === '*' ||
      (typeof version === 'string' && range.includes(version))
    );
  }
  return true;
}

/** `@acme/config/env` → ['@acme/config', 'env']; `config` → ['config', '']. */
export function splitSpecifier(specifier: string): [string, string] {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  return [parts.slice(0, nameLength).join('/'), parts.slice(nameLength).join('/')];
}

/**
 * The paths, relative to the package directory, where the sources of `subpath` of `pkg` may be;
 * empty when the package does not export it.
 */
export function workspaceEntryPaths(pkg: WorkspacePackage, subpath: string): string[] {
  const exported = exportTargets(pkg.manifest.exports, subpath);
  if (exported === null) return [];
  const paths = exported ?? [];
  if (exported === undefined) {
    if (subpath === '') {
      for (const field of ['source', 'module', 'main']) {
        if (typeof pkg.manifest[field] === 'string') paths.push(pkg.manifest[field] as string);
      }
    } else paths.push(`./${subpath}`);
  }
  if (subpath === '') paths.push('./src/', './');
  else if (exported === undefined) paths.push(`./src/${subpath}`);
  const out: string[] = [];
  for (const path of paths) {
    if (/\.d\.[cm]?ts$/.test(path)) continue;
    const relative = path.startsWith('./') || path.startsWith('../') ? path : `./${path}`;
    out.push(relative);
    // Exports name the build output; the sources sit in src/.
    const built = relative.replace(/^\.\/(?:dist|build|lib|out)\//, './src/');
    if (built !== relative) out.push(built);
  }
  return out;
}
