import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  envReadName,
  isEnvObject,
  memberPath,
  memberPropertyName,
  moduleBindings,
  propertyKeyName,
  stringRanges,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { isSecretName } from '../secret-names.ts';
import { demoValueLabel, hasUrlCredentials } from '../secret-values.ts';
import { EnvGetters } from './env-getters.ts';

const ID = 'env-fallback-literal';

function finding(
  node: { readonly start: number; readonly end: number },
  name: string,
  value: string,
  form: string,
  redact: Array<readonly [number, number]>,
  baked = false,
): RawFinding {
  const demo = demoValueLabel(value);
  const what = value.length === 0 ? 'an empty string' : demo ? `a public demo value (${demo})` : 'a literal';
  return {
    ruleId: ID,
    severity: demo ? 'critical' : 'error',
    message: baked
      ? `${name} is set to ${what} in ${form}, so every container of the image carries it. Pass it at run time from the secret source (a mounted file or a secret manager), never in the image.`
      : `${name} falls back to ${what} via ${form} when the variable is unset. ` +
        `Declare it as a required secret (@rampart/config secret()) so a missing value stops the service at start-up.`,
    start: node.start,
    end: node.end,
    key: `${name}:${form}`,
    redact,
  };
}

/** Module-scope `const NAME = 'literal'` bindings: a fallback through a constant is still a literal. */
function constLiterals(program: AstNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const binding of moduleBindings(program)) {
    const value = binding.kind === 'const' ? stringValue(binding.init) : undefined;
    if (value !== undefined) out.set(binding.name, value);
  }
  return out;
}

/** The env variable an expression reads, directly or through a getter. */
function readName(node: AstNode | undefined, getters: EnvGetters): string | undefined {
  const direct = envReadName(node);
  if (direct !== undefined || !getters.any) return direct;
  const n = unwrap(node);
  if (n?.type !== 'CallExpression') return undefined;
  const name = stringValue(children(n, 'arguments')[0]);
  return name !== undefined && getters.kindOf(child(n, 'callee')) !== undefined ? name : undefined;
}

function fallbackLiteral(node: AstNode | undefined, constants: ReadonlyMap<string, string>): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  const direct = stringValue(n);
  if (direct !== undefined) return direct;
  if (n.type === 'Identifier') return constants.get(n.name as string);
  // `a || b || 'lit'`: the last literal of a chain is the fallback.
  if (n.type === 'LogicalExpression') return fallbackLiteral(child(n, 'right'), constants);
  return undefined;
}

/** Names read from the env on one side of `||`/`??`, through nested chains. */
function envNames(node: AstNode | undefined, getters: EnvGetters): string[] {
  const n = unwrap(node);
  if (!n) return [];
  const name = readName(n, getters);
  if (name !== undefined) return [name];
  if (n.type === 'LogicalExpression')
    return [...envNames(child(n, 'left'), getters), ...envNames(child(n, 'right'), getters)];
  return [];
}

function secretOrCredentialUrl(name: string, value: string): boolean {
  return isSecretName(name, 'env') || hasUrlCredentials(value);
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
  const { nodes, program } = context.module;
  const constants = constLiterals(program);
  const getters = new EnvGetters(context.file, context.module, context.project);
  const out: RawFinding[] = [];
  for (const node of nodes) {
    if (node.type === 'LogicalExpression' && (node.operator === '||' || node.operator === '??')) {
      // Only the outermost `a || b || 'lit'` reports.
      const parent = context.module.parentOf.get(node);
      if (parent?.type === 'LogicalExpression' && child(parent, 'left') === node) continue;
      const value = fallbackLiteral(child(node, 'right'), constants);
      if (value === undefined) continue;
      for (const name of envNames(child(node, 'left'), getters)) {
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
        const name = readName(read, getters);
        const value = stringValue(other);
        if (name !== undefined && value !== undefined && secretOrCredentialUrl(name, value)) {
          out.push(finding(node, name, value, 'a ternary', stringRanges(node, nodes)));
          break;
        }
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
    } else if (node.type === 'CallExpression') {
      out.push(...checkSchemaDefault(context, node));
      // env(name, literal): a getter whose second parameter is the fallback.
      const [nameArg, fallbackArg] = children(node, 'arguments');
      const name = getters.any ? stringValue(nameArg) : undefined;
      const value = name === undefined ? undefined : fallbackLiteral(fallbackArg, constants);
      if (
        name !== undefined &&
        value !== undefined &&
        secretOrCredentialUrl(name, value) &&
        getters.kindOf(child(node, 'callee')) === 'default'
      ) {
        out.push(finding(node, name, value, "a getter's default argument", stringRanges(node, nodes)));
      }
    }
  }
  return out;
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
    const screaming = /^[A-Z][A-Z0-9_]*$/.test(name);
    if (!screaming && !envSchemaContext(parent, context)) return [];
    return [finding(call, name, literal, `a schema .${calleeName}()`, stringRanges(call, nodes))];
  }
  return [];
}

