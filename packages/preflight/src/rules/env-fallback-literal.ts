import { isEnvObject, isEnvPattern } from '../env-reads.ts';
import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  literalText,
  memberPropertyName,
  propertyKeyName,
  stringRanges,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { moduleBindings } from '../js-module-bindings.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { configServiceCall } from './config-service.ts';
import { finding, ID, secretOrCredentialUrl } from './env-fallback-finding.ts';
import { checkText } from './env-fallback-text.ts';
import { envUnsetGuard, returned, unsetGuard } from './env-getter-kind.ts';
import { EnvGetters } from './env-getters.ts';
import { EnvReader, selfAssignedTarget, VALUE_METHODS } from './env-reader.ts';
import { checkSchemaDefault } from './env-schema-defaults.ts';

/** Module-scope `const NAME = 'literal'` bindings: a fallback through a constant is still a literal. */
function constLiterals(program: AstNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const binding of moduleBindings(program)) {
    const value = binding.kind === 'const' ? stringValue(binding.init) : undefined;
    if (value !== undefined) out.set(binding.name, value);
  }
  return out;
}

function fallbackLiteral(node: AstNode | undefined, constants: ReadonlyMap<string, string>): string | undefined {
  let n = unwrap(node);
  // `a || b || 'lit'`: the last literal of a chain is the fallback.
  while (n?.type === 'LogicalExpression') n = unwrap(child(n, 'right'));
  if (!n) return undefined;
  const direct = literalText(n);
  if (direct !== undefined) return direct;
  if (n.type === 'Identifier') return constants.get(n.name as string);
  return undefined;
}

// The form of a fallback assigned back to the variable it reads (`X = X || '…'` on a `let`).
const REASSIGNED = 'assigned back to the variable';

// The form of a fallback to a `let` read from the env by its first write (`let s; s = process.env.X`),
// followed later than `X ||= …` and `if (!X) X = …` on a variable initialised where it is declared: a
// form of its own, so its baseline key does not shift theirs.
const DECLARED_APART = 'on a variable assigned after its declaration';

const COMPARISON = new Set(['===', '!==', '==', '!=', '<', '>', '<=', '>=']);

/**
 * Whether `(process.env.X ?? '').trim() === ''`: an empty fallback that only feeds a presence
 * check (a fail-closed test), through parentheses and `.trim()`-style calls: compared with the
 * literal `''`, negated with `!`, or its `.length` compared with a number. Compared with anything
 * else (`req.body.token !== (process.env.T || '')`) the empty fallback is the secret: an empty
 * token matches it.
 */
function onlyCompared(node: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  let current = node;
  let parent = parentOf.get(current);
  let length = false;
  while (parent) {
    if (
      parent.type === 'ParenthesizedExpression' ||
      parent.type === 'ChainExpression' ||
      parent.type === 'TSNonNullExpression' ||
      (parent.type === 'CallExpression' &&
        child(parent, 'callee') === current &&
        VALUE_METHODS.has(memberPropertyName(current) ?? ''))
    ) {
      current = parent;
      parent = parentOf.get(current);
      continue;
    }
    if (!length && parent.type === 'MemberExpression' && child(parent, 'object') === current) {
      const property = memberPropertyName(parent);
      if (property === 'length') length = true;
      else if (!VALUE_METHODS.has(property ?? '')) return false;
      current = parent;
      parent = parentOf.get(current);
      continue;
    }
    break;
  }
  if (parent?.type === 'UnaryExpression' && parent.operator === '!') return true;
  if (parent?.type !== 'BinaryExpression' || !COMPARISON.has(parent.operator as string)) return false;
  const other = unwrap(child(parent, child(parent, 'left') === current ? 'right' : 'left'));
  if (length) return other?.type === 'Literal' && typeof other.value === 'number';
  return stringValue(other) === '';
}

