import type { RawFinding } from './finding.ts';
import type { RuleMeta } from './rule.ts';

/** A finding of a rule that looks at several files at once; it names the file it points into. */
export interface ProjectFinding extends RawFinding {
  readonly file: string;
}

/** The scanned tree: relative `/`-separated paths of every file, and a reader. */
export interface ProjectContext {
  readonly files: readonly string[];
  /**
   * `.env*` files in directories the scan skips by default (`dist`, `.next`, `coverage`, tool
   * caches; never `node_modules` or `.git`): not scanned, but inside any Docker build context that
   * holds them. Paths only; they are not read.
   */
  readonly excludedDotenv?: readonly string[];
  /** The file's text; `undefined` when it cannot be read (the scan lists it as unreadable). */
  read(file: string): string | undefined;
}

/** A rule over the whole tree (build contexts). Runs in the CLI, not in ESLint. */
export interface ProjectRule extends RuleMeta {
  check(project: ProjectContext): ProjectFinding[];
}
