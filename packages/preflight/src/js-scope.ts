// Lexical scopes: which declaration a name used at a node refers to, indexed once per scope node.
import { type AstNode, child, children, isNode, unwrap } from './js-ast.ts';

/** The innermost enclosing function of a node, or `undefined` at module scope. */
export function enclosingFunction(node: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | undefined {
  let current = parentOf.get(node);
  while (current) {
    if (
      current.type === 'FunctionDeclaration' ||
      current.type === 'FunctionExpression' ||
      current.type === 'ArrowFunctionExpression'
    ) {
      return current;
    }
    current = parentOf.get(current);
  }
  return undefined;
}

/**
 * The identifiers a binding or assignment pattern declares or writes (`a`, `{ a, b: c }`,
 * `[d, ...e]`, `f = 1`, a TS parameter property), in source order, into `out`. Iterative: patterns
 * nested to any depth.
 */
export function patternIdentifiers(pattern: AstNode | undefined, out: AstNode[]): AstNode[] {
  const stack: Array<AstNode | undefined> = [pattern];
  while (stack.length > 0) {
    const p = unwrap(stack.pop());
    if (p?.type === 'Identifier') out.push(p);
    else if (p?.type === 'AssignmentPattern') stack.push(child(p, 'left'));
    else if (p?.type === 'RestElement') stack.push(child(p, 'argument'));
    else if (p?.type === 'TSParameterProperty') stack.push(child(p, 'parameter'));
    else if (p?.type === 'ArrayPattern') stack.push(...children(p, 'elements').reverse());
    else if (p?.type === 'ObjectPattern') {
      const properties = children(p, 'properties');
      for (let i = properties.length - 1; i >= 0; i--) {
        const property = properties[i]!;
        stack.push(property.type === 'RestElement' ? property : child(property, 'value'));
      }
    }
  }
  return out;
}

/**
 * Whether `name`, used at `node`, is declared by something nearer than module scope: a parameter
 * of an enclosing function, or a declaration in an enclosing block or function body. So a rule
 * that knows a module-scope binding does not mistake a local of the same name for it.
 */
export function isShadowed(node: AstNode, name: string, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  return resolveBinding(node, name, parentOf, { moduleScope: false }) !== undefined;
}

/** The nearest declaration of a name seen from a node: how it was declared and its initializer. */
export interface NearestDeclaration {
  /** `param` for parameters, catch and loop bindings; `other` for functions, classes and destructuring. */
  readonly kind: 'const' | 'let' | 'var' | 'param' | 'other';
  /** The initializer of a plain `const|let|var name = init`. */
  readonly init: AstNode | undefined;
  /** What declares it: a variable declaration, a function parameter, a catch clause, a loop head, a function or class. */
  readonly site: 'variable' | 'parameter' | 'catch' | 'loop' | 'function' | 'class';
  /**
   * The identifier that declares the name, where its type annotation sits; inside a destructuring
   * pattern or a parameter default (`(x: T = d)`) its parent says which.
   */
  readonly id: AstNode;
}

/**
 * The declaration `name` refers to at `node`, searching enclosing blocks, function parameters,
 * catch clauses, loop heads and the module body, or `undefined` for a global.
 */
export function nearestDeclaration(
  node: AstNode,
  name: string,
  parentOf: ReadonlyMap<AstNode, AstNode>,
): NearestDeclaration | undefined {
  return resolveBinding(node, name, parentOf, { moduleScope: true });
}

/** Adds a declaration of each name unless the scope already declares it (the first one wins). */
function declare(
  scope: Map<string, NearestDeclaration>,
  ids: readonly AstNode[],
  declaration: (id: AstNode) => NearestDeclaration,
): void {
  for (const id of ids) if (!scope.has(id.name as string)) scope.set(id.name as string, declaration(id));
}

/** The names the declarators of a `const|let|var` statement bind. */
function declareDeclarators(
  scope: Map<string, NearestDeclaration>,
  statement: AstNode,
  site: 'variable' | 'loop',
): void {
  for (const declarator of children(statement, 'declarations')) {
    const pattern = child(declarator, 'id');
    declare(scope, patternIdentifiers(pattern, []), (id) =>
      site === 'loop'
        ? { kind: 'param', init: undefined, site, id }
        : id === pattern
          ? { kind: statement.kind as 'const' | 'let' | 'var', init: child(declarator, 'init'), site, id }
          : { kind: 'other', init: undefined, site, id },
    );
  }
}

// Name → declaration of each scope, built once per scope node, so that a lookup costs the depth of
// the node, not the size of every scope around it.
const SCOPES = new WeakMap<AstNode, ReadonlyMap<string, NearestDeclaration>>();

/** A name that a function, class, enum, namespace or `import x = require()` declares. */
function declareNamed(scope: Map<string, NearestDeclaration>, node: AstNode, site: 'function' | 'class'): void {
  const id = child(node, 'id');
  if (id?.type === 'Identifier') declare(scope, [id], () => ({ kind: 'other', init: undefined, site, id }));
}

/** What one statement of a block-like scope declares there. */
function declareStatement(scope: Map<string, NearestDeclaration>, node: AstNode): void {
  let statement = node;
  if (statement.type === 'ExportNamedDeclaration' || statement.type === 'ExportDefaultDeclaration') {
    statement = child(statement, 'declaration') ?? statement;
  }
  if (statement.type === 'VariableDeclaration') declareDeclarators(scope, statement, 'variable');
  else if (statement.type === 'FunctionDeclaration') declareNamed(scope, statement, 'function');
  else if (
    statement.type === 'ClassDeclaration' ||
    statement.type === 'TSEnumDeclaration' ||
    statement.type === 'TSModuleDeclaration' ||
    statement.type === 'TSImportEqualsDeclaration'
  ) {
    declareNamed(scope, statement, 'class');
  }
}

// Statements that hold statements of the same function: where a `var` may sit and still belong to it.
const NESTED_STATEMENTS: Readonly<Record<string, readonly string[]>> = {
  BlockStatement: ['body'],
  IfStatement: ['consequent', 'alternate'],
  ForStatement: ['init', 'body'],
  ForInStatement: ['left', 'body'],
  ForOfStatement: ['left', 'body'],
  WhileStatement: ['body'],
  DoWhileStatement: ['body'],
  LabeledStatement: ['body'],
  TryStatement: ['block', 'handler', 'finalizer'],
  CatchClause: ['body'],
  SwitchStatement: ['cases'],
  SwitchCase: ['consequent'],
  WithStatement: ['body'],
};

// The loop heads whose `var` is still the loop's element (site `loop`), though it belongs to the
// function or module around the loop.
const LOOP_HEADS: Readonly<Record<string, string>> = {
  ForStatement: 'init',
  ForInStatement: 'left',
  ForOfStatement: 'left',
};

/** The `var`s declared in nested blocks of a function or module body, which belong to all of it. */
function declareHoistedVars(scope: Map<string, NearestDeclaration>, body: AstNode | undefined): void {
  const pending: AstNode[] = body ? [body] : [];
  while (pending.length > 0) {
    const node = pending.pop() as AstNode;
    if (node.type === 'VariableDeclaration') {
      if (node.kind === 'var') declareDeclarators(scope, node, 'variable');
      continue;
    }
    // Keys last to first, so that the stack reads the statements in source order (the first wins).
    const keys = NESTED_STATEMENTS[node.type] ?? [];
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k] as string;
      const value = (node as Record<string, unknown>)[key];
      if (LOOP_HEADS[node.type] === key && isNode(value) && (value as AstNode).type === 'VariableDeclaration') {
        if ((value as AstNode).kind === 'var') declareDeclarators(scope, value as AstNode, 'loop');
        continue;
      }
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) if (isNode(value[i])) pending.push(value[i] as AstNode);
      } else if (isNode(value)) pending.push(value);
    }
  }
}

