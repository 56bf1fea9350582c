import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { auditConfig, MIN_FINGERPRINT_KEY_BYTES } from '../audit.ts';
import { generateDevProfile } from '../dev-profile.ts';
import { ConfigError } from '../errors.ts';
import { checkConfig, type LoadOptions, loadConfig } from '../load.ts';
import { decodeUtf8 } from '../secret-encoding.ts';
import { isSpec, type Schema } from '../spec.ts';
import { isStandardSchema } from '../standard-schema.ts';

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

const USAGE = `Usage: rampart-config <command> --schema <module> [options]

Commands:
  check     validate the environment against the schema (exit 0 valid, 1 invalid, 2 usage)
  audit     print where every key came from and a keyed fingerprint of every secret
  gen-dev   write a dev profile with fresh random dev-marked secrets

The schema module exports the schema as \`schema\` (or default, or --export <name>) and may export
\`loadOptions\` (an object or a function returning one, e.g. with a node-vault client).

Options:
  --schema <path>                 module exporting the schema (required)
  --export <name>                 export name of the schema
  --json                          machine-readable output (check, audit)
  --config-tree <dir>             mounted config-tree directory
  --dev-profile <path>            dev profile (read under development/test only)
  --file-allowlist <dir>          directory NAME_FILE paths must be inside (repeatable)
  --fingerprint-key-file <path>   audit: file holding the audit key (>= 32 bytes)
  --out <path>                    gen-dev: where to write (default .env.development)
  --force                         gen-dev: overwrite an existing file
`;

const COMMANDS = ['check', 'audit', 'gen-dev'];

class UsageError extends Error {}

function defaultIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}

interface Loaded {
  readonly schema: Schema;
  readonly options: LoadOptions;
}

async function loadSchemaModule(path: string, exportName: string | undefined, io: CliIo): Promise<Loaded> {
  const module = (await import(pathToFileURL(resolve(io.cwd, path)).href)) as Record<string, unknown>;
  const names = exportName ? [exportName] : ['schema', 'default'];
  const schema = names
    .map((name) => module[name])
    .find((candidate) => typeof candidate === 'object' && candidate !== null);
  if (!schema || !Object.values(schema).every((spec) => isSpec(spec) || isStandardSchema(spec))) {
    throw new UsageError(`${path} does not export a schema as ${names.join(' or ')}.`);
  }
  const exported = module.loadOptions;
  const options = (
    typeof exported === 'function' ? await (exported as () => unknown)() : (exported ?? {})
  ) as LoadOptions;
  return { schema: schema as Schema, options };
}

function loadOptionsFrom(values: Record<string, unknown>, base: LoadOptions, io: CliIo): LoadOptions {
  const allowlist = values['file-allowlist'] as string[] | undefined;
  // `--file-allowlist "$SECRETS_DIR"` with the variable unset resolved to the working directory and
  // silently widened the allowlist.
  if (allowlist?.some((dir) => dir.trim() === '')) {
    throw new UsageError('--file-allowlist needs a directory; it was given an empty value (an unset variable?)');
  }
  return {
    ...base,
    env: base.env ?? io.env,
    ...(values['config-tree'] ? { configTree: resolve(io.cwd, values['config-tree'] as string) } : {}),
    ...(values['dev-profile'] ? { devProfile: resolve(io.cwd, values['dev-profile'] as string) } : {}),
    ...(allowlist && allowlist.length > 0 ? { fileAllowlist: allowlist.map((dir) => resolve(io.cwd, dir)) } : {}),
  };
}

