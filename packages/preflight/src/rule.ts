import type { RawFinding, RuleId, Severity } from './finding.ts';
import type { ParsedModule } from './js-ast.ts';
import { JS_EXTENSIONS, parseModule } from './js-parse.ts';
import { SourceText } from './source-text.ts';

import type { SqlTables } from './sql.ts';

export type { SqlTables };

/** What a file rule may ask about the rest of the project, when the caller scans one (`scan()`). */
export interface ProjectLookup {
  /**
   * The scanned JS/TS file an import of `fromFile` names, or `undefined`: a relative path
   * (`./env.js` finds `env.ts`, a directory its `index`) or a workspace package of the scanned tree
   * (`kind` picks `exports` conditions; `either`, the default, follows only when both lead to the
   * same file). Paths are relative to the scan root.
   */
  resolveImport(fromFile: string, specifier: string, kind?: 'import' | 'require' | 'either'): string | undefined;
  /** A scanned file's text, or `undefined` when it is too large. */
  read(file: string): string | undefined;
  /** A scanned JS/TS file, parsed (not kept: callers keep what they derive, in `cache`). */
  parse(file: string): ParsedModule | undefined;
  /** Results rules derive from other files, kept for the whole scan; keys start with the rule's id. */
  readonly cache: Map<string, unknown>;
  /**
   * The `CREATE TABLE`s of the `.sql` files in the package of `fromFile` (its nearest directory
   * with a package.json), without tables that an ALTER TABLE or a rename anywhere changes.
   */
  sqlTables(fromFile: string): SqlTables;
  /** The parsed package.json of the package `file` belongs to (its nearest one), if any. */
  packageManifest(file: string): Readonly<Record<string, unknown>> | undefined;
}

/** What a file rule sees: one file, its text, and the parsed module when it is JS/TS. */
export class FileContext {
  readonly file: string;
  readonly source: SourceText;
  readonly now: Date;
  /** The rest of the project, when the caller scans one (the CLI does; ESLint does not). */
  readonly project: ProjectLookup | undefined;
  #module: ParsedModule | undefined;

  constructor(file: string, text: string, now: Date, module?: ParsedModule, project?: ProjectLookup) {
    this.file = file;
    this.source = new SourceText(text);
    this.now = now;
    this.#module = module;
    this.project = project;
  }

  get text(): string {
    return this.source.text;
  }

  get isJs(): boolean {
    return JS_EXTENSIONS.some((ext) => this.file.endsWith(ext));
  }

  /** Parsed once, shared by every JS rule of the file. */
  get module(): ParsedModule {
    this.#module ??= parseModule(this.file, this.source.text);
    return this.#module;
  }
}

/** Static description of a rule, shared by the CLI, the ESLint plugin, SARIF and the README. */
export interface RuleMeta {
  readonly id: RuleId;
  readonly severity: Severity;
  readonly summary: string;
  readonly fix: string;
}

/** A rule that judges one file at a time (the only kind the ESLint plugin can run). */
export interface FileRule extends RuleMeta {
  appliesTo(file: string): boolean;
  check(context: FileContext): RawFinding[];
}
