// The Standard Schema v1 interface (https://standardschema.dev), copied as its authors recommend so
// that zod, valibot, arktype and others work without a dependency on any of them.

/** A validator implementing Standard Schema v1 (zod ≥ 3.24, valibot ≥ 1, arktype ≥ 2, ...). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}

/**
 * True when `candidate` implements Standard Schema v1.
 *
 * @example
 * ```ts
 * import { isStandardSchema } from '@rampart/config';
 * import { z } from 'zod';
 * isStandardSchema(z.string()); // true
 * ```
 */
export function isStandardSchema(candidate: unknown): candidate is StandardSchemaV1 {
  if ((typeof candidate !== 'object' && typeof candidate !== 'function') || candidate === null) return false;
  const props = (candidate as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}

/**
 * Turns Standard Schema issues into text. Validators may quote the input in their messages, so a
 * message that contains any part of the raw value is withheld.
 */
export function describeIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>, raw: string): string {
  const parts = issues.slice(0, 5).map((issue) => {
    const path = (issue.path ?? [])
      .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
      .map(String)
      .join('.');
    const text = path ? `${path}: ${issue.message}` : issue.message;
    // Paths can be keys of the user's JSON document, so they are checked like the message.
    return quotesValue(text, raw) ? '(issue withheld: it quotes the value)' : text;
  });
  const more = issues.length > 5 ? ` (+${issues.length - 5} more)` : '';
  return `does not satisfy its schema: ${parts.join('; ')}${more}`;
}

function quotesValue(message: string, raw: string): boolean {
  const value = raw.trim();
  if (value.length === 0) return false;
  if (value.length <= 3) return new RegExp(`(^|[^A-Za-z0-9])${escapeRegExp(value)}($|[^A-Za-z0-9])`).test(message);
  const lower = message.toLowerCase();
  for (let i = 0; i + 4 <= value.length; i++) {
    if (lower.includes(value.slice(i, i + 4).toLowerCase())) return true;
  }
  return false;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