/**
 * Runs the `rampart-config` command line and returns its exit code. Output never contains a
 * configured value.
 *
 * @example
 * ```ts
 * import { runCli } from '@rampart/config/cli';
 * process.exitCode = await runCli(['check', '--schema', './src/config.ts', '--json']);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    const { positionals, values } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        schema: { type: 'string' },
        export: { type: 'string' },
        json: { type: 'boolean', default: false },
        'config-tree': { type: 'string' },
        'dev-profile': { type: 'string' },
        'file-allowlist': { type: 'string', multiple: true },
        'fingerprint-key-file': { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const command = positionals[0];
    if (values.help || command === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    // A bare invocation is a usage error: the usage goes to stderr, as for every other one.
    if (command === undefined) throw new UsageError('a command is required');
    // Not echoed: a mistyped invocation can put a value where the command goes.
    if (!COMMANDS.includes(command)) throw new UsageError(`unknown command; the commands are ${COMMANDS.join(', ')}`);
    if (positionals.length > 1) {
      throw new UsageError(`unexpected argument after ${command}; options start with -- (e.g. --schema <module>)`);
    }
    if (!values.schema) throw new UsageError('--schema <module> is required');
    const loaded = await loadSchemaModule(values.schema, values.export, io);
    if (command === 'gen-dev') return genDev(loaded.schema, values.out ?? '.env.development', values.force, io);
    const options = loadOptionsFrom(values, loaded.options, io);
    if (command === 'check') return await check(loaded.schema, options, values.json, io);
    if (!values['fingerprint-key-file']) throw new UsageError('audit needs --fingerprint-key-file <path>');
    return await audit(loaded.schema, options, resolve(io.cwd, values['fingerprint-key-file']), values.json, io);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`rampart-config: ${error.message}\n`);
      return error.code === 'ERR_CONFIG_INVALID' || error.code === 'ERR_CONFIG_VAULT_UNAVAILABLE' ? 1 : 2;
    }
    // A schema module can throw anything: null, a string, `{ code: 500 }`. Read only a string code.
    const code = stringProperty(error, 'code');
    if (error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`rampart-config: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    // A schema module that cannot be found: Node's message names the file, and only that file is
    // echoed, only when the message has the form Node writes (a module can throw any message with
    // that code). Nothing else is echoed, SyntaxError included: JSON.parse in the module (say, of a
    // mounted credentials file) quotes the first characters of its input in the message.
    const message = code === undefined ? undefined : unresolvedModule(code, stringProperty(error, 'message'));
    // The name is echoed only when it reads like a class name: a module can set any string there.
    const name = stringProperty(error, 'name');
    const shownName = name !== undefined && /^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name) ? name : 'an error';
    const shownCode = code !== undefined && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? ` (${code})` : '';
    io.stderr(
      message !== undefined
        ? `rampart-config: cannot load the schema module: ${message}\n`
        : `rampart-config: the schema module threw ${shownName}${shownCode}; run it with node to see why.\n`,
    );
    return 2;
  }
}

// Node's own messages for a module it cannot import; the captured part is the file, the only
// part echoed, and the function says why in its own words.
const UNRESOLVED_FORMS: Readonly<Record<string, readonly [RegExp, (file: string) => string]>> = {
  ERR_MODULE_NOT_FOUND: [
    /^Cannot find (?:module|package) '([^'\n]{1,4096})' imported from [^\n]*$/,
    (file) => `cannot find '${file}'`,
  ],
  ERR_UNKNOWN_FILE_EXTENSION: [
    /^Unknown file extension "[^"\n]{0,64}" for ([^\n]{1,4096})$/,
    (file) => `'${file}' has a file extension node cannot import`,
  ],
  ERR_UNSUPPORTED_DIR_IMPORT: [
    /^Directory import '([^'\n]{1,4096})' is not supported[^\n]*$/,
    (file) => `'${file}' is a directory; pass the module file`,
  ],
};

/** Why a module could not be imported, when its message is in Node's form; otherwise `undefined`. */
function unresolvedModule(code: string, message: string | undefined): string | undefined {
  if (message === undefined || !Object.hasOwn(UNRESOLVED_FORMS, code)) return undefined;
  const [form, describe] = UNRESOLVED_FORMS[code]!;
  const file = form.exec(message)?.[1];
  return file === undefined ? undefined : describe(file);
}

