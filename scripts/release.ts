// The maintainers' release command (`./run pnpm release`), after `pnpm changeset version` has been
// committed: build every public package, check each packed tarball with publint --strict and
// attw (esm-only), then `changeset publish` (one fixed version for all @rampart/* packages).
// The registry comes from npm config (npm_config_registry / .npmrc), so the release test can
// point it at a local verdaccio.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInForeground } from './foreground-child.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string): string => join(root, 'node_modules/.bin', name);

async function run(title: string, command: string, args: string[]): Promise<void> {
  process.stderr.write(`▶ ${title}\n`);
  const result = await runInForeground(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`✗ ${title} failed; nothing was published after this point\n`);
    process.exit(result.status);
  }
}

await run('build and check packages', bin('turbo'), [
  'run',
  'build',
  'lint:package',
  '--filter=./packages/*',
  '--output-logs=errors-only',
]);
await run('publish (changeset publish)', bin('changeset'), ['publish', ...process.argv.slice(2)]);