function checkJs(context: FileContext): RawFinding[] {
  const { nodes, program, parentOf } = context.module;
  const constants = constLiterals(program);
  const getters = new EnvGetters(context.file, context.module, context.project);
  const env = new EnvReader(getters, context.module);
  const out: RawFinding[] = [];
  for (const node of nodes) {
    if (node.type === 'LogicalExpression' && (node.operator === '||' || node.operator === '??')) {
      // Only the outermost `a || b || 'lit'` reports.
      const parent = parentOf.get(node);
      if (parent?.type === 'LogicalExpression' && child(parent, 'left') === node) continue;
      const value = fallbackLiteral(child(node, 'right'), constants);
      if (value === undefined) continue;
      // `(process.env.X ?? '').trim() === ''` checks for a missing secret; it does not replace it.
      if (value === '' && onlyCompared(node, parentOf)) continue;
      const form = `'${node.operator}'`;
      const names = env.names(child(node, 'left')).map((name) => [name, form] as const);
      // `X = X || '…'` on a `let` from the env (`let { X } = process.env`), which `names` does not
      // follow: a form of its own, so its baseline key does not shift the plain `||` findings.
      const self = selfAssignedTarget(node, parentOf);
      const own = self === undefined ? undefined : env.target(self);
      if (own !== undefined) names.push([own, `${form} ${REASSIGNED}`]);
      const found = names.find(([name]) => secretOrCredentialUrl(name, value));
      if (found) out.push(finding(node, found[0], value, found[1], stringRanges(node, nodes)));
    } else if (node.type === 'ConditionalExpression') {
      const consequent = child(node, 'consequent');
      const alternate = child(node, 'alternate');
      // `X = X ? X : '…'` on a `let` from the env: the variable itself.
      const self = selfAssignedTarget(node, parentOf);
      for (const [read, other] of [
        [consequent, alternate],
        [alternate, consequent],
      ] as const) {
        const direct = env.name(read);
        const name = direct ?? (self && unwrap(read)?.name === self.name ? env.target(self) : undefined);
        const value = literalText(other);
        if (name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
          const form = direct === undefined ? `a ternary ${REASSIGNED}` : 'a ternary';
          out.push(finding(node, name, value, form, stringRanges(node, nodes)));
          break;
        }
      }
    } else if (node.type === 'AssignmentExpression' && (node.operator === '||=' || node.operator === '??=')) {
      // `process.env.X ||= '…'`, `secret ??= '…'` with `let secret = process.env.X`.
      const value = fallbackLiteral(child(node, 'right'), constants);
      const target = child(node, 'left');
      const name = value === undefined ? undefined : env.target(target);
      if (name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
        const form = `'${node.operator}'`;
        const apart = env.assignedAfterDeclaration(target);
        out.push(finding(node, name, value, apart ? `${form} ${DECLARED_APART}` : form, stringRanges(node, nodes)));
      }
    } else if (node.type === 'IfStatement') {
      // `let s = process.env.X; if (!s) s = '…';` (also `s == null`, `s === undefined`, `s === ''`)
      const assignment = unsetGuard(node)?.assignment;
      const value = assignment ? fallbackLiteral(child(assignment, 'right'), constants) : undefined;
      const target = assignment && child(assignment, 'left');
      const name = value !== undefined ? env.target(target) : undefined;
      if (assignment && name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
        const form = env.assignedAfterDeclaration(target)
          ? `an assignment when unset ${DECLARED_APART}`
          : 'an assignment when unset';
        out.push(finding(assignment, name, value, form, stringRanges(assignment, nodes)));
      }
      // `if (!process.env.X) process.env.X = '…'`: `process.env.X ||= '…'` spelled out.
      const direct = envUnsetGuard(node);
      const literal = direct ? fallbackLiteral(child(direct.assignment, 'right'), constants) : undefined;
      if (direct && literal !== undefined && secretOrCredentialUrl(direct.name, literal)) {
        out.push(
          finding(
            direct.assignment,
            direct.name,
            literal,
            "an assignment when unset, like '||='",
            stringRanges(direct.assignment, nodes),
          ),
        );
      }
    } else if (node.type === 'VariableDeclarator' || node.type === 'AssignmentExpression') {
      const declared = child(node, node.type === 'VariableDeclarator' ? 'id' : 'left');
      const init = child(node, node.type === 'VariableDeclarator' ? 'init' : 'right');
      // `const { X = '…' } = process.env`, or `const { env: { X = '…' } } = process`.
      const pattern =
        declared?.type === 'ObjectPattern' && isEnvObject(init)
          ? declared
          : children(declared ?? node, 'properties')
              .map((p) => child(p, 'value'))
              .find(isEnvPattern);
      if (!pattern) continue;
      for (const prop of children(pattern, 'properties')) {
        const name = propertyKeyName(prop);
        const value = child(prop, 'value');
        if (name === undefined || value?.type !== 'AssignmentPattern') continue;
        const literal = literalText(child(value, 'right'));
        if (literal !== undefined && secretOrCredentialUrl(name, literal)) {
          out.push(finding(prop, name, literal, 'a destructuring default', stringRanges(prop, nodes)));
        }
      }
    } else if (
      node.type === 'FunctionDeclaration' ||
      node.type === 'FunctionExpression' ||
      node.type === 'ArrowFunctionExpression'
    ) {
      // `function key() { const v = process.env.X; if (v) return v; return '…'; }` (or `if (!v) return
      // '…'`): a getter of one variable whose `if` falls back; `||`, `??` and ternaries are read where they stand.
      const result = returned(node);
      const value = result?.guarded ? fallbackLiteral(result.fallback, constants) : undefined;
      const name = value === undefined ? undefined : env.name(result?.value);
      if (result?.fallback && name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
        out.push(finding(result.fallback, name, value, 'a guarded return', stringRanges(result.fallback, nodes)));
      }
    } else if (node.type === 'CallExpression') {
      out.push(...checkSchemaDefault(context, node));
      out.push(...checkCallDefault(node, getters, constants, parentOf, nodes));
    }
  }
  return out;
}

