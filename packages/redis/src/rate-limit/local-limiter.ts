import { performance } from 'node:perf_hooks';
import { ceilDiv, floorDiv, type GcraUnits, gcraUnits } from './gcra-units.ts';
import type { ResolvedLimit } from './limits.ts';

/** One limit's outcome, in ms. Shared by the Redis path and this fallback. */
export interface LocalLimitOutcome {
  readonly ok: boolean;
  readonly remaining: number;
  readonly resetMs: number;
  readonly retryAfterMs: number;
}

interface SubjectState {
  /**
   * Per limit `i`, from `3 * i`: for a window, its index, the current count and the previous count;
   * for GCRA, when the state was written (whole ms) and how far the theoretical arrival time was
   * ahead of that instant, as an integer in units of `1 / rate` ms (gcra-units.ts). One array
   * per subject, and a lease map only for concurrency limits: the fallback may hold `maxKeys`
   * subjects.
   */
  readonly v: number[];
  leases: Map<string, number> | undefined;
}

/**
 * `limits` with every quota and burst multiplied by `scale` and rounded down, at least 1: the
 * limits the fallback applies. The windows stay, so a GCRA or token-bucket limit keeps `limit` per
 * `windowMs` scaled, and its burst is scaled on its own. A concurrency limit's `burst` (no cap on
 * the cost) stays.
 */
export function scaleLimits(limits: readonly ResolvedLimit[], scale: number): ResolvedLimit[] {
  const scaled = (n: number): number => Math.max(1, Math.floor(n * scale));
  return limits.map((l) => ({
    ...l,
    limit: scaled(l.limit),
    burst: l.kind === 'c' ? l.burst : scaled(l.burst),
  }));
}

/**
 * The bounded in-process limiter used while Redis is unreachable (policy `fallback`). Same
 * algorithms as the Redis script, on this pod's monotonic clock, over at most `maxKeys` subjects
 * (least recently used dropped first). It sees one pod's traffic only: scale limits accordingly.
 */
export class LocalLimiter {
  /** The limits this limiter applies: the configured ones already scaled ({@link scaleLimits}). */
  readonly limits: readonly ResolvedLimit[];
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Per limit: gcraUnits on a ms clock (zeros for other kinds), computed once. */
  readonly #units: readonly GcraUnits[];
  readonly #subjects = new Map<string, SubjectState>();

  /** `limits` are the ones it applies: scale the configured limits first ({@link scaleLimits}). */
  constructor(limits: readonly ResolvedLimit[], maxKeys: number, now: () => number = () => performance.now()) {
    this.limits = limits;
    this.#maxKeys = maxKeys;
    this.#now = now;
    // Units of 1 / rate ms (gcra-units.ts): with the clock in whole ms every value is an integer,
    // exact while (burst + cost) × perRequest stays within 2^53 (checked by createRateLimiter), and
    // a reset is rounded up once, from the exact quantity, with the Redis script's formulas.
    this.#units = this.limits.map((l) => (l.kind === 'g' ? gcraUnits(l, 1) : { perTick: 0, perRequest: 0 }));
  }

  get size(): number {
    return this.#subjects.size;
  }

