// Literal defaults that env schemas give secrets: envalid `cleanEnv` specs and zod/valibot
// `.default()`/`.catch()` on a secret-named key of an env schema.
import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  literalText,
  memberPath,
  memberPropertyName,
  propertyKeyName,
  stringRanges,
  unwrap,
} from '../js-ast.ts';
import type { FileContext } from '../rule.ts';
import { isConstantName, isSecretName } from '../secret-names.ts';
import { finding, secretValueFor } from './env-fallback-finding.ts';

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

const ENVALID_DEFAULTS = new Set(['default', 'devDefault']);

/** Secret defaults in env schemas: envalid's `default`/`devDefault`, zod's `.default()`/`.catch()`. */
export function checkSchemaDefault(context: FileContext, call: AstNode): RawFinding[] {
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
        const literal = literalText(child(option, 'value'));
        if (optionName && ENVALID_DEFAULTS.has(optionName) && literal !== undefined && secretValueFor(name, literal)) {
          out.push(finding(option, name, literal, `envalid ${optionName}`, stringRanges(option, nodes)));
        }
      }
    }
    return out;
  }
  // zod: X: z.string().min(32).default('…'), X a secret name
  if (callee?.type === 'MemberExpression' && (calleeName === 'default' || calleeName === 'catch')) {
    const literal = literalText(args[0]);
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
    if (name === undefined || !isSecretName(name, 'env') || !secretValueFor(name, literal)) return [];
    if (!isConstantName(name) && !envSchemaContext(parent, context)) return [];
    return [finding(call, name, literal, `a schema .${calleeName}()`, stringRanges(call, nodes))];
  }
  return [];
}
