// Dependency audit with honest coverage: the only "0 vulnerabilities" is an answer from an advisory
// endpoint that actually ran. Anything else (405, 5xx, timeout, garbage) is "no coverage".
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The outcome of a dependency audit. */
export type AuditResult =
  | { readonly status: 'not-requested' }
  | {
      readonly status: 'no-coverage';
      /** Why the audit did not run, in words (HTTP status, network error, missing lockfile). */
      readonly reason: string;
      readonly dependencies: number;
      readonly lockfile?: string;
    }
  | {
      readonly status: 'covered';
      readonly dependencies: number;
      readonly vulnerablePackages: readonly string[];
      readonly advisories: number;
      /**
       * What the advisories are about, sorted: `name@versions#id` per advisory (the resolved
       * versions audited, the advisory's id or URL). A baselined audit finding matches only the
       * same set, so a new advisory fails the scan again.
       */
      readonly advisoryIds: readonly string[];
      readonly lockfile: string;
    };

/** Resolved `name → versions` from a lockfile. */
export interface Dependencies {
  readonly lockfile: string;
  readonly packages: ReadonlyMap<string, readonly string[]>;
  /**
   * Set when the lockfile could not be read (not valid JSON, a format version this parser does not
   * know, or entries none of which parsed): `packages` is then empty and must not be audited as clean.
   */
  readonly problem?: string;
}

function add(map: Map<string, string[]>, name: string, version: string): void {
  if (!/^\d+\.\d+\.\d+/.test(version)) return;
  const list = map.get(name) ?? [];
  if (!list.includes(version)) list.push(version);
  map.set(name, list);
}

// A version is named in a reason only when it looks like one: a reason never carries file content.
const shownVersion = (value: unknown): string =>
  (typeof value === 'string' || typeof value === 'number') && /^[\w.]{1,12}$/.test(String(value))
    ? `lockfileVersion ${String(value)}`
    : 'no readable lockfileVersion';

const notUnderstood = (lockfile: string, detail: string): Dependencies => ({
  lockfile,
  packages: new Map(),
  problem: `lockfile format not understood: ${lockfile} ${detail} (supported: ${SUPPORTED})`,
});

const SUPPORTED = 'pnpm-lock.yaml v6–v9, package-lock.json or npm-shrinkwrap.json v2/v3';

