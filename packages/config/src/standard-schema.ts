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
