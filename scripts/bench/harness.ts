/**
 * The benchmark harness behind `pnpm bench`. A package's `bench/*.bench.ts` default-exports
 * `defineBench(...)`; `scripts/bench.ts` runs each file in its own Node process and prints one
 * markdown table. Our code and the peer a user would pick instead run in the same process,
 * interleaved round by round, and each figure is the median of the rounds.
 */
import { performance } from 'node:perf_hooks';

/** One line of the table. */
export interface BenchRow {
  readonly package: string;
  readonly operation: string;
  /** This project's figure. */
  readonly ours: number;
  /** The peer's figure, when there is a peer for this operation. */
  readonly peer?: number;
  readonly peerName?: string;
  /** Unit of `ours` and `peer` (ops/s, MB/s, calls, MiB, ...). */
  readonly unit: string;
  /** Whether a larger figure is better; decides the direction of the ratio. */
  readonly higherIsBetter: boolean;
  /** p99 latency in ms, when measured. */
  readonly oursP99Ms?: number;
  readonly peerP99Ms?: number;
  /** Free text: the target, a caveat. */
  readonly note?: string;
}

type Task = () => unknown;

/** What {@link BenchContext.compare} measures. */
export interface CompareSpec {
  readonly ours: Task;
  readonly peer?: { readonly name: string; readonly fn: Task };
  /** Parallel in-flight calls (for async work such as Redis). Default 1. */
  readonly concurrency?: number;
  /** When set, throughput is reported in MB/s instead of ops/s. */
  readonly bytesPerOp?: number;
  /** Free text for the table's note column, e.g. the target. */
  readonly note?: string;
  /**
   * Rounds per side (default 7). More rounds for a row whose target sits within a few percent of
   * the peer: on a shared machine one 500 ms round can be 10 % off the next.
   */
  readonly rounds?: number;
}

/** Handed to a bench definition. */
export interface BenchContext {
  /** Measures our task and the peer's side by side and records a row. */
  compare(operation: string, spec: CompareSpec): Promise<void>;
  /** Records a figure that is not a throughput (commands per decision, RSS growth, ...). */
  record(row: Omit<BenchRow, 'package'>): void;
  /** True under `RAMPART_BENCH_QUICK=1`: shorter rounds, for smoke runs. */
  readonly quick: boolean;
}

/** What a `*.bench.ts` file default-exports. */
export interface BenchDefinition {
  readonly package: string;
  run(): Promise<BenchRow[]>;
}

