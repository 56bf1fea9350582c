import type { JsonObject } from './strict-json.ts';

/** A claim predicate for a route; `false` answers 403. */
export type ClaimCheck = (claims: JsonObject) => boolean | Promise<boolean>;

/**
 * A claim check: `claims[name]` equals `value` (strict).
 *
 * @example
 * ```ts
 * verifier.route({ claims: claimEquals('tenant_id', 'acme') });
 * ```
 */
export function claimEquals(name: string, value: string | number | boolean): ClaimCheck {
  return (claims) => Object.hasOwn(claims, name) && claims[name] === value;
}

/**
 * A claim check: `claims[name]` is an array (or space-delimited string) containing every one of `values`.
 *
 * @example
 * ```ts
 * verifier.route({ claims: claimIncludes('groups', 'admins') });
 * ```
 */
export function claimIncludes(name: string, ...values: readonly string[]): ClaimCheck {
  return (claims) => {
    if (!Object.hasOwn(claims, name)) return false;
    const value = claims[name];
    const have = typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value : [];
    return values.every((wanted) => have.includes(wanted));
  };
}