function readPnpm(text: string): Dependencies {
  const lockfile = 'pnpm-lock.yaml';
  const version = /^lockfileVersion:\s*['"]?([^'"\s]*)/m.exec(text)?.[1];
  if (!version || !/^[6-9](?:\.\d+)*$/.test(version)) return notUnderstood(lockfile, shownVersion(version));
  const map = new Map<string, string[]>();
  let inPackages = false;
  let entries = 0;
  // The indentation of the entries under `packages:`: pnpm writes two spaces, but any is valid YAML.
  let indent = '';
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\S/.test(line)) inPackages = line.startsWith('packages:');
    if (!inPackages) continue;
    if (indent === '') indent = /^( +)\S/.exec(line)?.[1] ?? '';
    if (indent === '' || !line.startsWith(indent) || /^\s/.test(line.slice(indent.length))) continue;
    entries++;
    // `  '@scope/name@1.2.3':`, `  name@1.2.3(peer@1):`, or v6 `  /name@1.2.3:`
    const match = /^['"]?\/?((?:@[^/@\s'"]+\/)?[^@\s'"]+)@([^(:'"\s]+)/.exec(line.slice(indent.length));
    if (match) add(map, match[1]!, match[2]!);
  }
  if (entries > 0 && map.size === 0)
    return notUnderstood(lockfile, `${shownVersion(version)}: no package entry parsed`);
  return { lockfile, packages: map };
}

function readNpm(text: string, lockfile: string): Dependencies {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { lockfile, packages: new Map(), problem: `${lockfile} is not valid JSON lockfile data` };
  const { lockfileVersion, packages } = parsed as { lockfileVersion?: unknown; packages?: unknown };
  if ((lockfileVersion !== 2 && lockfileVersion !== 3) || typeof packages !== 'object' || packages === null)
    return notUnderstood(lockfile, shownVersion(lockfileVersion));
  const map = new Map<string, string[]>();
  let entries = 0;
  for (const [path, raw] of Object.entries(packages)) {
    const info = (typeof raw === 'object' && raw !== null ? raw : {}) as {
      name?: unknown;
      version?: unknown;
      link?: boolean;
    };
    const at = path.lastIndexOf('node_modules/');
    if (at === -1 || info.link) continue;
    entries++;
    // An alias (`"safe-utils": "npm:lodash@4.17.15"`) is installed under its own folder, but the
    // package in it is `name`: the advisories are about that one.
    const name =
      typeof info.name === 'string' && info.name !== '' ? info.name : path.slice(at + 'node_modules/'.length);
    if (typeof info.version === 'string') add(map, name, info.version);
  }
  if (entries > 0 && map.size === 0)
    return notUnderstood(lockfile, `${shownVersion(lockfileVersion)}: no package entry parsed`);
  return { lockfile, packages: map };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

// Lockfiles by package manager, in the order the manager reads them: npm installs from
// npm-shrinkwrap.json when it is there, whatever package-lock.json says.
const LOCKFILES: ReadonlyArray<readonly [file: string, manager: string, read?: (text: string) => Dependencies]> = [
  ['pnpm-lock.yaml', 'pnpm', readPnpm],
  ['npm-shrinkwrap.json', 'npm', (text) => readNpm(text, 'npm-shrinkwrap.json')],
  ['package-lock.json', 'npm', (text) => readNpm(text, 'package-lock.json')],
  ['yarn.lock', 'yarn'],
  ['bun.lock', 'bun'],
  ['bun.lockb', 'bun'],
];

/** The package manager `packageManager` in package.json names (`pnpm@9.12.0` → `pnpm`). */
function packageManager(root: string): string | undefined {
  const text = readText(join(root, 'package.json'));
  if (text === undefined) return undefined;
  try {
    const value = (JSON.parse(text) as { packageManager?: unknown } | null)?.packageManager;
    return typeof value === 'string' ? /^([a-z]+)@/.exec(value)?.[1] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads resolved versions from `pnpm-lock.yaml` (v6–v9), `npm-shrinkwrap.json` or
 * `package-lock.json` (v2/v3). Any other format, a lockfile of another package manager (yarn, bun),
 * lockfiles of several managers none of which `packageManager` in package.json names, or a
 * lockfile that cannot be read, comes back with `problem` set and no packages.
 *
 * @example
 * ```ts
 * readDependencies('.')?.packages.get('lodash'); // ['4.17.21']
 * ```
 */
export function readDependencies(root: string): Dependencies | undefined {
  let present = LOCKFILES.filter(([file]) => existsSync(join(root, file)));
  if (present.length === 0) return undefined;
  const managers = new Set(present.map(([, manager]) => manager));
  if (managers.size > 1) {
    const named = packageManager(root);
    const chosen = present.filter(([, manager]) => manager === named);
    const files = present.map(([file]) => file).join(', ');
    if (chosen.length === 0)
      return {
        lockfile: files,
        packages: new Map(),
        problem: `several lockfiles: ${files}; set "packageManager" in package.json to the one you install with, or delete the others`,
      };
    present = chosen;
  }
  const [file, manager, read] = present[0]!;
  if (!read)
    return {
      lockfile: file,
      packages: new Map(),
      problem: `${file} is a ${manager} lockfile, which the audit does not read (supported: ${SUPPORTED})`,
    };
  const text = readText(join(root, file));
  if (text === undefined) return { lockfile: file, packages: new Map(), problem: `${file} could not be read` };
  return read(text);
}

/**
 * Judges an advisory endpoint's answer. Only a 200 with a JSON object counts as coverage.
 *
 * @example
 * ```ts
 * interpretAuditResponse(405, '', 120, 'pnpm-lock.yaml').status; // 'no-coverage'
 * ```
 */
export function interpretAuditResponse(
  status: number,
  body: string,
  dependencies: number,
  lockfile: string,
  packages?: ReadonlyMap<string, readonly string[]>,
): AuditResult {
  if (status !== 200) {
    return {
      status: 'no-coverage',
      reason: `the registry's advisory endpoint answered HTTP ${status}`,
      dependencies,
      lockfile,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {
      status: 'no-coverage',
      reason: 'the advisory endpoint answered 200 with a body that is not JSON',
      dependencies,
      lockfile,
    };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {
      status: 'no-coverage',
      reason: 'the advisory endpoint answered 200 with JSON that is not an advisory map',
      dependencies,
      lockfile,
    };
  }
  const vulnerable: string[] = [];
  const ids: string[] = [];
  let advisories = 0;
  for (const [name, list] of Object.entries(parsed)) {
    if (!Array.isArray(list)) {
      return {
        status: 'no-coverage',
        reason: 'the advisory endpoint answered with an unexpected shape',
        dependencies,
        lockfile,
      };
    }
    if (list.length > 0) {
      vulnerable.push(name);
      advisories += list.length;
      const versions = [...(packages?.get(name) ?? [])].sort().join(',');
      list.forEach((advisory: unknown, index) => {
        const { id, url } = (typeof advisory === 'object' && advisory !== null ? advisory : {}) as Record<
          string,
          unknown
        >;
        const ref = typeof id === 'number' || typeof id === 'string' ? id : typeof url === 'string' ? url : `#${index}`;
        ids.push(`${name}@${versions}#${String(ref)}`);
      });
    }
  }
  return {
    status: 'covered',
    dependencies,
    vulnerablePackages: vulnerable.sort(),
    advisories,
    advisoryIds: ids.sort(),
    lockfile,
  };
}

/** Options for `runAudit`. */
export interface AuditOptions {
  /** Registry base URL; the bulk advisory endpoint is `<registry>/-/npm/v1/security/advisories/bulk`. */
  readonly registry: string;
  /** The caller's fetch (default: global fetch). */
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/**
 * Audits the lockfile under `root` against a registry's bulk advisory endpoint.
 *
 * @example
 * ```ts
 * const result = await runAudit('.', { registry: 'https://registry.npmjs.org' });
 * if (result.status !== 'covered') console.error(`no dependency coverage: ${result.status}`);
 * ```
 */
export async function runAudit(root: string, options: AuditOptions): Promise<AuditResult> {
  const deps = readDependencies(root);
  if (!deps)
    return {
      status: 'no-coverage',
      reason: 'no pnpm-lock.yaml, npm-shrinkwrap.json or package-lock.json to audit',
      dependencies: 0,
    };
  if (deps.problem !== undefined)
    return { status: 'no-coverage', reason: deps.problem, dependencies: 0, lockfile: deps.lockfile };
  const count = [...deps.packages.values()].reduce((n, v) => n + v.length, 0);
  if (count === 0)
    return {
      status: 'covered',
      dependencies: 0,
      vulnerablePackages: [],
      advisories: 0,
      advisoryIds: [],
      lockfile: deps.lockfile,
    };
  const url = `${options.registry.replace(/\/+$/, '')}/-/npm/v1/security/advisories/bulk`;
  const doFetch = options.fetch ?? fetch;
  try {
    const response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(Object.fromEntries(deps.packages)),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    return interpretAuditResponse(response.status, await response.text(), count, deps.lockfile, deps.packages);
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        ? 'the advisory endpoint did not answer in time'
        : 'the advisory endpoint could not be reached';
    return { status: 'no-coverage', reason, dependencies: count, lockfile: deps.lockfile };
  }
}
