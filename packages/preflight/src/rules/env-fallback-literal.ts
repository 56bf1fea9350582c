import { envReadName, isEnvObject } from '../env-reads.ts';
import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  memberPath,
  memberPropertyName,
  type ParsedModule,
  propertyKeyName,
  stringRanges,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { moduleBindings } from '../js-module-bindings.ts';
import { nearestDeclaration } from '../js-scope.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { isConstantName, isSecretName } from '../secret-names.ts';
import { configServiceCall } from './config-service.ts';
import { finding, ID, secretOrCredentialUrl } from './env-fallback-finding.ts';
import { checkText } from './env-fallback-text.ts';
import { returned, unsetGuard } from './env-getter-kind.ts';
import { EnvGetters } from './env-getters.ts';

/** Module-scope `const NAME = 'literal'` bindings: a fallback through a constant is still a literal. */
function constLiterals(program: AstNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const binding of moduleBindings(program)) {
    const value = binding.kind === 'const' ? stringValue(binding.init) : undefined;
    if (value !== undefined) out.set(binding.name, value);
  }
  return out;
}

// String methods that keep the value: `process.env.X?.trim() || '…'` still falls back to the literal.
const VALUE_METHODS = new Set(['trim', 'trimStart', 'trimEnd', 'trimLeft', 'trimRight', 'toString', 'valueOf']);

/**
 * `const { X } = process.env`, `const { X: k = d } = c.env`, `const { X } = env(c)`: the variable a
 * declaration destructured from the env object at the top of its pattern holds, given its
 * identifier. Only a `const` unless `reassignable` (`let`/`var` too, for an assignment target whose
 * every assignment the caller has checked).
 */
function destructuredEnvName(
  id: AstNode,
  parentOf: ReadonlyMap<AstNode, AstNode>,
  reassignable = false,
): string | undefined {
  let property = parentOf.get(id);
  if (property?.type === 'AssignmentPattern' && child(property, 'left') === id) property = parentOf.get(property);
  const pattern = property?.type === 'Property' ? parentOf.get(property) : undefined;
  const declarator = pattern?.type === 'ObjectPattern' ? parentOf.get(pattern) : undefined;
  if (declarator?.type !== 'VariableDeclarator' || child(declarator, 'id') !== pattern) return undefined;
  const kind = parentOf.get(declarator)?.kind;
  if ((kind !== 'const' && !reassignable) || !isEnvObject(child(declarator, 'init'))) return undefined;
  return propertyKeyName(property as AstNode);
}

/** The identifiers an assignment pattern writes (`[a, b] = …`, `({ a, b: c } = …)`), into `out`. */
function assignedIdentifiers(pattern: AstNode | undefined, out: AstNode[]): AstNode[] {
  const stack = [pattern];
  while (stack.length > 0) {
    const p = unwrap(stack.pop());
    if (p?.type === 'Identifier') out.push(p);
    else if (p?.type === 'AssignmentPattern') stack.push(child(p, 'left'));
    else if (p?.type === 'RestElement') stack.push(child(p, 'argument'));
    else if (p?.type === 'ArrayPattern') stack.push(...children(p, 'elements'));
    else if (p?.type === 'ObjectPattern') {
      for (const property of children(p, 'properties')) {
        stack.push(property.type === 'RestElement' ? property : child(property, 'value'));
      }
    }
  }
  return out;
}

/** `X = X || …`, `X = X?.trim() ?? …`: the right side starts from the variable the assignment writes. */
function readsItself(assignment: AstNode, name: string): boolean {
  let n = unwrap(child(assignment, 'right'));
  while (n?.type === 'LogicalExpression') n = unwrap(child(n, 'left'));
  for (;;) {
    const callee = n?.type === 'CallExpression' ? unwrap(child(n, 'callee')) : undefined;
    if (callee?.type !== 'MemberExpression' || !VALUE_METHODS.has(memberPropertyName(callee) ?? '')) break;
    n = unwrap(child(callee, 'object'));
  }
  return n?.type === 'Identifier' && n.name === name;
}

/** `if (!X) X = …` (a block may log first): the `if` whose unset guard this assignment is. */
function isGuardAssignment(assignment: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  let holder = parentOf.get(assignment);
  while (holder?.type === 'ParenthesizedExpression') holder = parentOf.get(holder);
  if (holder?.type !== 'ExpressionStatement') return false;
  let statement = parentOf.get(holder);
  if (statement?.type === 'BlockStatement') statement = parentOf.get(statement);
  return statement?.type === 'IfStatement' && unsetGuard(statement)?.assignment === assignment;
}

