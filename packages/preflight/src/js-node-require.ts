// Which `require` a call goes through: Node's (the CommonJS wrapper's, or one Node makes for the
// file), whose `require('./env')` loads the project's module, or another function of that name.
import { assignmentChain } from './js-assignment-chain.ts';
import { type AstNode, child, children, memberPath, memberPropertyName, type ParsedModule, unwrap } from './js-ast.ts';
import { type ImportBinding, importBindings, requiredModule } from './js-module-bindings.ts';
import { isShadowed, nearestDeclaration, patternIdentifiers } from './js-scope.ts';

/** The specifiers of Node's `module` built-in, whose `createRequire` makes a require for a file. */
const NODE_MODULE: ReadonlySet<string> = new Set(['node:module', 'module']);

// The key of the wrapper's `require` (no declaration in the file) among the declarations written to.
const WRAPPER = Symbol('wrapper require');

/**
 * Tells whether a `require(…)` call of a parsed module loads modules as Node's `require` does. The
 * file's imports and its writes to `require` are read once, on the first question.
 */
export class NodeRequire {
  readonly #module: ParsedModule;
  #imports: Map<string, ImportBinding> | undefined;
  // Per `require` written to: whether every write gives it a require of Node's.
  #writes: Map<AstNode | typeof WRAPPER, boolean> | undefined;

  constructor(module: ParsedModule) {
    this.#module = module;
  }

  /**
   * Whether `require` at `callee` is Node's: the module wrapper's (never assigned anything else),
   * or a `const|let|var require` given only `createRequire(…)` of `node:module` (imported under any
   * name, or through the module's namespace) or `module.require.bind(module)`. A local function
   * named `createRequire`, a parameter or a destructured `require` is not Node's.
   */
  is(callee: AstNode): boolean {
    const declared = nearestDeclaration(callee, 'require', this.#module.parentOf);
    const writes = this.#writesTo(declared?.id ?? WRAPPER);
    if (declared === undefined) return writes !== false;
    if (declared.site !== 'variable' || declared.kind === 'other' || declared.kind === 'param') return false;
    const init = declared.init;
    if (init !== undefined && !this.#makesNodeRequire(init)) return false;
    return writes ?? init !== undefined;
  }

  /** Whether an expression's value is a require of Node's: `createRequire(…)`, `module.require.bind(module)`. */
  #makesNodeRequire(expression: AstNode): boolean {
    const n = unwrap(expression);
    if (n?.type !== 'CallExpression') return false;
    const callee = unwrap(child(n, 'callee'));
    if (callee === undefined) return false;
    if (callee.type === 'Identifier') return this.#nodeModuleImport(callee, 'createRequire');
    if (callee.type !== 'MemberExpression') return false;
    const object = unwrap(child(callee, 'object'));
    const property = memberPropertyName(callee);
    if (property === 'createRequire') {
      if (object?.type === 'Identifier') return this.#nodeModuleImport(object, '*');
      // require('node:module').createRequire(…), with the wrapper's require.
      const specifier = requiredModule(object);
      return (
        specifier !== undefined && NODE_MODULE.has(specifier) && this.#isWrapperName(child(object as AstNode, 'callee'))
      );
    }
    // module.require.bind(module): the wrapper's `module`, bound to itself (unbound, it resolves
    // a relative path from no file).
    const path = memberPath(callee);
    const [argument, ...rest] = children(n, 'arguments');
    const bound = unwrap(argument);
    return (
      path?.length === 3 &&
      path[0] === 'module' &&
      path[1] === 'require' &&
      path[2] === 'bind' &&
      rest.length === 0 &&
      bound?.type === 'Identifier' &&
      bound.name === 'module' &&
      this.#isWrapperName(bound) &&
      this.#isWrapperName(memberRoot(callee))
    );
  }

  /**
   * Whether an identifier is bound to `createRequire` of Node's `module` built-in (`name`), or to
   * the built-in itself (`*`: a namespace or default import, `const m = require('module')`).
   */
  #nodeModuleImport(id: AstNode, name: 'createRequire' | '*'): boolean {
    const local = id.name as string;
    if (isShadowed(id, local, this.#module.parentOf)) return false;
    const binding = this.#importBindings().get(local);
    if (binding === undefined || !NODE_MODULE.has(binding.specifier)) return false;
    return name === 'createRequire'
      ? binding.name === 'createRequire'
      : binding.name === '*' || binding.name === 'default';
  }

  /** Whether an identifier is a name the file neither declares nor imports (`module`, `require` of the wrapper). */
  #isWrapperName(node: AstNode | undefined): boolean {
    const id = unwrap(node);
    if (id?.type !== 'Identifier') return false;
    const name = id.name as string;
    return nearestDeclaration(id, name, this.#module.parentOf) === undefined && !this.#importBindings().has(name);
  }

  #importBindings(): Map<string, ImportBinding> {
    this.#imports ??= importBindings(this.#module.program);
    return this.#imports;
  }

  /** The writes to the `require` declared at `key` (or the wrapper's), read for the whole file once. */
  #writesTo(key: AstNode | typeof WRAPPER): boolean | undefined {
    if (this.#writes === undefined) {
      this.#writes = new Map();
      for (const node of this.#module.nodes) this.#readWrite(node);
    }
    return this.#writes.get(key);
  }

  /** Records what an assignment, update or for-in/of head writes to `require`, if it does. */
  #readWrite(node: AstNode): void {
    let target: AstNode | undefined;
    let value: AstNode | undefined;
    if (node.type === 'AssignmentExpression') {
      target = child(node, 'left');
      if (node.operator === '=') {
        const chain = assignmentChain(child(node, 'right'));
        if (chain.links.every((l) => l.operator === '=')) value = chain.value;
      }
    } else if (node.type === 'UpdateExpression') target = child(node, 'argument');
    else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
      target = child(node, 'left');
      if (target?.type === 'VariableDeclaration') return;
    } else return;
    const plain = unwrap(target)?.type === 'Identifier';
    for (const id of patternIdentifiers(target, [])) {
      if (id.name !== 'require') continue;
      const key = nearestDeclaration(id, 'require', this.#module.parentOf)?.id ?? WRAPPER;
      const nodes = plain && value !== undefined && this.#makesNodeRequire(value);
      this.#writes?.set(key, (this.#writes.get(key) ?? true) && nodes);
    }
  }
}

/** The identifier a member chain starts from (`module` of `module.require.bind`). */
function memberRoot(node: AstNode): AstNode | undefined {
  let n: AstNode | undefined = node;
  while (n?.type === 'MemberExpression') n = unwrap(child(n, 'object'));
  return n;
}
