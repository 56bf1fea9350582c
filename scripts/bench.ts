// `pnpm bench`: runs every packages/*/bench/*.bench.ts in its own Node process (so memory
// figures are its own) and prints one markdown table. A benchmark never fails the build.
import { existsSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, formatTable } from './bench/harness.ts';
import { runInForeground } from './foreground-child.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const filter = process.argv.slice(2);
const runner = join(root, 'scripts/bench/run-one.ts');

const files: string[] = [];
for (const dir of ['packages', 'examples']) {
  const base = join(root, dir);
  if (!existsSync(base)) continue;
  for (const pkg of readdirSync(base)) {
    const benchDir = join(base, pkg, 'bench');
    if (!existsSync(benchDir)) continue;
    for (const file of readdirSync(benchDir)) {
      if (file.endsWith('.bench.ts')) files.push(join(benchDir, file));
    }
  }
}

// Match words against the path inside the repository: the checkout's own path may contain them.
const selected = files.filter((f) => filter.length === 0 || filter.some((word) => relative(root, f).includes(word)));
const rows: BenchRow[] = [];
const failures: string[] = [];
for (const file of selected) {
  process.stderr.write(`bench: ${relative(root, file)}\n`);
  const result = await runInForeground(
    process.execPath,
    ['--conditions=@rampart/source', '--expose-gc', runner, file],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_ENV: 'test' },
    },
  );
  const line = result.stdout.split('\n').find((l) => l.startsWith('RAMPART_BENCH_ROWS '));
  if (result.status !== 0 || line === undefined) {
    failures.push(`${relative(root, file)} (exit ${String(result.status)})`);
    continue;
  }
  rows.push(...(JSON.parse(line.slice('RAMPART_BENCH_ROWS '.length)) as BenchRow[]));
}

const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
const machine = `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}-${process.arch}; figures are medians of interleaved rounds in one process per file`;
process.stdout.write(`${formatTable(rows, machine)}\n`);
if (failures.length > 0) process.stdout.write(`\nBenchmarks that did not finish: ${failures.join(', ')}\n`);
