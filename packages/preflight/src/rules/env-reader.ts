// How env-fallback-literal reads which env variable an expression holds: directly, through a
// getter or a value-keeping call, a `const` bound to a read, a binding destructured from the env
// object, and a `let` whose every later write only falls back.
import { envReadName, isEnvObject } from '../env-reads.ts';
import {
  type AstNode,
  child,
  children,
  memberPropertyName,
  type ParsedModule,
  propertyKeyName,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { type NearestDeclaration, nearestDeclaration, patternIdentifiers } from '../js-scope.ts';
import { configServiceCall } from './config-service.ts';
import { unsetGuard } from './env-getter-kind.ts';
import type { EnvGetters } from './env-getters.ts';

// String methods that keep the value: `process.env.X?.trim() || '…'` still falls back to the literal.
export const VALUE_METHODS = new Set(['trim', 'trimStart', 'trimEnd', 'trimLeft', 'trimRight', 'toString', 'valueOf']);

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

/**
 * `X = X || …`, `X = X?.trim() ?? …`, `X = X ? X : …`, `X = !X ? … : X`: the right side starts from
 * the variable the assignment writes.
 */
function readsItself(assignment: AstNode, name: string): boolean {
  let n = unwrap(child(assignment, 'right'));
  // `X = X ? X : '…'`, and its negation `X = !X ? '…' : X`
  if (n?.type === 'ConditionalExpression') {
    let test = unwrap(child(n, 'test'));
    const negated = test?.type === 'UnaryExpression' && test.operator === '!';
    if (negated) test = unwrap(child(test!, 'argument'));
    const kept = unwrap(child(n, negated ? 'alternate' : 'consequent'));
    return test?.type === 'Identifier' && test.name === name && kept?.type === 'Identifier' && kept.name === name;
  }
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
export function selfAssignedTarget(logical: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | undefined {
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
export class EnvReader {
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
      if (node.type === 'AssignmentExpression') targets = patternIdentifiers(child(node, 'left'), []);
      else if (node.type === 'UpdateExpression') targets = patternIdentifiers(child(node, 'argument'), []);
      else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
        const left = child(node, 'left');
        targets = left?.type === 'VariableDeclaration' ? [] : patternIdentifiers(left, []);
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
  #onlyFallbacks(id: AstNode, initial: AstNode | undefined): boolean {
    const known = this.#fallbackOnly.get(id);
    if (known !== undefined) return known;
    const name = id.name as string;
    const only = (this.#writesByDeclaration().get(id) ?? []).every((write) => {
      if (write === initial) return true;
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
    // A `let`/`var`, initialised from the env (also by its first write, `let s; s = process.env.X`)
    // or destructured from the env object (`let { X } = process.env`), is followed only while
    // every other write to it is a fallback.
    const initial = this.#initialWrite(declaration);
    if (!this.#onlyFallbacks(declaration.id, initial)) return undefined;
    return declaration.kind === 'other'
      ? destructuredEnvName(declaration.id, this.#parentOf, true)
      : this.name(initial ? child(initial, 'right') : declaration.init, 1);
  }

  /**
   * Whether an assignment target is a `let`/`var` declared without a value and read from the env by
   * its first write (`let s; s = process.env.X`): the caller reports it under a form of its own.
   */
  assignedAfterDeclaration(node: AstNode | undefined): boolean {
    const n = unwrap(node);
    if (n?.type !== 'Identifier') return false;
    const declaration = nearestDeclaration(n, n.name as string, this.#parentOf);
    return declaration?.site === 'variable' && this.#initialWrite(declaration) !== undefined;
  }

  /** `let s; s = …`: the first write of a `let`/`var` declared without a value, when it assigns one. */
  #initialWrite(declaration: NearestDeclaration): AstNode | undefined {
    if (declaration.init !== undefined || (declaration.kind !== 'let' && declaration.kind !== 'var')) return undefined;
    const first = this.#writesByDeclaration().get(declaration.id)?.[0];
    const target =
      first?.type === 'AssignmentExpression' && first.operator === '=' ? unwrap(child(first, 'left')) : undefined;
    return target?.type === 'Identifier' && target.name === declaration.id.name ? first : undefined;
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
