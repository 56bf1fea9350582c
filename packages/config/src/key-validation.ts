import type { EnvironmentInfo } from './environment.ts';
import type { ConfigIssue } from './errors.ts';
import type { LoadOptions } from './load.ts';
import { Secret } from './secret.ts';
import type { SourceKind, Spec } from './spec.ts';
import {
  describeIssues,
  isStandardSchema,
  runValidator,
  type StandardSchemaV1,
  type ValidatorOutcome,
} from './standard-schema.ts';
import {
  BUNDLE_WHITESPACE_HINT,
  DENIED_JWT_FIX,
  DENIED_JWT_HINT,
  JWT_FIX,
  JWT_LENGTH_FIX,
  JWT_LENGTH_HINT,
  JWT_RULE_HINTS,
  minimumSecretBytes,
  WEAK_RULE_HINTS,
  type WeakSecretRule,
  weakSecretFindings,
} from './weak-secret.ts';

/** The load options key validation reads. */
type SecretSourceOptions = Pick<LoadOptions, 'secretSources'>;

const DEFAULT_SECRET_SOURCES: readonly SourceKind[] = ['file', 'tree', 'vault'];

/** A key's value, its issue(s), or `undefined` for an optional key left unset. */
export type Outcome = { value: unknown } | { issue: ConfigIssue } | { issues: ConfigIssue[] } | undefined;

/** Parses one raw value with its spec and, under the production profile, applies the secret rules. */
export function validateKey(
  key: string,
  spec: Spec<unknown> | StandardSchemaV1,
  raw: string | undefined,
  source: SourceKind | 'dev-profile' | undefined,
  environment: EnvironmentInfo,
  options: SecretSourceOptions,
): Outcome | Promise<Outcome> {
  if (isStandardSchema(spec)) {
    const finish = (result: ValidatorOutcome<unknown>): Outcome => {
      if ('broken' in result) {
        return {
          issue: {
            key,
            code: 'invalid',
            message: `${key}: its Standard Schema validator ${result.broken}; the error is not shown because it may quote the value. Make the validator report bad input as issues.`,
          },
        };
      }
      if (!result.issues) return { value: result.value };
      if (raw === undefined) return { issue: missing(key, 'a value accepted by its schema', false, environment) };
      return { issue: { key, code: 'invalid', message: `${key}: ${describeIssues(result.issues, raw)}.` } };
    };
    const result = runValidator(spec, raw, raw);
    return result instanceof Promise ? result.then(finish) : finish(result);
  }
  if (raw === undefined) {
    if (spec.default) return { value: spec.default.value };
    if (spec.optional) return undefined;
    return { issue: missing(key, spec.expects, spec.secret !== undefined, environment) };
  }
  const parsed = spec.parse(raw);
  if (!parsed.ok)
    return { issue: { key, code: 'invalid', message: `${key}: ${parsed.reason}; expected ${spec.expects}.` } };
  if (!spec.secret) return { value: parsed.value };
  if (environment.profile === 'production') {
    const problems: ConfigIssue[] = [];
    const allowed = spec.secret.sources ?? options.secretSources ?? DEFAULT_SECRET_SOURCES;
    if (source !== undefined && source !== 'dev-profile' && !allowed.includes(source)) {
      problems.push({
        key,
        code: 'source-not-allowed',
        message: `${key}: in production this secret must come from ${allowed.join(' or ')}, not ${source === 'env' ? 'a plain environment variable' : source}. Mount it and set ${key}_FILE, use the config tree, or set ${key}=vault:<mount>/<path>#<field>.`,
      });
    }
    const { rules, inValue, inJwt, inDeniedJwt, jwtBelowMinBytes, whitespace } = weakSecretFindings(raw, {
      kind: spec.secret.kind,
      encoding: spec.secret.encoding,
      ...(spec.secret.minBytes === undefined ? {} : { minBytes: spec.secret.minBytes }),
      denylist: spec.secret.denylist,
    });
    if (rules.length > 0) {
      const bytes = Math.max(minimumSecretBytes(spec.secret.kind), spec.secret.minBytes ?? 0);
      // The hint follows what broke the rule: a JWT's issuer must sign with a stronger key (or, for
      // a denylisted one, issue a new token), where any other value is replaced by a random one;
      // whitespace is removed where it is, around the value or around a secret inside the bundle.
      const hint = (rule: WeakSecretRule): string => {
        const hints: string[] = [];
        if (rule === 'surrounding-whitespace') {
          if (whitespace.around) hints.push(WEAK_RULE_HINTS[rule]);
          if (whitespace.inside) hints.push(BUNDLE_WHITESPACE_HINT);
        } else {
          if (inValue.has(rule)) hints.push(WEAK_RULE_HINTS[rule]);
          if (inJwt.has(rule)) hints.push(JWT_RULE_HINTS[rule] ?? WEAK_RULE_HINTS[rule]);
          if (inDeniedJwt.has(rule)) hints.push(DENIED_JWT_HINT);
          if (rule === 'too-short' && jwtBelowMinBytes) hints.push(JWT_LENGTH_HINT);
        }
        return [...new Set(hints)].join(', and ');
      };
      // Whitespace alone is fixed by removing it, in a JWT (pasted with its line break) as anywhere.
      const needsNew = (found: ReadonlySet<WeakSecretRule>): boolean =>
        [...found].some((rule) => rule !== 'surrounding-whitespace');
      const fixes = [
        ...(needsNew(inValue) ? [`Generate a random one, e.g. \`openssl rand -base64 ${bytes}\`.`] : []),
        ...(needsNew(inJwt) ? [JWT_FIX] : []),
        ...(inDeniedJwt.size > 0 ? [DENIED_JWT_FIX] : []),
        // An unsigned JWT stays refused at any length: its own advice (a signed token) is the fix.
        ...(jwtBelowMinBytes && !inJwt.has('unsigned-jwt') ? [JWT_LENGTH_FIX] : []),
      ];
      if (fixes.length === 0) {
        if (whitespace.around) fixes.push('Remove the whitespace around it.');
        if (whitespace.inside) fixes.push('Remove the whitespace around the secret inside the bundle.');
      }
      problems.push({
        key,
        code: 'weak-secret',
        rules,
        message: `${key}: refused as a weak ${spec.secret.kind} secret (${rules.map((r) => `${r}: ${hint(r)}`).join('; ')}). ${fixes.join(' ')}`,
      });
    }
    if (problems.length > 0) return { issues: problems };
  }
  return { value: Secret.of(key, parsed.value as string) };
}

function missing(key: string, expects: string, isSecret: boolean, environment: EnvironmentInfo): ConfigIssue {
  const how = !isSecret
    ? `set ${key}`
    : environment.profile === 'production'
      ? `mount it and set ${key}_FILE, add it to the config tree, or set ${key}=vault:<mount>/<path>#<field>`
      : 'run `rampart-config gen-dev` and pass the file as the devProfile option, or set it in the environment';
  return { key, code: 'missing', message: `${key}: missing; ${how} (expected ${expects}).` };
}
