// Parsing JS/TS into the view of js-ast.ts: oxc-parser for the CLI, or the ESTree program ESLint
// already has; each node indexed once with its parent.
import { parseSync, visitorKeys } from 'oxc-parser';
import { markEnvAliases, markHonoEnvCalls } from './env-reads.ts';
import { type AstComment, type AstNode, isNode, type ParsedModule } from './js-ast.ts';
import { MAX_NESTING, nestingDepth, TOO_DEEP } from './nesting-depth.ts';

/** File extensions parsed as JavaScript or TypeScript. */
export const JS_EXTENSIONS: readonly string[] = ['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx'];

function langFor(file: string): 'jsx' | 'ts' | 'tsx' | 'dts' {
  if (/\.d\.[cm]?ts$/.test(file)) return 'dts';
  if (file.endsWith('.tsx')) return 'tsx';
  if (/\.[cm]?ts$/.test(file)) return 'ts';
  return 'jsx';
}

/** Parses a JS/TS file; syntax errors are returned, not thrown, with whatever AST could be recovered. */
export function parseModule(file: string, text: string): ParsedModule {
  const lang = langFor(file);
  // Refused before the parser sees it: a native stack overflow would end the whole scan.
  if (nestingDepth(text) > MAX_NESTING) {
    const program: AstNode = { type: 'Program', start: 0, end: text.length, body: [], sourceType: 'module' };
    return indexProgram(program, [], [TOO_DEEP], visitorKeys);
  }
  // Declaration files are modules; other files may be ESM or CommonJS (top-level `return`), so a
  // file that fails as "unambiguous" is tried again as CommonJS.
  let result = parseSync(file, text, {
    lang,
    sourceType: lang === 'dts' ? 'module' : 'unambiguous',
    preserveParens: false,
  });
  if (result.errors.length > 0 && lang !== 'dts') {
    const commonjs = parseSync(file, text, { lang, sourceType: 'commonjs', preserveParens: false });
    if (commonjs.errors.length < result.errors.length) result = commonjs;
  }
  return indexProgram(
    result.program as unknown as AstNode,
    result.comments as unknown as AstComment[],
    result.errors.map((e) => e.message),
    visitorKeys,
  );
}

/**
 * Wraps an ESTree program another parser produced (ESLint's espree or typescript-eslint), so the
 * ESLint plugin runs the rules on the AST ESLint already has instead of parsing the file again.
 * Nodes that carry only `range` (typescript-eslint) get non-enumerable `start`/`end`.
 */
export function moduleFromEstree(
  program: unknown,
  comments: ReadonlyArray<{
    type: string;
    value: string;
    range?: readonly [number, number];
    start?: number;
    end?: number;
  }>,
  keys: Readonly<Record<string, readonly string[]>>,
): ParsedModule {
  const located = (value: object): void => {
    const node = value as { start?: unknown; end?: unknown; range?: readonly [number, number] };
    if (typeof node.start !== 'number' && node.range) {
      Object.defineProperty(node, 'start', { value: node.range[0], enumerable: false, configurable: true });
      Object.defineProperty(node, 'end', { value: node.range[1], enumerable: false, configurable: true });
    }
  };
  const walk = (value: unknown): void => {
    if (!isNode(value) && !(typeof value === 'object' && value !== null && 'range' in value)) return;
    located(value as object);
    if (!isNode(value)) return;
    for (const key of keys[value.type] ?? []) {
      const child = value[key];
      if (Array.isArray(child)) for (const item of child) walk(item);
      else walk(child);
    }
  };
  walk(program);
  const mapped: AstComment[] = comments.map((c) => ({
    type: c.type === 'Block' ? 'Block' : 'Line',
    value: c.value,
    start: c.start ?? c.range?.[0] ?? 0,
    end: c.end ?? c.range?.[1] ?? 0,
  }));
  return indexProgram(program as AstNode, mapped, [], keys);
}

function indexProgram(
  program: AstNode,
  comments: readonly AstComment[],
  errors: readonly string[],
  keysFor: Readonly<Record<string, readonly string[]>>,
): ParsedModule {
  const nodes: AstNode[] = [];
  const parentOf = new Map<AstNode, AstNode>();
  const stack: AstNode[] = [program];
  while (stack.length > 0) {
    const node = stack.pop()!;
    nodes.push(node);
    const keys = keysFor[node.type] ?? Object.keys(node);
    for (let k = keys.length - 1; k >= 0; k--) {
      const child = node[keys[k]!];
      if (Array.isArray(child)) {
        for (let i = child.length - 1; i >= 0; i--) {
          const item: unknown = child[i];
          if (isNode(item)) {
            parentOf.set(item, node);
            stack.push(item);
          }
        }
      } else if (isNode(child)) {
        parentOf.set(child, node);
        stack.push(child);
      }
    }
  }
  nodes.sort((a, b) => a.start - b.start);
  markHonoEnvCalls(program, nodes, parentOf);
  markEnvAliases(program, nodes, parentOf);
  return { program, comments, errors, nodes, parentOf };
}
