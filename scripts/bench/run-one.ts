// Runs one bench file and prints its rows as a single JSON line on stdout.
import { pathToFileURL } from 'node:url';
import type { BenchDefinition } from './harness.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: run-one.ts <file.bench.ts>');
const mod = (await import(pathToFileURL(file).href)) as { default?: BenchDefinition };
if (!mod.default || typeof mod.default.run !== 'function') {
  throw new Error(`${file} must default-export defineBench(...)`);
}
const rows = await mod.default.run();
process.stdout.write(`RAMPART_BENCH_ROWS ${JSON.stringify(rows)}\n`);
process.exit(0);
