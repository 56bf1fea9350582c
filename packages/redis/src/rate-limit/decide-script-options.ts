import type { RedisScript } from '../scripts.ts';

/** The limiter options written into its decision script. */
export interface DecideScriptOptions {
  /** Count rejected requests too. Default false. */
  readonly spendOnReject?: boolean;
  /** Block the subject this long (µs) after a rejection. Default 0 (off). */
  readonly blockOnRejectUs?: number;
  /**
   * Always the general script, also for a single fixed-window limit (which otherwise gets the
   * packed layout of fixed-window-script.ts). Tests run both and compare.
   */
  readonly general?: boolean;
}

/** The two scripts of a limiter: one decision, and a batch of consume decisions. */
export interface DecideScripts {
  /** KEYS and ARGV as in the comment at the top of decide-script.ts. */
  readonly single: RedisScript;
  /**
   * Consume decisions only. KEYS: each decision's state hash (and lease set); ARGV: each
   * decision's cost (and lease id). Reply: the replies of `single`'s shape of every decision, in
   * order, concatenated into one flat array (each reply's first element tells its length; Redis
   * converts a nested table at a cost per table). Every decision of a batch sees the same TIME and
   * the writes of the ones before it.
   */
  readonly batch: RedisScript;
}