/**
 * A fallback passed to or built into a call: `env('X', '…')` (a getter whose second parameter is
 * the fallback), `env('X')` (a getter with its own literal fallback), `config.get('X', '…')` (a
 * Nest ConfigService default).
 */
function checkCallDefault(
  call: AstNode,
  getters: EnvGetters,
  constants: ReadonlyMap<string, string>,
  parentOf: ReadonlyMap<AstNode, AstNode>,
  nodes: readonly AstNode[],
): RawFinding[] {
  const nest = configServiceCall(call, parentOf);
  const [nameArg, fallbackArg] = children(call, 'arguments');
  const name = nest?.name ?? (getters.any ? stringValue(nameArg) : undefined);
  if (name === undefined) return [];
  const kind = nest === undefined ? getters.kindOf(child(call, 'callee')) : undefined;
  let value: string | undefined;
  let form: string;
  if (nest !== undefined || kind === 'default') {
    value = fallbackLiteral(fallbackArg, constants);
    form = nest === undefined ? "a getter's default argument" : `ConfigService.${nest.method}'s default argument`;
  } else if (typeof kind === 'object') {
    value = kind.fallback;
    form = "an env getter's own fallback";
  } else return [];
  // `if (!env('X'))`, `if (!config.get('X', ''))`: a presence check of a read that falls back to ''.
  if (value === '' && onlyCompared(call, parentOf)) return [];
  return value !== undefined && secretOrCredentialUrl(name, value)
    ? [finding(call, name, value, form, stringRanges(call, nodes))]
    : [];
}

const TEXT_FILE = /(\.(sh|bash|zsh|ya?ml|properties|env)$|(^|\/)Dockerfile[^/]*$|\.Dockerfile$|(^|\/)\.env[^/]*$)/;
// Lockfiles are generated, hold no env defaults, and often exceed the size limit.
const LOCKFILE = /(^|\/)(pnpm-lock\.yaml|package-lock\.json|yarn\.lock|npm-shrinkwrap\.json|bun\.lockb?)$/;

/** `env-fallback-literal`: a secret that silently becomes a literal when its variable is missing. */
export const envFallbackLiteral: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A secret-looking environment variable falls back to a literal (a public demo value is critical).',
  fix: 'Remove the fallback and declare the variable as a required secret; fail at start-up when it is missing.',
  appliesTo: (file) => !LOCKFILE.test(file) && (TEXT_FILE.test(file) || /\.[cm]?[jt]sx?$/.test(file)),
  check: (context) => (context.isJs ? checkJs(context) : checkText(context)),
};
