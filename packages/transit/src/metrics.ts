/**
 * Events for metrics and tracing. None carries key material, plaintext, ciphertext or context
 * values: only operation names, the transit key name, counts, durations and error codes.
 */
export type TransitMetric =
  | {
      readonly type: 'vault-call';
      readonly op: string;
      readonly key: string;
      /** Batch items in the call (1 for datakey and key reads). */
      readonly items: number;
      readonly ok: boolean;
      readonly code?: string;
      readonly durationMs: number;
      /**
       * `true` on a failed batch call that Vault failed as a whole for one item's error (older Vault):
       * not the failure of its items, which are resent in halves (calls with `resend`). Absent otherwise.
       */
      readonly split?: true;
      /** `true` on a call that resends half of a split batch (see `split`). Absent otherwise. */
      readonly resend?: true;
    }
  | { readonly type: 'cache'; readonly cache: 'encrypt' | 'decrypt'; readonly result: 'hit' | 'miss' }
  | {
      readonly type: 'dek-retired';
      readonly cache: 'encrypt' | 'decrypt';
      readonly reason: 'max-age' | 'max-messages' | 'max-bytes' | 'evicted' | 'cleared';
      readonly ageMs: number;
      readonly messages: number;
    };

/** Receives {@link TransitMetric}s; must not throw (errors are swallowed). */
export type MetricsHook = (metric: TransitMetric) => void;

/** `hook` with its errors swallowed, or undefined without one. */
export function guardMetricsHook(hook: MetricsHook | undefined): MetricsHook | undefined {
  return hook
    ? (metric) => {
        try {
          hook(metric);
        } catch {
          // A failing metrics sink must not fail encryption.
        }
      }
    : undefined;
}
