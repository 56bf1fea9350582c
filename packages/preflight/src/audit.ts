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
      readonly lockfile: string;
    };

/** Resolved `name → versions` from a lockfile. */
export interface Dependencies {
  readonly lockfile: string;
  readonly packages: ReadonlyMap<string, readonly string[]>;
}

function add(map: Map<string, string[]>, name: string, version: string): void {
  if (!/^\d+\.\d+\.\d+/.test(version)) return;
  const list = map.get(name) ?? [];
  if (!list.includes(version)) list.push(version);
  map.set(name, list);
}

/**
 * Reads resolved versions from `pnpm-lock.yaml` (v6–v9) or `package-lock.json` (v2/v3).
 *
 * @example
 * ```ts
 * readDependencies('.')?.packages.get('lodash'); // ['4.17.21']
 * ```
 */
export function readDependencies(root: string): Dependencies | undefined {
  const pnpm = join(root, 'pnpm-lock.yaml');
  if (existsSync(pnpm)) {
    const map = new Map<string, string[]>();
    let inPackages = false;
    for (const line of readFileSync(pnpm, 'utf8').split('\n')) {
      if (/^\S/.test(line)) inPackages = line.startsWith('packages:');
      if (!inPackages) continue;
      // `  '@scope/name@1.2.3':`, `  name@1.2.3(peer@1):`, or v6 `  /name@1.2.3:`
      const match = /^ {2}'?\/?((?:@[^/@\s']+\/)?[^@\s']+)@([^(:'\s]+)/.exec(line);
      if (match) add(map, match[1]!, match[2]!);
    }
    return { lockfile: 'pnpm-lock.yaml', packages: map };
  }
  const npm = join(root, 'package-lock.json');
  if (existsSync(npm)) {
    const map = new Map<string, string[]>();
    const parsed = JSON.parse(readFileSync(npm, 'utf8')) as {
      packages?: Record<string, { version?: string; link?: boolean }>;
    };
    for (const [path, info] of Object.entries(parsed.packages ?? {})) {
      const at = path.lastIndexOf('node_modules/');
      if (at === -1 || info.link || !info.version) continue;
      add(map, path.slice(at + 'node_modules/'.length), info.version);
    }
    return { lockfile: 'package-lock.json', packages: map };
  }
  return undefined;
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
    }
  }
  return { status: 'covered', dependencies, vulnerablePackages: vulnerable.sort(), advisories, lockfile };
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
    return { status: 'no-coverage', reason: 'no pnpm-lock.yaml or package-lock.json to audit', dependencies: 0 };
  const count = [...deps.packages.values()].reduce((n, v) => n + v.length, 0);
  if (count === 0)
    return { status: 'covered', dependencies: 0, vulnerablePackages: [], advisories: 0, lockfile: deps.lockfile };
  const url = `${options.registry.replace(/\/+$/, '')}/-/npm/v1/security/advisories/bulk`;
  const doFetch = options.fetch ?? fetch;
  try {
    const response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(Object.fromEntries(deps.packages)),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    return interpretAuditResponse(response.status, await response.text(), count, deps.lockfile);
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        ? 'the advisory endpoint did not answer in time'
        : 'the advisory endpoint could not be reached';
    return { status: 'no-coverage', reason, dependencies: count, lockfile: deps.lockfile };
  }
}
