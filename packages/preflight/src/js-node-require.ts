// Which `require` a call goes through: Node's (the CommonJS wrapper's, or one Node makes for the
// file), whose `require('./env')` loads the project's module, or another function of that name.
import { type AstNode, child, children, memberPath, memberPropertyName, type ParsedModule, unwrap } from './js-ast.ts';
import { type ImportBinding, importBindings, requiredModule } from './js-module-bindings.ts';
import { isShadowed, nearestDeclaration, patternIdentifiers } from './js-scope.ts';

/** The specifiers of Node's `module` built-in, whose `createRequire` makes a require for a file. */
const NODE_MODULE: ReadonlySet<string> = new Set(['node:module', 'module']);
/** The specifiers of Node's `url` built-in (`pathToFileURL`, `fileURLToPath`). */
const NODE_URL: ReadonlySet<string> = new Set(['node:url', 'url']);
/** The wrapper's names besides `require` that decide whether a require is Node's: written anywhere, they are not the wrapper's. */
const WRAPPER_NAMES: ReadonlySet<string> = new Set(['module', '__filename']);

// The key of the wrapper's `require` (no declaration in the file) among the declarations written to.
const WRAPPER = Symbol('wrapper require');

/** A write to a `require`: the declaration written to, whether the target is the plain name, and the value (worked out when judged). */
interface RequireWrite {
  readonly key: AstNode | typeof WRAPPER;
  readonly plain: boolean;
  readonly value: () => AstNode | undefined;
}

/**
 * Tells whether a `require(…)` call of a parsed module loads modules as Node's `require` does. The
 * file's imports and its writes to `require` are read once, on the first question.
 */
export class NodeRequire {
  readonly #module: ParsedModule;
  #imports: Map<string, ImportBinding> | undefined;
  // Per `require` written to: whether every write gives it a require of Node's.
  #writes: Map<AstNode | typeof WRAPPER, boolean> | undefined;
  // The wrapper's names (`module`, `__filename`) the file assigns to.
  readonly #wrapperWritten = new Set<string>();
  // The value each `=` link of a chain gives, worked out once per link.
  readonly #values = new Map<AstNode, AstNode | undefined>();

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

  /**
   * Whether an expression's value is a require of Node's for this file: `createRequire(base)` with
   * the file's own path or URL as the base ({@link #isOwnPath}; another base resolves `./env`
   * elsewhere), `module.require.bind(module)`.
   */
  #makesNodeRequire(expression: AstNode): boolean {
    const n = unwrap(expression);
    if (n?.type !== 'CallExpression') return false;
    const callee = unwrap(child(n, 'callee'));
    if (callee === undefined) return false;
    const [first, ...others] = children(n, 'arguments');
    if (callee.type === 'Identifier') {
      return this.#importOf(callee, NODE_MODULE, 'createRequire') && others.length === 0 && this.#isOwnPath(first);
    }
    if (callee.type !== 'MemberExpression') return false;
    const object = unwrap(child(callee, 'object'));
    const property = memberPropertyName(callee);
    if (property === 'createRequire') {
      if (others.length > 0 || !this.#isOwnPath(first)) return false;
      if (object?.type === 'Identifier') return this.#importOf(object, NODE_MODULE, '*');
      // require('node:module').createRequire(…), with the wrapper's require.
      const specifier = requiredModule(object);
      return (
        specifier !== undefined && NODE_MODULE.has(specifier) && this.#isWrapperName(child(object as AstNode, 'callee'))
      );
    }
    // module.require.bind(module): the wrapper's `module`, bound to itself (unbound, it resolves
    // a relative path from no file).
    const path = memberPath(callee);
    const bound = unwrap(first);
    return (
      path?.length === 3 &&
      path[0] === 'module' &&
      path[1] === 'require' &&
      path[2] === 'bind' &&
      others.length === 0 &&
      bound?.type === 'Identifier' &&
      bound.name === 'module' &&
      this.#isWrapperName(bound) &&
      this.#isWrapperName(memberRoot(callee))
    );
  }

  /**
   * Whether a `createRequire` base is the file's own path: `import.meta.url`, `import.meta.filename`,
   * the wrapper's `__filename` (or a module-scope `const __filename = fileURLToPath(import.meta.url)`),
   * `pathToFileURL(__filename)` of `node:url` and its `.href`.
   */
  #isOwnPath(node: AstNode | undefined): boolean {
    let n = unwrap(node);
    if (n?.type === 'MemberExpression') {
      const path = memberPath(n);
      if (path?.length === 3 && path[0] === 'import' && path[1] === 'meta') {
        return path[2] === 'url' || path[2] === 'filename';
      }
      // `pathToFileURL(__filename).href`
      if (memberPropertyName(n) !== 'href') return false;
      n = unwrap(child(n, 'object'));
      if (n?.type !== 'CallExpression') return false;
    }
    if (n?.type === 'Identifier') {
      if (n.name !== '__filename') return false;
      if (this.#isWrapperName(n)) return true;
      const declared = nearestDeclaration(n, '__filename', this.#module.parentOf);
      return (
        declared?.kind === 'const' &&
        this.#nodeUrlCall(declared.init, 'fileURLToPath', (a) => memberPath(a)?.join('.') === 'import.meta.url')
      );
    }
    return this.#nodeUrlCall(
      n,
      'pathToFileURL',
      (a) => a?.type === 'Identifier' && a.name === '__filename' && this.#isOwnPath(a),
    );
  }

