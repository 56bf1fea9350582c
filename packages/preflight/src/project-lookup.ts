// What a file rule may ask about the rest of a scanned project: the file an import names (env
// helpers in config modules, also of workspace packages) and the tables that SQL files create
// (seeds without column lists). Nothing parsed is kept here: rules keep what they derive in the
// lookup's cache.
import { posix } from 'node:path';
import type { ParsedModule } from './js-ast.ts';
import { JS_EXTENSIONS, parseModule } from './js-parse.ts';
import type { ProjectLookup } from './rule.ts';
import { type SqlTables, sqlChangedTables, sqlCreatedTables } from './sql.ts';
import {
  dependencyRange,
  type ImportKind,
  manifestOf,
  meansWorkspacePackage,
  splitSpecifier,
  type WorkspacePackage,
  workspaceEntryPaths,
} from './workspace-packages.ts';

/** The file a relative import names, the way TypeScript and Node look for it. */
export function importTarget(files: ReadonlySet<string>, fromFile: string, specifier: string): string | undefined {
  // './config/' and './' name a directory only: its index, never a file beside it.
  const directoryOnly = specifier.endsWith('/') || specifier === '.' || specifier === '..';
  const base = posix.normalize(posix.join(posix.dirname(fromFile), specifier)).replace(/(.)\/+$/, '$1');
  if (base === '..' || base.startsWith('../')) return undefined;
  const dir = base === '.' ? '' : `${base}/`;
  if (directoryOnly) {
    return JS_EXTENSIONS.map((ext) => `${dir}index${ext}`).find((c) => files.has(c));
  }
  const candidates = [base];
  // TypeScript's ESM imports name the emitted file: './env.js' is './env.ts' in the sources.
  const emitted = /\.([cm]?)jsx?$/.exec(base);
  if (emitted) {
    const stem = base.slice(0, -emitted[0].length);
    candidates.push(`${stem}.${emitted[1]}ts`, ...(emitted[1] === '' ? [`${stem}.tsx`] : []));
  }
  for (const ext of JS_EXTENSIONS) candidates.push(`${base}${ext}`);
  for (const ext of JS_EXTENSIONS) candidates.push(`${dir}index${ext}`);
  return candidates.find((c) => files.has(c) && JS_EXTENSIONS.some((ext) => c.endsWith(ext)));
}

/** How `scan()` reads the project. */
export interface ProjectFiles {
  /** Every scanned file, relative to the root, with `/`. */
  readonly files: readonly string[];
  /** A file's text, or `undefined` when it is too large or cannot be read (never throws). */
  read(file: string): string | undefined;
  /** A package.json's text whatever its size, or `undefined` when it cannot be read. */
  readManifest(file: string): string | undefined;
}

/** The package.json of a directory ('' for the root). */
const manifestPath = (dir: string): string => (dir === '' ? 'package.json' : `${dir}/package.json`);

const sameColumns = (a: readonly (string | undefined)[], b: readonly (string | undefined)[]): boolean =>
  a.length === b.length && a.every((c, i) => c === b[i]);

