// Where a request carries a key: the header and query names that hold one, the reads of them
// (`req.headers['x-api-key']`, `req.get('x-api-key')`, `const { 'x-api-key': k } = req.headers`),
// and the `Bearer ` prefix a handler strips before it looks the key up.
import {
  type AstNode,
  child,
  children,
  memberPath,
  memberPropertyName,
  propertyKeyName,
  stringValue,
  unwrap,
} from '../js-ast.ts';

const KEY_HEADER =
  /^(x-)?(admin|api|internal|service|master|access|auth|secret|app)[-_]?(key|token|secret)$|^(x-api-key|x-admin-token|authorization|x-auth-token|x-access-token)$/i;
const KEY_QUERY = /^(api[_-]?key|apikey|key|token|access[_-]?token|admin[_-]?key|secret)$/i;

/** The header or query parameter name a request read uses, if the node is one. */
export function requestKeyRead(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'MemberExpression') {
    // The last two parts decide; the whole path (a walk down the chain) is read only where they match,
    // so that every link of a long `a.b.b…` chain is not walked again.
    const name = memberPropertyName(n);
    const object = unwrap(child(n, 'object'));
    const holder = (
      object?.type === 'Identifier' ? (object.name as string) : memberPropertyName(object)
    )?.toLowerCase();
    if (name === undefined) return undefined;
    const read =
      ((holder === 'headers' || holder === 'header') && KEY_HEADER.test(name)) ||
      ((holder === 'query' || holder === 'searchparams') && KEY_QUERY.test(name));
    return read && memberPath(n) !== undefined ? name : undefined;
  }
  if (n.type === 'CallExpression') {
    const method = memberPath(child(n, 'callee'));
    const arg = stringValue(children(n, 'arguments')[0]);
    if (!method || arg === undefined) return undefined;
    const last = method.at(-1)!;
    if ((last === 'get' || last === 'header' || last === 'getHeader') && KEY_HEADER.test(arg)) return arg;
    if ((last === 'get' || last === 'query') && method.at(-2)?.toLowerCase().includes('search') && KEY_QUERY.test(arg))
      return arg;
    if (last === 'query' && KEY_QUERY.test(arg)) return arg;
  }
  return undefined;
}

/** `const { 'x-api-key': key } = req.headers`: the locals bound to key headers or query values. */
export function destructuredKeyReads(declarator: AstNode): Array<readonly [string, string]> {
  const pattern = child(declarator, 'id');
  const holder = memberPath(child(declarator, 'init'))?.at(-1)?.toLowerCase();
  if (pattern?.type !== 'ObjectPattern' || holder === undefined) return [];
  const key =
    holder === 'headers' ? KEY_HEADER : holder === 'query' || holder === 'searchparams' ? KEY_QUERY : undefined;
  const out: Array<readonly [string, string]> = [];
  for (const property of children(pattern, 'properties')) {
    const name = propertyKeyName(property);
    let value = child(property, 'value');
    if (value?.type === 'AssignmentPattern') value = child(value, 'left');
    if (key && name !== undefined && key.test(name) && value?.type === 'Identifier')
      out.push([value.name as string, name]);
  }
  return out;
}

const isNumber = (n: AstNode | undefined, value?: number): boolean => {
  const u = unwrap(n);
  return u?.type === 'Literal' && typeof u.value === 'number' && (value === undefined || u.value === value);
};

/** `x.split(' ')`, `x.split(/\s+/)`: a split on the space after the scheme; returns `x`. */
function spaceSplit(node: AstNode | undefined): AstNode | undefined {
  const n = unwrap(node);
  const callee = n?.type === 'CallExpression' ? unwrap(child(n, 'callee')) : undefined;
  if (memberPropertyName(callee) !== 'split') return undefined;
  const separator = unwrap(children(n!, 'arguments')[0]);
  const pattern = (separator?.regex as { pattern?: string } | undefined)?.pattern;
  const space = stringValue(separator) === ' ' || (pattern !== undefined && /^(\\s|[ ])[+*]?$/.test(pattern));
  return space ? unwrap(child(callee!, 'object')) : undefined;
}

/**
 * The value a scheme prefix is stripped from: `auth.split(' ')[1]`, `auth.split(' ').pop()`,
 * `auth.replace(/^Bearer /i, '')`, `auth.slice(7)`, `auth.substring(7)`: the key is the rest. Not
 * `token.split('.')[1]`: a JWT's payload, no key.
 */
export function prefixStripped(node: AstNode): AstNode | undefined {
  const n: AstNode | undefined = node;
  if (n.type === 'MemberExpression' && n.computed === true && isNumber(child(n, 'property'), 1)) {
    return spaceSplit(child(n, 'object'));
  }
  const callee = n.type === 'CallExpression' ? unwrap(child(n, 'callee')) : undefined;
  const method = memberPropertyName(callee);
  const args = children(n, 'arguments');
  const object = callee && unwrap(child(callee, 'object'));
  if (method === 'replace' || method === 'replaceAll')
    return args.length === 2 && stringValue(args[1]) === '' ? object : undefined;
  if (method === 'slice' || method === 'substring' || method === 'substr')
    return args.length === 1 && isNumber(args[0]) ? object : undefined;
  if (method === 'pop' && args.length === 0) return spaceSplit(object);
  return undefined;
}
