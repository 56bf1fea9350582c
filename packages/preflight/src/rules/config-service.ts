// NestJS's ConfigService reads the environment by name: `config.get('X')` is an env read, and its
// second argument (`get('X', default)`, also `getOrThrow('X', default)`) is the value used when X
// is unset. `.get(` is everywhere (Map, Headers, routers), so a call counts only when its receiver
// is plausibly a ConfigService: declared with that type or created by it when the code says so,
// else named so.
import {
  type AstNode,
  child,
  children,
  memberPropertyName,
  propertyKeyName,
  staticName,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { nearestDeclaration } from '../js-scope.ts';

/** A ConfigService call: the variable it reads, and how. */
export interface ConfigServiceCall {
  readonly name: string;
  /** `getOrThrow` throws when the value is missing: only its default argument is a fallback. */
  readonly method: 'get' | 'getOrThrow';
}

// `config`, `configService`, `appConfigService`, `_configService` (any case).
const CONFIG_RECEIVER = /^(?:[\w$]*config_?service|_?config)$/i;
const CONFIG_TYPE = /ConfigService$/;

/** Whether a type names a ConfigService: `ConfigService<Env, true>`, `config.ConfigService`, or a union holding one. */
function namesConfigService(type: AstNode | undefined): boolean {
  if (type?.type === 'TSUnionType') return children(type, 'types').some(namesConfigService);
  if (type?.type !== 'TSTypeReference') return false;
  let name = child(type, 'typeName');
  while (name?.type === 'TSQualifiedName') name = child(name, 'right');
  return name?.type === 'Identifier' && CONFIG_TYPE.test(name.name as string);
}

/** `new …ConfigService()`, `app.get(ConfigService)`, `await moduleRef.resolve(ConfigService)`. */
function createsConfigService(init: AstNode): boolean {
  let value = unwrap(init);
  if (value?.type === 'AwaitExpression') value = unwrap(child(value, 'argument'));
  if (value?.type === 'NewExpression') return CONFIG_TYPE.test(staticName(unwrap(child(value, 'callee')), false) ?? '');
  if (value?.type !== 'CallExpression') return false;
  const token = unwrap(children(value, 'arguments')[0]);
  return token?.type === 'Identifier' && CONFIG_TYPE.test(token.name as string);
}

/**
 * What a declaration says its value is: its type annotation (`holder` is the identifier or class
 * property carrying it) when it has one, else its initializer or default, which is a ConfigService
 * only when it creates or fetches one. `undefined` when it says neither.
 */
function declaredConfigService(holder: AstNode | undefined, init: AstNode | undefined): boolean | undefined {
  const annotation = holder && child(holder, 'typeAnnotation');
  if (annotation) return namesConfigService(child(annotation, 'typeAnnotation'));
  return init === undefined ? undefined : createsConfigService(init);
}

/**
 * A parameter's own identifier (not a part of a destructured one): its default value, `null` when
 * it has none, `undefined` when the identifier is not the whole parameter.
 */
function parameterDefault(id: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | null | undefined {
  let holder = parentOf.get(id);
  let fallback: AstNode | null = null;
  if (holder?.type === 'AssignmentPattern' && child(holder, 'left') === id) {
    fallback = child(holder, 'right') ?? null;
    holder = parentOf.get(holder);
  }
  if (holder?.type === 'TSParameterProperty') return fallback;
  return holder && children(holder, 'params').some((p) => p === id || p === parentOf.get(id)) ? fallback : undefined;
}

/** A name bound where it is used: what its declaration says, or the name decides for a plain untyped parameter. */
function boundConfigService(n: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  const name = n.name as string;
  const declaration = nearestDeclaration(n, name, parentOf);
  // An import or a global: nothing visible says what it is.
  if (!declaration) return CONFIG_RECEIVER.test(name);
  if (declaration.site === 'variable' && declaration.kind !== 'other') {
    return declaredConfigService(declaration.id, declaration.init) ?? false;
  }
  if (declaration.site !== 'parameter') return false;
  const fallback = parameterDefault(declaration.id, parentOf);
  if (fallback === undefined) return false;
  return declaredConfigService(declaration.id, fallback ?? undefined) ?? CONFIG_RECEIVER.test(name);
}

// What each class body declares for its `this.<name>` members, worked out once per class, so that
// a class with many members and many `this.x.get(…)` calls stays linear.
const CLASS_MEMBERS = new WeakMap<AstNode, ReadonlyMap<string, boolean | undefined>>();

/**
 * What a class body declares for each `this.name`: a property, a constructor parameter property,
 * or a constructor assignment `this.name = …`, the first in source order that says anything
 * (a name mapped to `undefined` is declared without saying; an absent one is not declared).
 */
function classMembers(
  body: AstNode,
  parentOf: ReadonlyMap<AstNode, AstNode>,
): ReadonlyMap<string, boolean | undefined> {
  const known = CLASS_MEMBERS.get(body);
  if (known) return known;
  const out = new Map<string, boolean | undefined>();
  const decide = (name: string, what: () => boolean | undefined): void => {
    if (!out.has(name)) out.set(name, what());
  };
  for (const member of children(body, 'body')) {
    const name = member.type === 'PropertyDefinition' ? propertyKeyName(member) : undefined;
    if (name !== undefined && !out.has(name)) {
      const declared = declaredConfigService(member, child(member, 'value'));
      if (declared !== undefined) out.set(name, declared);
    }
    if (member.type !== 'MethodDefinition' || member.kind !== 'constructor') continue;
    const ctor = child(member, 'value') ?? member;
    for (const param of children(ctor, 'params')) {
      if (param.type !== 'TSParameterProperty') continue;
      const parameter = child(param, 'parameter');
      const id = parameter?.type === 'AssignmentPattern' ? child(parameter, 'left') : parameter;
      if (id?.type === 'Identifier') {
        decide(id.name as string, () => declaredConfigService(id, parameterDefault(id, parentOf) ?? undefined));
      }
    }
    for (const statement of children(child(ctor, 'body') ?? ctor, 'body')) {
      const assignment = unwrap(child(statement, 'expression'));
      const target = assignment?.type === 'AssignmentExpression' ? unwrap(child(assignment, 'left')) : undefined;
      const assigned = target && memberPropertyName(target);
      if (
        assignment?.operator !== '=' ||
        target?.type !== 'MemberExpression' ||
        unwrap(child(target, 'object'))?.type !== 'ThisExpression' ||
        assigned === undefined
      ) {
        continue;
      }
      decide(assigned, () => {
        // `this.config = config` (a parameter): what the parameter is.
        const value = unwrap(child(assignment, 'right'));
        if (value?.type === 'Identifier') return boundConfigService(value, parentOf);
        return value ? createsConfigService(value) : undefined;
      });
    }
  }
  CLASS_MEMBERS.set(body, out);
  return out;
}

/** `this.name`: what the enclosing class declares for it, `undefined` when it declares nothing. */
function classMember(node: AstNode, name: string, parentOf: ReadonlyMap<AstNode, AstNode>): boolean | undefined {
  let current = parentOf.get(node);
  while (current && current.type !== 'ClassBody') current = parentOf.get(current);
  return current ? classMembers(current, parentOf).get(name) : undefined;
}

/**
 * Whether the receiver of `.get(…)` is plausibly a Nest ConfigService: what its declaration says
 * (a type naming ConfigService, a union included; an initializer or default creating one); a
 * declaration that says anything else, a destructured, loop or catch binding, is none. The name
 * decides only where nothing is declared: a plain untyped parameter, an import or global, a
 * `this.x` its class does not declare, another object's property.
 */
function isConfigService(receiver: AstNode | undefined, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  const n = unwrap(receiver);
  if (n?.type === 'Identifier') return boundConfigService(n, parentOf);
  if (n?.type !== 'MemberExpression') return false;
  const name = memberPropertyName(n);
  if (name === undefined) return false;
  const object = unwrap(child(n, 'object'));
  const declared = object?.type === 'ThisExpression' ? classMember(n, name, parentOf) : undefined;
  return declared ?? CONFIG_RECEIVER.test(name);
}

/** `config.get('X')`, `this.configService.get<string>('X', '…')`, `config.getOrThrow('X')` on a ConfigService. */
export function configServiceCall(
  call: AstNode,
  parentOf: ReadonlyMap<AstNode, AstNode>,
): ConfigServiceCall | undefined {
  const callee = unwrap(child(call, 'callee'));
  const method = memberPropertyName(callee);
  if (callee?.type !== 'MemberExpression' || (method !== 'get' && method !== 'getOrThrow')) return undefined;
  const name = stringValue(children(call, 'arguments')[0]);
  if (name === undefined || !isConfigService(child(callee, 'object'), parentOf)) return undefined;
  return { name, method };
}
