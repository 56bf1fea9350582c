import type { RuleId } from '../finding.ts';
import type { ProjectRule } from '../project.ts';
import type { FileRule, RuleMeta } from '../rule.ts';
import { deprecatedWithoutRemoval } from './deprecated-without-removal.ts';
import { dotenvInBuildContext } from './dotenv-in-build-context.ts';
import { envFallbackLiteral } from './env-fallback-literal.ts';
import { seedPlaintextSecret } from './seed-plaintext-secret.ts';
import { staticAdminKey } from './static-admin-key.ts';
import { todoAuth } from './todo-auth.ts';
import { unclassifiedModuleCache } from './unclassified-module-cache.ts';

/** Rules that judge one file: the CLI runs them, and the ESLint plugin runs the JS ones. */
export const FILE_RULES: readonly FileRule[] = [
  envFallbackLiteral,
  seedPlaintextSecret,
  unclassifiedModuleCache,
  staticAdminKey,
  todoAuth,
  deprecatedWithoutRemoval,
];

/** Rules over the whole tree. */
export const PROJECT_RULES: readonly ProjectRule[] = [dotenvInBuildContext];

/**
 * Every rule's description, including the ones the engine itself reports.
 *
 * @example
 * ```ts
 * for (const rule of RULES) console.log(rule.id, rule.severity, rule.summary);
 * ```
 */
export const RULES: readonly RuleMeta[] = [
  ...FILE_RULES,
  ...PROJECT_RULES,
  {
    id: 'audit-coverage',
    severity: 'error',
    summary:
      'The dependency audit could not run, so there is no vulnerability coverage (reported as such, never as a clean result).',
    fix: 'Point --audit at a registry whose advisory endpoint answers, or run the audit elsewhere and record it.',
  },
  {
    id: 'invalid-suppression',
    severity: 'error',
    summary: 'A preflight-ignore comment lacks a rule, an expiry date or a reason, so it suppresses nothing.',
    fix: 'Write "preflight-ignore <rule> until YYYY-MM-DD: <reason>".',
  },
  {
    id: 'parse-error',
    severity: 'error',
    summary: 'A JS/TS file could not be parsed, so the JS rules did not cover it.',
    fix: 'Fix the syntax error, or exclude the file if it is not source code.',
  },
  {
    id: 'not-scanned',
    severity: 'error',
    summary:
      'A file a rule applies to was not scanned (larger than maxFileBytes, or its analysis failed), so no rule covered it.',
    fix: 'Exclude the file if it is generated or vendored (--exclude); otherwise raise maxFileBytes or report the failure.',
  },
];

export const RULE_IDS: ReadonlySet<RuleId> = new Set(RULES.map((r) => r.id));
