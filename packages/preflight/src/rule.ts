import type { RawFinding, RuleId, Severity } from './finding.ts';
import { JS_EXTENSIONS, type ParsedModule, parseModule } from './js-ast.ts';
import { SourceText } from './source-text.ts';

/**
 * Finds the file a relative import of `fromFile` names among the scanned files and parses it, or
 * `undefined` (not a project file, not JS/TS). Paths are relative to the scan root, with `/`.
 */
export type ImportResolver = (
  fromFile: string,
  specifier: string,
) => { readonly file: string; readonly module: ParsedModule } | undefined;

/** Column names of a table, in order; `null` when the project defines it in different ways. */
export type SqlTables = ReadonlyMap<string, readonly (string | undefined)[] | null>;

/** What a file rule may ask about the rest of the project, when the caller scans one (`scan()`). */
export interface ProjectLookup {
  readonly resolveImport: ImportResolver;
  /** Every `CREATE TABLE` of the project's `.sql` files (see `createdTables` in sql.ts). */
  sqlTables(): SqlTables;
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