  /** `name(argument)` of `node:url` (imported by name or through its namespace), its one argument passing `test`. */
  #nodeUrlCall(node: AstNode | undefined, name: string, test: (argument: AstNode | undefined) => boolean): boolean {
    const n = unwrap(node);
    if (n?.type !== 'CallExpression') return false;
    const args = children(n, 'arguments');
    if (args.length !== 1 || !test(unwrap(args[0]))) return false;
    const callee = unwrap(child(n, 'callee'));
    if (callee?.type === 'Identifier') return this.#importOf(callee, NODE_URL, name);
    if (callee?.type !== 'MemberExpression' || memberPropertyName(callee) !== name) return false;
    const object = unwrap(child(callee, 'object'));
    return object?.type === 'Identifier' && this.#importOf(object, NODE_URL, '*');
  }

  /**
   * Whether an identifier is bound to export `name` of a Node built-in (one of `specifiers`), or to
   * the built-in itself (`*`: a namespace or default import, `const m = require('module')`).
   */
  #importOf(id: AstNode, specifiers: ReadonlySet<string>, name: string): boolean {
    const local = id.name as string;
    if (isShadowed(id, local, this.#module.parentOf)) return false;
    const binding = this.#importBindings().get(local);
    if (binding === undefined || !specifiers.has(binding.specifier)) return false;
    return name === '*' ? binding.name === '*' || binding.name === 'default' : binding.name === name;
  }

  /**
   * Whether an identifier is a name the wrapper passes in (`module`, `require`, `__filename`): the
   * file neither declares nor imports it, and (but `require`, whose writes {@link is} reads) never
   * assigns it anything.
   */
  #isWrapperName(node: AstNode | undefined): boolean {
    const id = unwrap(node);
    if (id?.type !== 'Identifier') return false;
    const name = id.name as string;
    if (nearestDeclaration(id, name, this.#module.parentOf) !== undefined || this.#importBindings().has(name)) {
      return false;
    }
    if (name === 'require') return true;
    this.#writesTo(WRAPPER);
    return !this.#wrapperWritten.has(name);
  }

  #importBindings(): Map<string, ImportBinding> {
    this.#imports ??= importBindings(this.#module.program);
    return this.#imports;
  }

  /**
   * The writes to the `require` declared at `key` (or the wrapper's), read for the whole file once:
   * which of the wrapper's names are written is known before any value written to `require` is
   * judged (`module = {…}` after `var require = module.require.bind(module)` still counts).
   */
  #writesTo(key: AstNode | typeof WRAPPER): boolean | undefined {
    if (this.#writes === undefined) {
      this.#writes = new Map();
      const pending: RequireWrite[] = [];
      for (const node of this.#module.nodes) this.#readWrite(node, pending);
      for (const { key, plain, value } of pending) {
        if (this.#writes.get(key) === false) continue;
        const made = plain ? value() : undefined;
        this.#writes.set(key, made !== undefined && this.#makesNodeRequire(made));
      }
    }
    return this.#writes.get(key);
  }

  /**
   * Records what an assignment, update, `var|let|const` declarator with a value, or for-in/of head
   * writes to `require` (every `var require = …` is one: only the first declares it), and which of
   * the wrapper's other names it writes. The target is looked at first: the value of a chain
   * (`a = b = v`) is worked out only for a write to `require`, once per link ({@link #assigned}).
   */
  #readWrite(node: AstNode, pending: RequireWrite[]): void {
    let target: AstNode | undefined;
    let value: () => AstNode | undefined = () => undefined;
    if (node.type === 'AssignmentExpression') {
      target = child(node, 'left');
      if (node.operator === '=') value = () => this.#assigned(node);
    } else if (node.type === 'VariableDeclarator') {
      const init = child(node, 'init');
      if (init === undefined) return;
      target = child(node, 'id');
      value = () => init;
    } else if (node.type === 'UpdateExpression') target = child(node, 'argument');
    else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
      target = child(node, 'left');
      if (target?.type === 'VariableDeclaration') target = child(children(target, 'declarations')[0] ?? target, 'id');
    } else return;
    const plain = unwrap(target)?.type === 'Identifier';
    for (const id of patternIdentifiers(target, [])) {
      const name = id.name as string;
      if (name !== 'require' && !WRAPPER_NAMES.has(name)) continue;
      const declared = nearestDeclaration(id, name, this.#module.parentOf);
      if (name !== 'require') {
        if (declared === undefined) this.#wrapperWritten.add(name);
        continue;
      }
      pending.push({ key: declared?.id ?? WRAPPER, plain, value });
    }
  }

  /**
   * The value an `=` assignment gives its target: the innermost value of its chain (`v` of `a = b =
   * v`), `undefined` past a link of another operator. Kept per link, so a chain is walked once
   * whichever of its links ask.
   */
  #assigned(node: AstNode): AstNode | undefined {
    const walked: AstNode[] = [];
    let n: AstNode | undefined = node;
    let value: AstNode | undefined;
    for (;;) {
      if (n?.type !== 'AssignmentExpression') {
        value = n;
        break;
      }
      if (this.#values.has(n)) {
        value = this.#values.get(n);
        break;
      }
      if (n.operator !== '=') break;
      walked.push(n);
      n = unwrap(child(n, 'right'));
    }
    for (const link of walked) this.#values.set(link, value);
    return value;
  }
}

/** The identifier a member chain starts from (`module` of `module.require.bind`). */
function memberRoot(node: AstNode): AstNode | undefined {
  let n: AstNode | undefined = node;
  while (n?.type === 'MemberExpression') n = unwrap(child(n, 'object'));
  return n;
}
