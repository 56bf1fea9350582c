// Tests get their Redis from @rampart/testkit's startRedis(), which uses REDIS_URL when it is set:
// that Redis may be a team's shared one, so no test, example or script may flush it. Keys go under
// the server's keyPrefix, which stop() deletes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The .ts files under `dir` (outside node_modules), relative to the repository root. */
function sources(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.split('/').includes('node_modules'))
    .map((file) => `${dir}/${file}`);
}

describe('a Redis named by REDIS_URL', () => {
  it('is never flushed by a package, a test, an example or a script', () => {
    const dirs = ['examples', 'scripts', 'test', ...readdirSync(join(root, 'packages')).map((p) => `packages/${p}`)];
    const flushing = dirs
      .flatMap(sources)
      .filter((file) => file !== 'test/shared-redis.test.ts')
      .filter((file) => /\bflush(?:db|all)\b/i.test(readFileSync(join(root, file), 'utf8')));
    expect(flushing).toEqual([]);
  });
});
