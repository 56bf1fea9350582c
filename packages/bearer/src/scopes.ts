import { BearerError } from './errors.ts';
import type { JsonObject } from './strict-json.ts';

/** Claims that can carry scopes. `scope` is a space-delimited string (RFC 9068); the others may be arrays. */
export type ScopeClaim = 'scope' | 'scp' | 'permissions' | 'roles';

/**
 * The scope claims read when none are configured. `permissions`/`roles` are opt-in: their meaning varies by issuer.
 *
 * @example
 * ```ts
 * createBearerVerifier({ ...options, scopeClaims: [...DEFAULT_SCOPE_CLAIMS, 'permissions'] });
 * ```
 */
export const DEFAULT_SCOPE_CLAIMS: readonly ScopeClaim[] = ['scope', 'scp'];

const SCOPE_CLAIMS: ReadonlySet<string> = new Set<ScopeClaim>(['scope', 'scp', 'permissions', 'roles']);

/** Whether `value` is an array of {@link ScopeClaim} names (an options check). */
export function isScopeClaimList(value: unknown): value is readonly ScopeClaim[] {
  return Array.isArray(value) && value.every((claim) => typeof claim === 'string' && SCOPE_CLAIMS.has(claim));
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** True when `value` is a valid RFC 6749 scope token (so it can be matched and quoted safely). */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

const malformedScope = (claim: string): BearerError =>
  new BearerError(
    'ERR_BEARER_TOKEN_INVALID',
    `The "${claim}" claim is malformed: it must be a space-delimited string or an array of strings.`,
  );

function addTokens(into: Set<string>, claim: string, value: string): void {
  // Split on single spaces only: a tab or newline inside a claim keeps the whole token intact,
  // so "read\tadmin" can never satisfy a route that needs "admin".
  for (const part of value.split(' ')) {
    if (part === '') continue;
    if (!isScopeToken(part)) throw malformedScope(claim);
    into.add(part);
  }
}

/**
 * Collects granted scopes from the configured claims, merged. `scope` must be a string; `scp`,
 * `permissions` and `roles` may be a string or an array of strings. Anything else makes the token
 * invalid rather than silently granting or dropping scopes.
 */
export function extractScopes(claims: JsonObject, sources: readonly ScopeClaim[]): ReadonlySet<string> {
  const scopes = new Set<string>();
  for (const claim of sources) {
    if (!Object.hasOwn(claims, claim)) continue;
    const value = claims[claim];
    if (typeof value === 'string') {
      addTokens(scopes, claim, value);
    } else if (claim !== 'scope' && Array.isArray(value)) {
      for (const entry of value) {
        if (typeof entry !== 'string' || !isScopeToken(entry)) throw malformedScope(claim);
        scopes.add(entry);
      }
    } else {
      throw malformedScope(claim);
    }
  }
  return scopes;
}

/** What a route requires of the token's scopes. */
export interface ScopeRequirement<S extends string = string> {
  /** Every one of these. */
  readonly all?: readonly S[];
  /** At least one of these. */
  readonly any?: readonly S[];
}

/** Validates a requirement at declaration time; returns the problems. */
export function scopeRequirementProblems(requirement: ScopeRequirement | undefined): string[] {
  const problems: string[] = [];
  if (requirement === undefined) return problems;
  for (const key of ['all', 'any'] as const) {
    const list = requirement[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problems.push(`scopes.${key} must be an array of scope tokens`);
      continue;
    }
    if (key === 'any' && list.length === 0) problems.push('scopes.any must not be empty (it would never match)');
    for (const scope of list) {
      if (!isScopeToken(scope)) {
        problems.push(
          `scopes.${key} has an entry that is not an RFC 6749 scope token (no spaces, quotes or backslashes)`,
        );
        break;
      }
    }
  }
  return problems;
}

/**
 * Throws `ERR_BEARER_INSUFFICIENT_SCOPE` unless `granted` satisfies `requirement`. The error's
 * `requiredScopes` are advertised in the `scope=` challenge parameter.
 */
export function checkScopes(granted: ReadonlySet<string>, requirement: ScopeRequirement | undefined): void {
  if (requirement === undefined) return;
  const all = requirement.all ?? [];
  const any = requirement.any;
  const missingAll = all.some((scope) => !granted.has(scope));
  const missingAny = any !== undefined && !any.some((scope) => granted.has(scope));
  if (missingAll || missingAny) {
    throw new BearerError(
      'ERR_BEARER_INSUFFICIENT_SCOPE',
      "The token lacks a scope this route requires (see the challenge's scope).",
      { requiredScopes: [...all, ...(missingAny && any ? any : [])] },
    );
  }
}