// `${X:-…}`, `${X:=…}`, `${X-…}` (shell, compose, Dockerfile) and Spring's `${X:…}` in
// YAML/properties, X a secret name.
const SHELL_DEFAULT = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-=])([^}]*)\}/g;
const SPRING_DEFAULT = /\$\{([A-Za-z_][A-Za-z0-9_.]*):([^}]*)\}/g;

const DOCKERFILE = /(^|\/)(Dockerfile[^/]*|[^/]+\.Dockerfile)$/;
// `ARG X=…` (a build-arg default) and `ENV X=…` / `ENV X …` (a literal baked into every layer
// after it), X a secret name. Values that reference another variable are not literals.
function checkDockerfile(context: FileContext): RawFinding[] {
  const out: RawFinding[] = [];
  const { source } = context;
  let instruction: 'ARG' | 'ENV' | undefined;
  for (let line = 1; line <= source.lineCount; line++) {
    const lineStart = source.lineStart(line);
    let text = source.line(line);
    let offset = lineStart;
    const continued = instruction !== undefined;
    if (!continued) {
      const head = /^[ \t]*(ARG|ENV)[ \t]+/i.exec(text);
      if (!head) continue;
      instruction = (head[1] ?? '').toUpperCase() as 'ARG' | 'ENV';
      offset += head[0].length;
      text = text.slice(head[0].length);
    }
    const continues = /\\[ \t]*$/.test(text);
    const body = continues ? text.replace(/\\[ \t]*$/, '') : text;
    const legacy =
      instruction === 'ENV' && !continued && /^[A-Za-z_][A-Za-z0-9_]*[ \t]+[^=\s]/.test(body) && !/^\S+=/.test(body);
    const pairs = legacy
      ? [/^([A-Za-z_][A-Za-z0-9_]*)[ \t]+(.*)$/.exec(body)]
      : [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)];
    for (const pair of pairs) {
      if (!pair) continue;
      const [whole, name = '', raw = ''] = pair;
      const value = raw.trim().replace(/^["']|["']$/g, '');
      if (value === '' || value.includes('$') || !isSecretName(name, 'env')) continue;
      const valueStart = offset + (pair.index ?? 0) + whole.length - raw.length;
      const form = instruction === 'ARG' ? 'a Dockerfile ARG default' : 'a Dockerfile ENV';
      out.push(
        finding(
          { start: valueStart - name.length - 1, end: valueStart + raw.length },
          name,
          value,
          form,
          [[valueStart, valueStart + raw.length]],
          instruction === 'ENV',
        ),
      );
    }
    if (!continues) instruction = undefined;
  }
  return out;
}

function checkText(context: FileContext): RawFinding[] {
  const out: RawFinding[] = [];
  const spring = /\.(ya?ml|properties)$/.test(context.file);
  const seen = new Set<number>();
  for (const match of context.text.matchAll(SHELL_DEFAULT)) {
    const [, name = '', operator = '', raw = ''] = match;
    const value = raw.replace(/^["']|["']$/g, '');
    seen.add(match.index);
    const start = match.index + 2 + name.length + operator.length;
    if (!secretOrCredentialUrl(name, value)) continue;
    out.push(
      finding({ start: match.index, end: match.index + match[0].length }, name, value, `\${${name}${operator}…}`, [
        [start, start + raw.length],
      ]),
    );
  }
  if (DOCKERFILE.test(context.file)) out.push(...checkDockerfile(context));
  if (spring) {
    for (const match of context.text.matchAll(SPRING_DEFAULT)) {
      if (seen.has(match.index)) continue;
      const [, name = '', raw = ''] = match;
      if (/^[-=?+]/.test(raw)) continue;
      const start = match.index + 3 + name.length;
      if (!secretOrCredentialUrl(name.split('.').at(-1) ?? name, raw)) continue;
      out.push(
        finding({ start: match.index, end: match.index + match[0].length }, name, raw, `\${${name}:…}`, [
          [start, start + raw.length],
        ]),
      );
    }
  }
  return out;
}

const TEXT_FILE = /(\.(sh|bash|zsh|ya?ml|properties|env)$|(^|\/)Dockerfile[^/]*$|\.Dockerfile$|(^|\/)\.env[^/]*$)/;

/** `env-fallback-literal`: a secret that silently becomes a literal when its variable is missing. */
export const envFallbackLiteral: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A secret-looking environment variable falls back to a literal (a public demo value is critical).',
  fix: 'Remove the fallback and declare the variable as a required secret; fail at start-up when it is missing.',
  appliesTo: (file) => TEXT_FILE.test(file) || /\.[cm]?[jt]sx?$/.test(file),
  check: (context) => (context.isJs ? checkJs(context) : checkText(context)),
};