/** Read at call time so a caller can switch it on after import. */
function isQuick(): boolean {
  return process.env.RAMPART_BENCH_QUICK === '1';
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

interface RoundResult {
  readonly opsPerSecond: number;
  readonly latenciesMs: number[];
}

/**
 * Lets the event loop turn once. A task that settles within microtasks (in-process request
 * injection, say) never reaches the check phase, so the `setImmediate` callbacks it schedules,
 * and everything they hold, would pile up until the process runs out of heap.
 */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function runRound(task: Task, durationMs: number, concurrency: number): Promise<RoundResult> {
  const latenciesMs: number[] = [];
  let ops = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const result = task();
      if (result instanceof Promise) await result;
      latenciesMs.push(performance.now() - t0);
      ops += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  // The deferred work of the round runs here and counts in its time.
  await turn();
  const elapsed = performance.now() - start;
  return { opsPerSecond: (ops * 1000) / elapsed, latenciesMs };
}

/** Runs `ours` and `peer` in alternating rounds; returns medians per side. */
export async function measure(
  spec: CompareSpec,
  { roundMs = isQuick() ? 100 : 500, warmupMs = isQuick() ? 50 : 300 } = {},
): Promise<{ ours: RoundResult[]; peer: RoundResult[] }> {
  const concurrency = spec.concurrency ?? 1;
  const rounds = isQuick() ? 3 : (spec.rounds ?? 7);
  await runRound(spec.ours, warmupMs, concurrency);
  if (spec.peer) await runRound(spec.peer.fn, warmupMs, concurrency);
  const ours: RoundResult[] = [];
  const peer: RoundResult[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first so drift (GC, JIT, thermal) hits both equally.
    if (r % 2 === 0 || !spec.peer) {
      ours.push(await runRound(spec.ours, roundMs, concurrency));
      if (spec.peer) peer.push(await runRound(spec.peer.fn, roundMs, concurrency));
    } else {
      peer.push(await runRound(spec.peer.fn, roundMs, concurrency));
      ours.push(await runRound(spec.ours, roundMs, concurrency));
    }
  }
  return { ours, peer };
}

/**
 * Declares a package's benchmarks.
 *
 * @example
 * ```ts
 * import { defineBench } from '../../../scripts/bench/harness.ts';
 * export default defineBench('@rampart/example', async (b) => {
 *   await b.compare('sum 1..100', {
 *     ours: () => { let s = 0; for (let i = 1; i <= 100; i++) s += i; return s; },
 *     peer: { name: 'Array.reduce', fn: () => Array.from({ length: 100 }, (_, i) => i + 1).reduce((a, b) => a + b) },
 *   });
 * });
 * ```
 */
export function defineBench(pkg: string, body: (ctx: BenchContext) => Promise<void>): BenchDefinition {
  return {
    package: pkg,
    async run() {
      const rows: BenchRow[] = [];
      const ctx: BenchContext = {
        quick: isQuick(),
        record(row) {
          rows.push({ package: pkg, ...row });
        },
        async compare(operation, spec) {
          const { ours, peer } = await measure(spec);
          const scale = spec.bytesPerOp ? spec.bytesPerOp / 1_000_000 : 1;
          const row: BenchRow = {
            package: pkg,
            operation,
            unit: spec.bytesPerOp ? 'MB/s' : 'ops/s',
            higherIsBetter: true,
            ours: median(ours.map((r) => r.opsPerSecond)) * scale,
            oursP99Ms: median(ours.map((r) => percentile(r.latenciesMs, 99))),
            ...(spec.peer
              ? {
                  peer: median(peer.map((r) => r.opsPerSecond)) * scale,
                  peerName: spec.peer.name,
                  peerP99Ms: median(peer.map((r) => percentile(r.latenciesMs, 99))),
                }
              : {}),
            ...(spec.note ? { note: spec.note } : {}),
          };
          rows.push(row);
        },
      };
      await body(ctx);
      return rows;
    },
  };
}

/** ours ÷ peer when higher is better, peer ÷ ours otherwise: > 1 always means we are ahead. */
export function ratio(row: BenchRow): number | undefined {
  if (row.peer === undefined || row.peer === 0 || row.ours === 0) return undefined;
  return row.higherIsBetter ? row.ours / row.peer : row.peer / row.ours;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** The markdown table `pnpm bench` prints. */
export function formatTable(rows: readonly BenchRow[], machine: string): string {
  const lines = [
    `Machine: ${machine}`,
    '',
    '| package | operation | rampart | peer | peer figure | ratio | p99 ms (ours / peer) | note |',
    '|---|---|---:|---|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const r = ratio(row);
    const p99 =
      row.oursP99Ms === undefined
        ? ''
        : `${formatNumber(row.oursP99Ms)} / ${row.peerP99Ms === undefined ? '—' : formatNumber(row.peerP99Ms)}`;
    lines.push(
      `| ${row.package} | ${row.operation} | ${formatNumber(row.ours)} ${row.unit} | ${row.peerName ?? '—'} | ${
        row.peer === undefined ? '—' : `${formatNumber(row.peer)} ${row.unit}`
      } | ${r === undefined ? '—' : `${r.toFixed(2)}×`} | ${p99} | ${row.note ?? ''} |`,
    );
  }
  return lines.join('\n');
}
