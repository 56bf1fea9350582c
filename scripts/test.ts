// `./run test` (and CI): lint, build, typecheck, then every vitest project (unit, integration
// against real Redis / Chromium / authorization servers, the release pipeline, the examples).
// Ends with one summary line "tests: N passed, N failed, N skipped".
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInForeground } from './foreground-child.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string): string => join(root, 'node_modules/.bin', name);
const extraArgs = process.argv.slice(2);

async function step(title: string, command: string, args: string[]): Promise<void> {
  const started = Date.now();
  process.stderr.write(`\n▶ ${title}\n`);
  const result = await runInForeground(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test' },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stderr.write(`✗ ${title} failed after ${seconds}s\n`);
    process.stdout.write('tests: 0 passed, 1 failed\n');
    process.exit(result.status);
  }
  process.stderr.write(`✓ ${title} (${seconds}s)\n`);
}

await step('lint and format (biome ci)', bin('biome'), ['ci', '.']);
await step('build and typecheck (turbo)', bin('turbo'), ['run', 'build', 'typecheck', '--output-logs=errors-only']);
await step('typecheck workspace scripts and tests', bin('tsc'), ['-p', 'test/tsconfig.json', '--noEmit']);

const reportDir = mkdtempSync(join(tmpdir(), 'rampart-test-report-'));
const report = join(reportDir, 'vitest.json');
// Also when a signal ends this script before vitest has finished (runInForeground exits then).
process.once('exit', () => rmSync(reportDir, { recursive: true, force: true }));
const started = Date.now();
process.stderr.write('\n▶ tests (vitest: unit, integration, release, examples)\n');
const vitest = await runInForeground(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extraArgs],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
let summary = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0 };
try {
  summary = JSON.parse(readFileSync(report, 'utf8')) as typeof summary;
} catch {
  // vitest died before writing its report; its exit code says so
}
rmSync(reportDir, { recursive: true, force: true });
const failed = summary.numFailedTests + (vitest.status !== 0 && summary.numFailedTests === 0 ? 1 : 0);
process.stderr.write(`${vitest.status === 0 ? '✓' : '✗'} tests (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
process.stdout.write(
  `tests: ${summary.numPassedTests} passed, ${failed} failed, ${summary.numPendingTests + summary.numTodoTests} skipped\n`,
);
process.exit(vitest.status);