/**
 * What a block, switch, namespace body, function (its parameters, its own name and the `var`s of
 * its nested blocks), class expression (its name), catch clause or loop head declares; `undefined`
 * for other nodes.
 */
function scopeDeclarations(scope: AstNode): ReadonlyMap<string, NearestDeclaration> | undefined {
  const known = SCOPES.get(scope);
  if (known) return known;
  const out = new Map<string, NearestDeclaration>();
  if (
    scope.type === 'Program' ||
    scope.type === 'BlockStatement' ||
    scope.type === 'StaticBlock' ||
    scope.type === 'TSModuleBlock'
  ) {
    // A module, a class static block and a namespace body are `var` scopes, like a function body:
    // their own `var`s and those of nested blocks, in source order (the first wins).
    const varScope = scope.type !== 'BlockStatement';
    for (const statement of children(scope, 'body')) {
      // A `var` belongs to the function or module around it (declareHoistedVars).
      if (statement.type !== 'VariableDeclaration' || statement.kind !== 'var') declareStatement(out, statement);
      if (varScope) declareHoistedVars(out, statement);
    }
  } else if (scope.type === 'SwitchStatement') {
    for (const clause of children(scope, 'cases')) {
      for (const statement of children(clause, 'consequent')) {
        // A `var` in a case belongs to the function or module around it (declareHoistedVars).
        if (statement.type !== 'VariableDeclaration' || statement.kind !== 'var') declareStatement(out, statement);
      }
    }
  } else if (
    scope.type === 'FunctionDeclaration' ||
    scope.type === 'FunctionExpression' ||
    scope.type === 'ArrowFunctionExpression'
  ) {
    for (const param of children(scope, 'params')) {
      declare(out, patternIdentifiers(param, []), (id) => ({ kind: 'param', init: undefined, site: 'parameter', id }));
    }
    declareHoistedVars(out, child(scope, 'body'));
    // A function expression's own name is visible inside it, behind its parameters.
    if (scope.type === 'FunctionExpression') declareNamed(out, scope, 'function');
  } else if (scope.type === 'ClassExpression') {
    declareNamed(out, scope, 'class');
  } else if (scope.type === 'CatchClause') {
    declare(out, patternIdentifiers(child(scope, 'param'), []), (id) => ({
      kind: 'param',
      init: undefined,
      site: 'catch',
      id,
    }));
  } else if (LOOP_HEADS[scope.type] !== undefined) {
    const init = child(scope, LOOP_HEADS[scope.type] as string);
    // A `var` in a loop head belongs to the function or module around it (declareHoistedVars).
    if (init?.type === 'VariableDeclaration' && init.kind !== 'var') declareDeclarators(out, init, 'loop');
  } else {
    return undefined;
  }
  SCOPES.set(scope, out);
  return out;
}

