import type { RawFinding, RuleId, Severity } from './finding.ts';
import { JS_EXTENSIONS, type ParsedModule, parseModule } from './js-ast.ts';
import { SourceText } from './source-text.ts';

/** What a file rule sees: one file, its text, and the parsed module when it is JS/TS. */
export class FileContext {
  readonly file: string;
  readonly source: SourceText;
  readonly now: Date;
  #module: ParsedModule | undefined;

  constructor(file: string, text: string, now: Date, module?: ParsedModule) {
    this.file = file;
    this.source = new SourceText(text);
    this.now = now;
    this.#module = module;
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
