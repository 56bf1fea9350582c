import { RedisStoreError } from '../errors.ts';
import type { LimitStatus } from './decision.ts';
import type { ResolvedLimit } from './limits.ts';

/** One decision as the decide script answered it (see decide-script.ts), times in µs. */
export interface ScriptReply {
  readonly allowed: boolean;
  readonly nowUs: number;
  readonly blockedForUs: number;
  readonly limits: LimitStatus[];
}

/** Thrown for any reply the script cannot have produced (a foreign script under our SHA, a proxy). */
function unexpectedReply(): RedisStoreError {
  return new RedisStoreError('ERR_REDIS_UNEXPECTED_REPLY', 'the rate-limit script returned an unexpected reply.');
}

/** One limit's status from figures in µs (a script reply, or the block cache counted down). */
export function limitStatus(
  l: ResolvedLimit,
  allowed: boolean,
  remaining: number,
  resetUs: number,
  retryUs: number,
): LimitStatus {
  return {
    name: l.name,
    algorithm: l.algorithm,
    limit: l.limit,
    windowMs: l.windowMs,
    allowed,
    remaining,
    resetMs: resetUs > 0 ? Math.ceil(resetUs / 1000) : 0,
    retryAfterMs: retryUs > 0 ? Math.ceil(retryUs / 1000) : 0,
  };
}

/**
 * Reads one decision's reply (see decide-script.ts) from `nums` at `at`; `end` is where the next
 * one starts (a batch concatenates them). Admitted and spent: `1, now`, then per limit its
 * remaining (GCRA: remaining, reset); the reset of a window is recomputed here from `now` with the
 * script's own arithmetic (both are IEEE doubles on integers below 2^53, so the figures match).
 * Otherwise: `0, now, blockedFor, (ok, remaining, reset, retry)×n`, admitted when blockedFor is 0
 * and every ok 1 (the script's form for a window counted ahead of the clock). Ops without limit state
 * (`count` 0) answer `1, now` or `0, now, blockedFor`.
 */
function parseAt(
  nums: readonly number[],
  at: number,
  limits: readonly ResolvedLimit[],
  count: number,
): { reply: ScriptReply; end: number } {
  const nowUs = nums[at + 1];
  if (nowUs === undefined) throw unexpectedReply();
  const out: LimitStatus[] = [];
  if (nums[at] === 1) {
    let i = at + 2;
    for (let k = 0; k < count; k++) {
      const l = limits[k]!;
      const remaining = nums[i++];
      let resetUs = 0;
      if (l.kind === 'g') resetUs = nums[i++]!;
      else if (l.kind !== 'c') {
        const w = l.windowMs * 1000;
        resetUs = (Math.floor(nowUs / w) + (l.kind === 'f' ? 1 : 2)) * w - nowUs;
      }
      if (remaining === undefined || i > nums.length) throw unexpectedReply();
      out.push(limitStatus(l, true, remaining, resetUs, 0));
    }
    return { reply: { allowed: true, nowUs, blockedForUs: 0, limits: out }, end: i };
  }
  const end = at + 3 + 4 * count;
  if (nums[at] !== 0 || end > nums.length) throw unexpectedReply();
  const blockedForUs = nums[at + 2]!;
  let allowed = blockedForUs === 0;
  for (let k = 0, i = at + 3; k < count; k++, i += 4) {
    const ok = nums[i] === 1;
    if (!ok) allowed = false;
    out.push(limitStatus(limits[k]!, ok, nums[i + 1]!, nums[i + 2]!, nums[i + 3]!));
  }
  return { reply: { allowed, nowUs, blockedForUs, limits: out }, end };
}

/** The reply as an array of numbers, or ERR_REDIS_UNEXPECTED_REPLY. */
function numbers(reply: unknown): number[] {
  if (!Array.isArray(reply)) throw unexpectedReply();
  for (let i = 0; i < reply.length; i++) if (typeof reply[i] !== 'number') throw unexpectedReply();
  return reply as number[];
}

/** Reads the reply of one decision, which must be the whole reply. */
export function parseReply(reply: unknown, limits: readonly ResolvedLimit[], count: number): ScriptReply {
  const nums = numbers(reply);
  const { reply: parsed, end } = parseAt(nums, 0, limits, count);
  if (end !== nums.length) throw unexpectedReply();
  return parsed;
}

/** Reads the concatenated replies of a batch of `decisions` consume decisions. */
export function parseBatchReply(reply: unknown, limits: readonly ResolvedLimit[], decisions: number): ScriptReply[] {
  const nums = numbers(reply);
  const out: ScriptReply[] = [];
  let at = 0;
  for (let d = 0; d < decisions; d++) {
    const next = parseAt(nums, at, limits, limits.length);
    out.push(next.reply);
    at = next.end;
  }
  if (at !== nums.length) throw unexpectedReply();
  return out;
}