/** A string property of something thrown, or `undefined`; never throws (a getter may). */
function stringProperty(thrown: unknown, name: 'code' | 'message' | 'name'): string | undefined {
  if ((typeof thrown !== 'object' && typeof thrown !== 'function') || thrown === null) return undefined;
  try {
    const value: unknown = (thrown as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

async function check(schema: Schema, options: LoadOptions, json: boolean, io: CliIo): Promise<number> {
  const report = await checkConfig(schema, options);
  if (json) {
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const { environment } = report;
    io.stdout(
      `rampart-config check: ${report.ok ? 'OK' : `FAILED (${report.issues.length} problem${report.issues.length === 1 ? '' : 's'})`}\n` +
        `profile: ${environment.profile} (${environment.reason})\n`,
    );
    for (const issue of report.issues) io.stdout(`  - ${issue.message}\n`);
    for (const entry of report.provenance) {
      io.stdout(
        `  ${entry.key.padEnd(28)} ${entry.source.padEnd(11)} ${entry.via ? `via ${entry.via}: ` : ''}${entry.detail}\n`,
      );
    }
  }
  return report.ok ? 0 : 1;
}

async function audit(schema: Schema, options: LoadOptions, keyFile: string, json: boolean, io: CliIo): Promise<number> {
  let key: Buffer;
  try {
    key = readFileSync(keyFile);
  } catch {
    throw new UsageError('the fingerprint key file cannot be read');
  }
  // Strict: a binary key read leniently would lose bytes to U+FFFD and fingerprint under a weaker key.
  const text = decodeUtf8(key);
  if (text === undefined) {
    throw new UsageError(
      'the fingerprint key file is not UTF-8 text; store the key base64 (openssl rand -base64 48 > FILE)',
    );
  }
  const trimmed = text.replace(/\r?\n$/, '');
  if (Buffer.byteLength(trimmed) < MIN_FINGERPRINT_KEY_BYTES) {
    throw new UsageError(
      `the fingerprint key must be at least ${MIN_FINGERPRINT_KEY_BYTES} bytes (openssl rand -base64 48)`,
    );
  }
  const config = await loadConfig(schema, options);
  const entries = auditConfig(config, trimmed);
  if (json) io.stdout(`${JSON.stringify(entries, null, 2)}\n`);
  else {
    for (const entry of entries) {
      io.stdout(
        `${entry.key.padEnd(28)} ${entry.source.padEnd(11)} ${(entry.via ? `via ${entry.via}: ` : '') + entry.detail}${entry.fingerprint ? `  ${entry.fingerprint}` : ''}\n`,
      );
    }
  }
  return 0;
}

function genDev(schema: Schema, out: string, force: boolean, io: CliIo): number {
  const path = resolve(io.cwd, out);
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined;
  }
  // A symlink, dangling or not, would send the secrets wherever it points.
  if (existing?.isSymbolicLink()) throw new UsageError(`${out} is a symbolic link; pass a regular path for --out`);
  if (existing && !force) throw new UsageError(`${out} exists; pass --force to replace it`);
  // A new private file beside the target, renamed over it: the secrets are never written into an
  // existing file (whose mode may be looser), and readers see the old profile or the new one.
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, generateDevProfile(schema), { mode: 0o600, flag: 'wx' });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    const code = (error as { code?: unknown } | null)?.code;
    io.stderr(
      `rampart-config: cannot write ${out}${typeof code === 'string' ? ` (${code})` : ''}; check that its directory exists and is writable.\n`,
    );
    return 2;
  }
  io.stdout(
    `rampart-config gen-dev: wrote ${out}. Load it with loadConfig(schema, { devProfile: '${out}' }); it is read only under APP_ENV/NODE_ENV=development or test.\n`,
  );
  return 0;
}