/** The {@link ProjectLookup} of a scan; everything is computed on first use and kept for the scan. */
export function projectLookup({ files, read, readManifest }: ProjectFiles): ProjectLookup {
  const fileSet = new Set(files);

  // The range under which the importing file's packages list `name`: the nearest package.json up
  // the tree that lists it decides, as Node's node_modules lookup would find that copy first.
  const importerRange = (dir: string, name: string): string | undefined => {
    for (let d: string | undefined = dir; d !== undefined; d = d === '' ? undefined : packageDir(d)) {
      const range = dependencyRange(packageManifest(manifestPath(d)), name);
      if (range !== undefined) return range;
    }
    return undefined;
  };

  // Workspace packages by name, from the scanned package.json files; a name two of them claim
  // (a test fixture copying a package, say) is ambiguous (null) and never followed.
  let packages: Map<string, WorkspacePackage | null> | undefined;
  const resolved = new Map<string, string | undefined>();
  const resolveImport = (
    fromFile: string,
    specifier: string,
    kind: ImportKind | 'either' = 'either',
  ): string | undefined => {
    if (specifier.startsWith('.')) return importTarget(fileSet, fromFile, specifier);
    // Loaded either way: follow only when both ways lead to the same file.
    if (kind === 'either') {
      const asImport = resolveImport(fromFile, specifier, 'import');
      return asImport === resolveImport(fromFile, specifier, 'require') ? asImport : undefined;
    }
    if (packages === undefined) {
      packages = new Map();
      for (const file of files) {
        if (file !== 'package.json' && !file.endsWith('/package.json')) continue;
        const manifest = packageManifest(file);
        if (typeof manifest?.name !== 'string') continue;
        const pkg = { dir: posix.dirname(file).replace(/^\.$/, ''), manifest };
        packages.set(manifest.name, packages.has(manifest.name) ? null : pkg);
      }
    }
    const importer = packageDir(fromFile);
    const key = `${importer}\0${kind}\0${specifier}`;
    if (!resolved.has(key)) {
      const [name, subpath] = splitSpecifier(specifier);
      const pkg = packages.get(name);
      let target: string | undefined;
      if (pkg && (pkg.dir === importer || meansWorkspacePackage(importerRange(importer, name), pkg))) {
        for (const path of workspaceEntryPaths(pkg, subpath, kind)) {
          target = importTarget(fileSet, manifestPath(pkg.dir), path);
          if (target !== undefined) break;
        }
      }
      resolved.set(key, target);
    }
    return resolved.get(key);
  };
  const parse = (file: string): ParsedModule | undefined => {
    const text = JS_EXTENSIONS.some((ext) => file.endsWith(ext)) ? read(file) : undefined;
    return text === undefined ? undefined : parseModule(file, text);
  };

  // The package a file belongs to: the nearest directory with a package.json ('' for the root).
  const packageOf = new Map<string, string>();
  const packageDir = (file: string): string => {
    const dir = posix.dirname(file) === '.' ? '' : posix.dirname(file);
    let known = packageOf.get(dir);
    if (known === undefined) {
      if (dir === '' || fileSet.has(manifestPath(dir))) known = dir;
      else known = packageDir(dir);
      packageOf.set(dir, known);
    }
    return known;
  };

  const manifests = new Map<string, Record<string, unknown> | undefined>();
  const packageManifest = (file: string): Record<string, unknown> | undefined => {
    const dir = packageDir(file);
    if (!manifests.has(dir)) {
      const file = manifestPath(dir);
      manifests.set(dir, fileSet.has(file) ? manifestOf(readManifest(file)) : undefined);
    }
    return manifests.get(dir);
  };

  // Tables of the .sql files of each package, for INSERTs without a column list in seeds kept
  // apart from the migrations that create the tables. A table created with other columns in
  // another file of the package, or touched by an ALTER TABLE, a rename or a migration API call
  // anywhere in the project, is ambiguous (null): nothing is paired through it.
  let changed: Set<string> | undefined;
  const byPackage = new Map<string, SqlTables>();
  const sqlTables = (fromFile: string): SqlTables => {
    if (changed === undefined) {
      changed = new Set();
      for (const file of files) {
        if (!file.endsWith('.sql') && !JS_EXTENSIONS.some((ext) => file.endsWith(ext))) continue;
        const text = read(file);
        if (text === undefined || !/alter|rename|column|table\s*\(/i.test(text)) continue;
        for (const name of sqlChangedTables(text)) changed.add(name);
      }
    }
    const pkg = packageDir(fromFile);
    const cached = byPackage.get(pkg);
    if (cached !== undefined) return cached;
    const tables = new Map<string, readonly (string | undefined)[] | null>();
    for (const file of files) {
      if (!file.endsWith('.sql') || packageDir(file) !== pkg) continue;
      const text = read(file);
      if (text === undefined) continue;
      for (const [name, columns] of sqlCreatedTables(text)) {
        const known = tables.get(name);
        const same = known !== undefined && known !== null && columns !== null && sameColumns(known, columns);
        tables.set(name, known === undefined ? columns : same ? known : null);
      }
    }
    for (const name of tables.keys()) if (changed.has(name)) tables.set(name, null);
    byPackage.set(pkg, tables);
    return tables;
  };

  return { resolveImport, read, parse, sqlTables, packageManifest, cache: new Map() };
}