/**
 * `X = X || '…'`, `X = X ?? '…'`: the variable `X` a `||`/`??` chain is assigned back to when its
 * first operand reads `X` itself.
 */
function selfAssignedTarget(logical: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | undefined {
  let current = logical;
  let parent = parentOf.get(current);
  while (parent?.type === 'ParenthesizedExpression') {
    current = parent;
    parent = parentOf.get(current);
  }
  if (parent?.type !== 'AssignmentExpression' || parent.operator !== '=' || child(parent, 'right') !== current) {
    return undefined;
  }
  const target = unwrap(child(parent, 'left'));
  return target?.type === 'Identifier' && readsItself(parent, target.name as string) ? target : undefined;
}

/**
 * Reads env variable names out of expressions: directly (`process.env.X`), through a getter
 * (`read('X')`), through value-keeping method calls (`process.env.X?.trim()`), and through a `const`
 * bound to one of those (`const k = process.env.X; … k || '…'`) or destructured from the env object
 * (`const { X } = process.env; … X || '…'`), the binding found by scope.
 */
class EnvReader {
  readonly #getters: EnvGetters;
  readonly #parentOf: ReadonlyMap<AstNode, AstNode>;
  readonly #nodes: readonly AstNode[];
  // Declaring identifier → the writes to it (assignments, updates, loop heads), built on first use.
  #writes: Map<AstNode, AstNode[]> | undefined;
  // Declaring identifier → whether every write to it falls back: each variable's writes are read once.
  readonly #fallbackOnly = new Map<AstNode, boolean>();

  constructor(getters: EnvGetters, module: ParsedModule) {
    this.#getters = getters;
    this.#parentOf = module.parentOf;
    this.#nodes = module.nodes;
  }

  /** Every write to a variable in the file, by the identifier that declares it: one pass, one scope lookup per write. */
  #writesByDeclaration(): Map<AstNode, AstNode[]> {
    if (this.#writes) return this.#writes;
    const writes = new Map<AstNode, AstNode[]>();
    for (const node of this.#nodes) {
      let targets: AstNode[];
      if (node.type === 'AssignmentExpression') targets = assignedIdentifiers(child(node, 'left'), []);
      else if (node.type === 'UpdateExpression') targets = assignedIdentifiers(child(node, 'argument'), []);
      else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
        const left = child(node, 'left');
        targets = left?.type === 'VariableDeclaration' ? [] : assignedIdentifiers(left, []);
      } else continue;
      for (const target of targets) {
        const declaration = nearestDeclaration(target, target.name as string, this.#parentOf);
        if (declaration === undefined) continue;
        const list = writes.get(declaration.id);
        if (list) list.push(node);
        else writes.set(declaration.id, [node]);
      }
    }
    this.#writes = writes;
    return writes;
  }

  /**
   * Whether every write to a `let`/`var` only falls back (`X ||= …`, `X ??= …`, `X = X || …`,
   * `if (!X) X = …`): a variable given a value from anywhere else may no longer hold the env read.
   */
  #onlyFallbacks(id: AstNode): boolean {
    const known = this.#fallbackOnly.get(id);
    if (known !== undefined) return known;
    const name = id.name as string;
    const only = (this.#writesByDeclaration().get(id) ?? []).every((write) => {
      if (write.type !== 'AssignmentExpression') return false;
      const target = unwrap(child(write, 'left'));
      if (target?.type !== 'Identifier' || target.name !== name) return false;
      if (write.operator === '||=' || write.operator === '??=') return true;
      return write.operator === '=' && (readsItself(write, name) || isGuardAssignment(write, this.#parentOf));
    });
    this.#fallbackOnly.set(id, only);
    return only;
  }

  /** The env variable an expression reads, or `undefined`. */
  name(node: AstNode | undefined, depth = 0): string | undefined {
    const direct = envReadName(node);
    if (direct !== undefined) return direct;
    const n = unwrap(node);
    if (!n || depth > 8) return undefined;
    if (n.type === 'CallExpression') {
      const callee = unwrap(child(n, 'callee'));
      if (callee?.type === 'MemberExpression' && VALUE_METHODS.has(memberPropertyName(callee) ?? '')) {
        return this.name(child(callee, 'object'), depth + 1);
      }
      // `config.get('X')` on a Nest ConfigService; `getOrThrow('X')` throws when X is missing.
      const nest = configServiceCall(n, this.#parentOf);
      if (nest !== undefined) return nest.method === 'get' ? nest.name : undefined;
      if (!this.#getters.any) return undefined;
      const name = stringValue(children(n, 'arguments')[0]);
      return name !== undefined && this.#getters.kindOf(child(n, 'callee')) !== undefined ? name : undefined;
    }
    if (n.type === 'Identifier') {
      const declaration = nearestDeclaration(n, n.name as string, this.#parentOf);
      if (declaration?.kind === 'const') return this.name(declaration.init, depth + 1);
      return declaration?.site === 'variable' ? destructuredEnvName(declaration.id, this.#parentOf) : undefined;
    }
    // `const e = c.env; … e.X`: a property of a const bound to the env object.
    const object = n.type === 'MemberExpression' ? unwrap(child(n, 'object')) : undefined;
    if (object?.type === 'Identifier') {
      const declaration = nearestDeclaration(object, object.name as string, this.#parentOf);
      if (declaration?.kind === 'const' && isEnvObject(declaration.init)) return memberPropertyName(n);
    }
    return undefined;
  }

  /** The env variable an assignment target holds: `process.env.X`, or a variable initialised from one. */
  target(node: AstNode | undefined): string | undefined {
    const direct = envReadName(node);
    if (direct !== undefined) return direct;
    const n = unwrap(node);
    if (n?.type !== 'Identifier') return undefined;
    const declaration = nearestDeclaration(n, n.name as string, this.#parentOf);
    if (declaration?.site !== 'variable') return undefined;
    if (declaration.kind === 'const') return this.name(declaration.init, 1);
    // A `let`/`var`, initialised from the env or destructured from the env object (`let { X } =
    // process.env`), is followed only while every write to it is a fallback.
    if (!this.#onlyFallbacks(declaration.id)) return undefined;
    return declaration.kind === 'other'
      ? destructuredEnvName(declaration.id, this.#parentOf, true)
      : this.name(declaration.init, 1);
  }

  /** Names read from the env on one side of `||`/`??`, through nested chains (iteratively: any length). */
  names(node: AstNode | undefined): string[] {
    const out: string[] = [];
    const stack: Array<AstNode | undefined> = [node];
    while (stack.length > 0) {
      const n = unwrap(stack.pop());
      if (!n) continue;
      const name = this.name(n);
      if (name !== undefined) out.push(name);
      else if (n.type === 'LogicalExpression') stack.push(child(n, 'right'), child(n, 'left'));
    }
    return out;
  }
}

function fallbackLiteral(node: AstNode | undefined, constants: ReadonlyMap<string, string>): string | undefined {
  let n = unwrap(node);
  // `a || b || 'lit'`: the last literal of a chain is the fallback.
  while (n?.type === 'LogicalExpression') n = unwrap(child(n, 'right'));
  if (!n) return undefined;
  const direct = stringValue(n);
  if (direct !== undefined) return direct;
  if (n.type === 'Identifier') return constants.get(n.name as string);
  return undefined;
}

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

function envSchemaContext(node: AstNode, context: FileContext): boolean {
  // A zod/valibot object is an env schema when its keys are SCREAMING_CASE, when it sits in a
  // `createEnv` call, or when it is bound to a name that says env.
  let current: AstNode | undefined = node;
  const parentOf = context.module.parentOf;
  while (current) {
    if (current.type === 'CallExpression') {
      const callee = memberPath(child(current, 'callee'))?.join('.') ?? '';
      if (/createEnv|cleanEnv|parseEnv/.test(callee)) return true;
    }
    if (current.type === 'VariableDeclarator') {
      const id = child(current, 'id');
      if (id?.type === 'Identifier' && /env|config/i.test(id.name as string)) return true;
    }
    current = parentOf.get(current);
  }
  return false;
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
      const names = env.names(child(node, 'left'));
      // `X = X || '…'` on a `let` from the env (`let { X } = process.env`), which `names` does not follow.
      const self = selfAssignedTarget(node, parentOf);
      const own = self === undefined ? undefined : env.target(self);
      if (own !== undefined) names.push(own);
      for (const name of names) {
        if (secretOrCredentialUrl(name, value)) {
          out.push(finding(node, name, value, `'${node.operator}'`, stringRanges(node, nodes)));
          break;
        }
      }
    } else if (node.type === 'ConditionalExpression') {
      const consequent = child(node, 'consequent');
      const alternate = child(node, 'alternate');
      for (const [read, other] of [
        [consequent, alternate],
        [alternate, consequent],
      ] as const) {
        const name = env.name(read);
        const value = stringValue(other);
        if (name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
          out.push(finding(node, name, value, 'a ternary', stringRanges(node, nodes)));
          break;
        }
      }
    } else if (node.type === 'AssignmentExpression' && (node.operator === '||=' || node.operator === '??=')) {
      // `process.env.X ||= '…'`, `secret ??= '…'` with `let secret = process.env.X`.
      const value = fallbackLiteral(child(node, 'right'), constants);
      const name = value === undefined ? undefined : env.target(child(node, 'left'));
      if (name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
        out.push(finding(node, name, value, `'${node.operator}'`, stringRanges(node, nodes)));
      }
    } else if (node.type === 'IfStatement') {
      // `let s = process.env.X; if (!s) s = '…';` (also `s == null`, `s === undefined`, `s === ''`)
      const assignment = unsetGuard(node)?.assignment;
      const value = assignment ? fallbackLiteral(child(assignment, 'right'), constants) : undefined;
      const name = assignment && value !== undefined ? env.target(child(assignment, 'left')) : undefined;
      if (assignment && name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
        out.push(finding(assignment, name, value, 'an assignment when unset', stringRanges(assignment, nodes)));
      }
    } else if (node.type === 'VariableDeclarator' || node.type === 'AssignmentExpression') {
      const pattern = child(node, node.type === 'VariableDeclarator' ? 'id' : 'left');
      const init = child(node, node.type === 'VariableDeclarator' ? 'init' : 'right');
      if (pattern?.type !== 'ObjectPattern' || !isEnvObject(init)) continue;
      for (const prop of children(pattern, 'properties')) {
        const name = propertyKeyName(prop);
        const value = child(prop, 'value');
        if (name === undefined || value?.type !== 'AssignmentPattern') continue;
        const literal = stringValue(child(value, 'right'));
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

const ENVALID_DEFAULTS = new Set(['default', 'devDefault']);

function checkSchemaDefault(context: FileContext, call: AstNode): RawFinding[] {
  const { nodes, parentOf } = context.module;
  const callee = unwrap(child(call, 'callee'));
  const args = children(call, 'arguments');
  // envalid: cleanEnv(process.env, { X: str({ default: '…', devDefault: '…' }) }), X a secret name
  const calleeName = callee?.type === 'MemberExpression' ? memberPropertyName(callee) : memberPath(callee)?.at(-1);
  if (calleeName === 'cleanEnv') {
    const spec = unwrap(args[1]);
    if (spec?.type !== 'ObjectExpression') return [];
    const out: RawFinding[] = [];
    for (const prop of children(spec, 'properties')) {
      const name = propertyKeyName(prop);
      const validator = unwrap(child(prop, 'value'));
      if (name === undefined || validator?.type !== 'CallExpression' || !isSecretName(name, 'env')) continue;
      const options = unwrap(children(validator, 'arguments')[0]);
      if (options?.type !== 'ObjectExpression') continue;
      for (const option of children(options, 'properties')) {
        const optionName = propertyKeyName(option);
        const literal = stringValue(child(option, 'value'));
        if (optionName && ENVALID_DEFAULTS.has(optionName) && literal !== undefined) {
          out.push(finding(option, name, literal, `envalid ${optionName}`, stringRanges(option, nodes)));
        }
      }
    }
    return out;
  }
  // zod: X: z.string().min(32).default('…'), X a secret name
  if (callee?.type === 'MemberExpression' && (calleeName === 'default' || calleeName === 'catch')) {
    const literal = stringValue(args[0]);
    if (literal === undefined) return [];
    // Climb the method chain to the property that holds it.
    let top: AstNode = call;
    let parent = parentOf.get(top);
    while (parent && (parent.type === 'MemberExpression' || parent.type === 'CallExpression')) {
      top = parent;
      parent = parentOf.get(top);
    }
    if (parent?.type !== 'Property') return [];
    const name = propertyKeyName(parent);
    if (name === undefined || !isSecretName(name, 'env')) return [];
    if (!isConstantName(name) && !envSchemaContext(parent, context)) return [];
    return [finding(call, name, literal, `a schema .${calleeName}()`, stringRanges(call, nodes))];
  }
  return [];
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
