// ESLint flat-config plugin. Each rule hands the file ESLint is linting, with the ESTree program
// ESLint already parsed (espree or typescript-eslint), to the same engine the CLI uses, so findings,
// suppressions and messages are identical and the file is not parsed twice.
import { isAbsolute, relative, sep } from 'node:path';
import { analyzeFile } from './engine.ts';
import type { Finding, RuleId } from './finding.ts';
import { moduleFromEstree } from './js-parse.ts';
import { FILE_RULES } from './rules/index.ts';
import { TOOL_VERSION } from './version.ts';

// Structural types: importing `eslint` types would make the declaration files depend on an
// optional peer.
interface RuleContext {
  readonly filename: string;
  /** ESLint 9's working directory (`getCwd()` before it). */
  readonly cwd?: string;
  getCwd?(): string;
  readonly sourceCode: {
    readonly text: string;
    readonly ast?: { readonly type?: string };
    readonly visitorKeys?: Readonly<Record<string, readonly string[]>>;
    getAllComments?(): ReadonlyArray<{ type: string; value: string; range?: readonly [number, number] }>;
  };
  report(descriptor: {
    message: string;
    loc: { start: { line: number; column: number }; end: { line: number; column: number } };
  }): void;
}

/** An ESLint rule module as flat config expects it. */
export interface PreflightEslintRule {
  readonly meta: {
    readonly type: 'problem';
    readonly docs: { readonly description: string; readonly recommended: boolean };
    readonly schema: readonly [];
  };
  create(context: RuleContext): { 'Program:exit': () => void };
}

/** The plugin object: `plugins: { '@rampart/preflight': plugin }`. */
export interface PreflightEslintPlugin {
  readonly meta: { readonly name: string; readonly version: string };
  readonly rules: Readonly<Record<string, PreflightEslintRule>>;
  readonly configs: {
    readonly recommended: {
      readonly name: string;
      /** Every JS/TS extension: ESLint (9+) lints only `.js`, `.mjs` and `.cjs` files by default. */
      readonly files: readonly string[];
      readonly plugins: Readonly<Record<string, PreflightEslintPlugin>>;
      readonly rules: Readonly<Record<string, 'error'>>;
    };
  };
}

// ESLint runs every enabled rule on one file before the next file: analysing the file once, with
// all rules, and letting each ESLint rule pick its own findings parses it once instead of seven times.
let last: { file: string; text: string; findings: readonly Finding[] } | undefined;

/**
 * The file as the rules see it: relative to ESLint's working directory, `/`-separated, as the CLI
 * sees it relative to the scan root. Rules match path segments (`tests/`, `seeds/`): the folders
 * above the checkout (`/home/dev/tests/api`) must not decide what a file is.
 */
function projectPath(context: RuleContext): string {
  const cwd = context.cwd ?? context.getCwd?.();
  if (!cwd || !isAbsolute(context.filename)) return context.filename;
  return relative(cwd, context.filename).split(sep).join('/');
}

function analyzeOnce(context: RuleContext): readonly Finding[] {
  const { sourceCode } = context;
  const file = projectPath(context);
  const { text } = sourceCode;
  if (last?.file === file && last.text === text) return last.findings;
  // Reuse ESLint's program when it is ESTree (JS languages); other languages get parsed by oxc.
  const estree =
    sourceCode.ast?.type === 'Program' && sourceCode.visitorKeys && sourceCode.getAllComments
      ? moduleFromEstree(sourceCode.ast, sourceCode.getAllComments(), sourceCode.visitorKeys)
      : undefined;
  last = { file, text, findings: analyzeFile(file, text, estree ? { module: estree } : {}).findings };
  return last.findings;
}

function rule(id: RuleId, description: string): PreflightEslintRule {
  return {
    meta: { type: 'problem', docs: { description, recommended: true }, schema: [] },
    create(context) {
      return {
        'Program:exit'() {
          const findings = analyzeOnce(context);
          for (const f of findings) {
            // Each ESLint rule reports only its own findings; bad suppressions have their own rule.
            if (f.ruleId !== id) continue;
            context.report({
              message: f.message,
              // ESLint columns are 0-based.
              loc: {
                start: { line: f.start.line, column: f.start.column - 1 },
                end: { line: f.end.line, column: f.end.column - 1 },
              },
            });
          }
        },
      };
    },
  };
}

const JS_RULES: ReadonlyArray<{ readonly id: RuleId; readonly summary: string }> = [
  ...FILE_RULES,
  { id: 'invalid-suppression', summary: 'A preflight-ignore comment lacks a rule, an expiry date or a reason.' },
];

const rules: Record<string, PreflightEslintRule> = Object.fromEntries(
  JS_RULES.map((r) => [r.id, rule(r.id, r.summary)]),
);

const plugin: PreflightEslintPlugin = {
  meta: { name: '@rampart/preflight', version: TOOL_VERSION },
  rules,
  configs: {
    recommended: {
      name: '@rampart/preflight/recommended',
      // Without `files`, ESLint would skip `.ts`/`.tsx`/`.jsx` files silently. TypeScript syntax still
      // needs a TypeScript parser (typescript-eslint), as for any other ESLint rule.
      files: ['**/*.{js,mjs,cjs,jsx,ts,mts,cts,tsx}'],
      plugins: {},
      rules: Object.fromEntries(JS_RULES.map((r) => [`@rampart/preflight/${r.id}`, 'error' as const])),
    },
  },
};
(plugin.configs.recommended.plugins as Record<string, PreflightEslintPlugin>)['@rampart/preflight'] = plugin;

/**
 * The ESLint plugin. The `recommended` flat config enables every JS/TS rule; project rules
 * (`dotenv-in-build-context`, `audit-coverage`) need the CLI because they look beyond one file.
 *
 * @example
 * ```js
 * // eslint.config.js
 * import preflight from '@rampart/preflight/eslint';
 * export default [preflight.configs.recommended];
 * ```
 */
export default plugin;