/**
 * The one scope walk behind {@link isShadowed} and {@link nearestDeclaration}: from `node` outwards
 * through blocks, function parameters, catch clauses and loop heads, and the module body when
 * `moduleScope` is set, to the nearest declaration of `name`. Tested through those two.
 */
function resolveBinding(
  node: AstNode,
  name: string,
  parentOf: ReadonlyMap<AstNode, AstNode>,
  options: { readonly moduleScope: boolean },
): NearestDeclaration | undefined {
  let current = scopeFrom(parentOf.get(node), parentOf);
  while (current && (options.moduleScope || current.type !== 'Program')) {
    const found = scopeDeclarations(current)?.get(name);
    if (found) return found;
    current = scopeFrom(parentOf.get(current), parentOf);
  }
  return undefined;
}

// The nodes that may declare names (those {@link scopeDeclarations} indexes).
const SCOPE_TYPES: ReadonlySet<string> = new Set([
  'Program',
  'BlockStatement',
  'StaticBlock',
  'TSModuleBlock',
  'SwitchStatement',
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'ClassExpression',
  'CatchClause',
  'ForStatement',
  'ForInStatement',
  'ForOfStatement',
]);

// Per parent map, the nearest scope node at or above each node walked through (`null`: none), so
// that lookups from the operands of a chain as deep as it is long (`a || b || …`) skip the run of
// non-scope nodes above them instead of each stepping through all of it again.
const NEAREST_SCOPES = new WeakMap<ReadonlyMap<AstNode, AstNode>, WeakMap<AstNode, AstNode | null>>();

/** The nearest node at or above `node` that may declare names, or `undefined` above the program. */
function scopeFrom(node: AstNode | undefined, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | undefined {
  let known = NEAREST_SCOPES.get(parentOf);
  if (!known) {
    known = new WeakMap();
    NEAREST_SCOPES.set(parentOf, known);
  }
  const walked: AstNode[] = [];
  let current = node;
  let found: AstNode | null = null;
  while (current) {
    if (SCOPE_TYPES.has(current.type)) {
      found = current;
      break;
    }
    const cached = known.get(current);
    if (cached !== undefined) {
      found = cached;
      break;
    }
    walked.push(current);
    current = parentOf.get(current);
  }
  for (const n of walked) known.set(n, found);
  return found ?? undefined;
}
