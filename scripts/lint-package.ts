// `pnpm lint:package` in a package: packs it as it would be published, then runs
// `publint --strict` and `attw --profile esm-only` on the tarball.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cwd = process.cwd();
const out = mkdtempSync(join(tmpdir(), 'rampart-pack-'));
const run = (command: string, args: string[]): void => {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    process.exit(result.status ?? 1);
  }
};
try {
  run('pnpm', ['pack', '--pack-destination', out]);
  const tarball = join(out, readdirSync(out).find((f) => f.endsWith('.tgz')) ?? '');
  run(join(root, 'node_modules/.bin/publint'), ['run', tarball, '--strict']);
  run(join(root, 'node_modules/.bin/attw'), [tarball, '--profile', 'esm-only']);
} finally {
  rmSync(out, { recursive: true, force: true });
}
