import { string } from './scalars.ts';
import {
  build,
  type CommonOptions,
  checkOptions,
  checkSpecValue,
  fail,
  type IsOptional,
  isSpec,
  ok,
  type Spec,
  schemaError,
} from './spec.ts';
import { describeIssues, isStandardSchema, runValidator, type StandardSchemaV1 } from './standard-schema.ts';

type ItemOf<O> = O extends { readonly of: Spec<infer T, boolean> } ? T : string;

/** Options of {@link list}. */
export interface ListOptions<T> extends CommonOptions<readonly T[]> {
  /**
   * The spec of each item: one built by this package (`url()`, `port()`, ...), not a secret and not
   * a Standard Schema validator (`ERR_CONFIG_SCHEMA`). Default: {@link string}.
   */
  readonly of?: Spec<T, false>;
  /** A non-empty string, default `,`. Items are trimmed; empty items are refused. */
  readonly separator?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
}

/**
 * A separated list (`a,b,c`), each item parsed by `of`.
 *
 * @example
 * ```ts
 * import { list, url } from '@rampart/config';
 * const schema = { CORS_ORIGINS: list({ of: url({ protocols: ['https:'] }), minItems: 1 }) };
 * ```
 */
export function list<const O extends ListOptions<unknown> = ListOptions<string>>(
  options?: O,
): Spec<readonly ItemOf<O>[], IsOptional<O>> {
  type T = ItemOf<O>;
  const o = (options ?? {}) as ListOptions<T>;
  checkOptions('list', o, ['of', 'separator', 'minItems', 'maxItems']);
  if (o.of !== undefined && !isSpec(o.of)) {
    throw schemaError(
      'list(): `of` must be a spec such as string(), url() or port(); a Standard Schema validator (zod, valibot) cannot parse items, so validate the whole key with it instead.',
    );
  }
  const item = (o.of ?? string()) as Spec<T, false>;
  if (item.secret) throw schemaError('list(): items cannot be secrets; declare each secret as its own key.');
  if (o.separator !== undefined && (typeof o.separator !== 'string' || o.separator === '')) {
    throw schemaError("list(): separator must be a non-empty string, e.g. `separator: ';'`.");
  }
  const separator = o.separator ?? ',';
  const checkCount = (count: number): string | undefined => {
    if (o.minItems !== undefined && count < o.minItems) return `must have at least ${o.minItems} item(s)`;
    if (o.maxItems !== undefined && count > o.maxItems) return `must have at most ${o.maxItems} item(s)`;
    return undefined;
  };
  return build(
    'list',
    'list',
    o,
    `a list of ${item.expects} separated by "${separator}"`,
    (raw) => {
      const parts = raw.trim() === '' ? [] : raw.split(separator).map((part) => part.trim());
      const values: T[] = [];
      for (const [index, part] of parts.entries()) {
        if (part === '') return fail(`item ${index + 1} is empty`);
        const parsed = item.parse(part);
        if (!parsed.ok) return fail(`item ${index + 1} ${parsed.reason}`);
        values.push(parsed.value);
      }
      const problem = checkCount(values.length);
      return problem === undefined ? ok(values) : fail(problem);
    },
    (v) => {
      if (!Array.isArray(v)) return 'must be an array';
      // Every item problem at once; the reasons never quote an item.
      const problems = v.flatMap((value: unknown, index) => {
        const problem =
          typeof value === 'string' && value.trim() === ''
            ? 'is empty'
            : typeof value === 'string' && value.includes(separator)
              ? `contains the separator "${separator}"`
              : checkSpecValue(item, value);
        return problem === undefined ? [] : [`item ${index + 1} ${problem}`];
      });
      const count = checkCount(v.length);
      return problems.length > 0 || count ? [...problems, ...(count ? [count] : [])].join('; ') : undefined;
    },
  );
}

/** The deepest nesting {@link json} accepts; configuration never needs more. */
const MAX_JSON_DEPTH = 256;

const TOO_DEEP = `is nested deeper than ${MAX_JSON_DEPTH} levels; flatten the document`;

const CYCLIC = 'refers to itself (a cycle), which JSON cannot hold; pass a plain JSON value';

/**
 * Why `value` is no JSON document {@link json} accepts: arrays/objects nested deeper than `limit`
 * levels, or a cycle (only a default can have one). Iterative; a sub-object shared by several
 * parents is walked again only when reached with more levels left than before, so the cost stays
 * linear in the levels, not exponential.
 */
function jsonShapeProblem(value: unknown, limit: number): string | undefined {
  // Greatest number of levels left with which each object was (or is being) walked.
  const walked = new WeakMap<object, number>();
  const onPath = new WeakSet<object>();
  const pending: [unknown, number, boolean][] = [[value, limit, false]];
  while (pending.length > 0) {
    const [next, left, leaving] = pending.pop()!;
    if (typeof next !== 'object' || next === null) continue;
    if (leaving) {
      onPath.delete(next);
      continue;
    }
    if (onPath.has(next)) return CYCLIC;
    if (left < 1) return TOO_DEEP;
    if ((walked.get(next) ?? -1) >= left) continue;
    walked.set(next, left);
    onPath.add(next);
    pending.push([next, left, true]);
    for (const child of Object.values(next)) pending.push([child, left - 1, false]);
  }
  return undefined;
}

/** Options of {@link json}. */
export interface JsonOptions<T> extends CommonOptions<T> {
  /** A synchronous Standard Schema (zod, valibot) the parsed JSON must satisfy. */
  readonly schema?: StandardSchemaV1<unknown, T>;
}

/**
 * A JSON document, parsed, optionally validated by a Standard Schema, and deeply frozen. Documents
 * nested deeper than 256 levels are refused (as `invalid`, by `check` and loading alike).
 * A `default` is the schema's output, so it is not run through the schema: only its depth is
 * checked, and a cyclic default is refused.
 *
 * @example
 * ```ts
 * import { json } from '@rampart/config';
 * import { z } from 'zod';
 * const schema = { RATE_LIMITS: json({ schema: z.object({ perMinute: z.number() }) }) };
 * ```
 */
export function json<T = unknown>(options: JsonOptions<T> & { readonly optional: true }): Spec<T, true>;
export function json<T = unknown>(options?: JsonOptions<T> & { readonly optional?: false }): Spec<T, false>;
export function json(options?: JsonOptions<unknown>): Spec<unknown, boolean> {
  type R = unknown;
  const o = (options ?? {}) as JsonOptions<R>;
  checkOptions('json', o, ['schema']);
  if (o.schema !== undefined && !isStandardSchema(o.schema)) {
    throw schemaError('json(): `schema` must implement Standard Schema v1 (zod, valibot, arktype, ...).');
  }
  return build(
    'json',
    'json',
    o,
    'a JSON document',
    (raw) => {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return fail('must be valid JSON');
      }
      const shape = jsonShapeProblem(value, MAX_JSON_DEPTH);
      if (shape !== undefined) return fail(shape);
      if (o.schema === undefined) return ok(value as R);
      const result = runValidator(o.schema, value, raw);
      if (result instanceof Promise)
        return fail(
          'has an asynchronous schema (or one that threw: zod answers a throwing transform with a promise); json() needs a synchronous one',
        );
      if ('broken' in result)
        return fail(`has a schema that ${result.broken} (the error is withheld: it may quote the value)`);
      if (result.issues) return fail(describeIssues(result.issues, raw, value));
      return ok(result.value);
    },
    // A default is the schema's output (a transforming schema's input may differ): only its shape
    // is checked, not the schema.
    (value) => jsonShapeProblem(value, MAX_JSON_DEPTH),
  );
}
