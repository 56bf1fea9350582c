// Assignment chains (`a = b = v`) and which of their links write: read alike by every rule that
// follows what a CommonJS module exports or what a module-scope name holds.
import { type AstNode, child, memberPath, unwrap } from './js-ast.ts';

/** One assignment of a chain: what it writes to and with which operator (`=`, `||=`, …). */
export interface AssignmentLink {
  readonly target: AstNode | undefined;
  readonly operator: string;
}

/** An assignment chain: its links, outermost first, and the value the innermost one assigns. */
export interface AssignmentChain {
  readonly links: readonly AssignmentLink[];
  readonly value: AstNode | undefined;
}

/**
 * `a = b = v` as its links (`a`, `b`) and the value `v` every link takes; any other expression is
 * a chain without links whose value is the expression itself. Each step goes one node down the
 * tree, so the walk ends on chains of any length.
 */
export function assignmentChain(expression: AstNode | undefined): AssignmentChain {
  const links: AssignmentLink[] = [];
  let n = unwrap(expression);
  while (n?.type === 'AssignmentExpression') {
    links.push({ target: child(n, 'left'), operator: n.operator as string });
    n = unwrap(child(n, 'right'));
  }
  return { links, value: n };
}

/**
 * Whether one link of a chain writes the value on its right, given whether its target holds a
 * truthy value before (`undefined`: not known). The one rule every reader of chains applies: `=`
 * always writes; `||=` and `??=` do not write to a target known to be truthy (`module.exports`
 * starts as an object, so `module.exports ||= f` never assigns); `&&=` does not write to a target
 * known to be falsy (`exports.x &&= f`, the property starts unset); other compound operators
 * (`+=`) write something else. Where the target is not known, the link is taken to write.
 */
export function linkWrites(operator: string, startsTruthy: boolean | undefined): boolean {
  if (operator === '=') return true;
  if (operator === '||=' || operator === '??=') return startsTruthy !== true;
  if (operator === '&&=') return startsTruthy !== false;
  return false;
}

/** `module.exports` itself. */
export const isModuleExports = (path: readonly string[] | undefined): boolean =>
  path?.length === 2 && path[0] === 'module' && path[1] === 'exports';

/** What a target starts as, when known: the export object (truthy) or one of its properties (unset). */
function exportTargetTruthy(path: readonly string[] | undefined): boolean | undefined {
  if (isModuleExports(path) || (path?.length === 1 && path[0] === 'exports')) return true;
  if (path?.length === 3 && isModuleExports(path.slice(0, 2))) return false;
  if (path?.length === 2 && path[0] === 'exports') return false;
  return undefined;
}

/**
 * The value a declared name or an outer assignment receives from a chain, if it is the chain's own
 * value: `const cache = module.exports.cache = new Map()` holds the `Map`; `const api =
 * module.exports ||= {}` holds the module's original export object, no node of the source.
 */
export function chainResult(expression: AstNode | undefined): AstNode | undefined {
  const { links, value } = assignmentChain(expression);
  for (const link of links) {
    if (!linkWrites(link.operator, exportTargetTruthy(memberPath(unwrap(link.target))))) return undefined;
  }
  return value;
}