  #state(subject: string): SubjectState {
    let state = this.#subjects.get(subject);
    if (state !== undefined) {
      this.#subjects.delete(subject);
    } else {
      if (this.#subjects.size >= this.#maxKeys) {
        const oldest = this.#subjects.keys().next();
        if (oldest.done !== true) this.#subjects.delete(oldest.value);
      }
      const n = this.limits.length;
      const v: number[] = [];
      for (let i = 0; i < n; i++) v.push(-1, 0, 0);
      state = { v, leases: undefined };
    }
    this.#subjects.set(subject, state);
    return state;
  }

  /** Decides and, when every limit admits, spends. */
  consume(subject: string, cost: number, leaseId: string): { allowed: boolean; limits: LocalLimitOutcome[] } {
    const state = this.#state(subject);
    const now = this.#now();
    const outcomes: (LocalLimitOutcome & { spentRemaining: number; spentResetMs: number })[] = [];
    const commits: (() => void)[] = [];
    this.limits.forEach((limit, i) => {
      const L = limit.limit;
      const W = limit.windowMs;
      const at = 3 * i;
      const a = state.v[at] ?? -1;
      const b = state.v[at + 1] ?? 0;
      const c = state.v[at + 2] ?? 0;
      if (limit.kind === 'f' || limit.kind === 's') {
        // `%` is exact on doubles, so the window index and the offset into the window agree at any
        // clock value (`Math.floor(now / W)` can round up to the next window just before its start).
        const into = now % W;
        const idx = (now - into) / W;
        if (limit.kind === 'f') {
          const count = a === idx ? b : 0;
          const ok = count + cost <= L;
          // ⌈W − into⌉, in integers: W is one.
          const resetMs = W - Math.floor(into);
          outcomes.push({
            ok,
            remaining: L - count,
            spentRemaining: L - count - cost,
            resetMs,
            spentResetMs: resetMs,
            retryAfterMs: ok ? 0 : resetMs,
          });
          commits.push(() => {
            state.v[at] = idx;
            state.v[at + 1] = count + cost;
          });
        } else {
          const cur = a === idx ? b : 0;
          const prev = a === idx ? c : a === idx - 1 ? b : 0;
          const est = prev * ((W - into) / W) + cur;
          const ok = est + cost <= L;
          const resetMs = 2 * W - Math.floor(into);
          outcomes.push({
            ok,
            remaining: Math.floor(L - est),
            spentRemaining: Math.floor(L - est - cost),
            resetMs,
            spentResetMs: resetMs,
            retryAfterMs: ok ? 0 : W - Math.floor(into),
          });
          commits.push(() => {
            state.v[at] = idx;
            state.v[at + 1] = cur + cost;
            state.v[at + 2] = prev;
          });
        }
      } else if (limit.kind === 'g') {
        // Counted ahead of the last write, never as an absolute TAT: only the elapsed time is a
        // difference of two clock readings, and at one instant it is exactly 0. In integers
        // (gcraUnits): the clock in whole ms, `ahead` and `next` in units of 1 / rate ms.
        const t = Math.floor(now);
        const { perTick: perMs, perRequest } = this.#units[i]!;
        const cap = limit.burst * perRequest;
        // Never negative; once e · perMs passes 2^53 it still compares above `b` (rounding is monotone).
        const decay = Math.max(t - a, 0) * perMs;
        const ahead = b > decay ? b - decay : 0;
        const next = ahead + cost * perRequest;
        const ok = next <= cap;
        outcomes.push({
          ok,
          remaining: floorDiv(cap - ahead, perRequest),
          spentRemaining: floorDiv(cap - next, perRequest),
          // As the Redis script: a rejection (by any limit) spends nothing, so the reset is of the
          // state as it is; the one of the state after the spend is taken once every limit admits.
          resetMs: ceilDiv(ahead, perMs),
          spentResetMs: ceilDiv(next, perMs),
          retryAfterMs: ok ? 0 : ceilDiv(next - cap, perMs),
        });
        commits.push(() => {
          // Never moved back: a clock reading behind the last write would count the gap twice.
          state.v[at] = Math.max(a, t);
          state.v[at + 1] = next;
        });
      } else {
        if (state.leases === undefined) state.leases = new Map<string, number>();
        const leases = state.leases;
        for (const [id, expiry] of leases) if (expiry <= now) leases.delete(id);
        const ok = leases.size + 1 <= L;
        outcomes.push({
          ok,
          remaining: L - leases.size,
          spentRemaining: L - leases.size - 1,
          resetMs: 0,
          spentResetMs: 0,
          retryAfterMs: ok ? 0 : 1_000,
        });
        commits.push(() => {
          leases.set(leaseId, now + W);
        });
      }
    });
    const allowed = outcomes.every((o) => o.ok);
    if (allowed) for (const commit of commits) commit();
    return {
      allowed,
      limits: outcomes.map((o) => ({
        ok: o.ok,
        remaining: Math.max(0, allowed ? o.spentRemaining : o.remaining),
        resetMs: allowed ? o.spentResetMs : o.resetMs,
        retryAfterMs: o.retryAfterMs,
      })),
    };
  }

  /** Ends an in-process lease. */
  release(subject: string, leaseId: string): void {
    this.#subjects.get(subject)?.leases?.delete(leaseId);
  }
}
