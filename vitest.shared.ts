import { configDefaults, defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * The settings every package's vitest project shares. Vitest 5 project configs do not inherit the
 * root config, so each `packages/<name>/vitest.config.ts` calls this.
 */
export function rampartProject(name: string, overrides: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    // Resolve workspace packages to their sources, so tests never run against a stale build.
    resolve: { conditions: ['@rampart/source'] },
    ssr: { resolve: { conditions: ['@rampart/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: [...configDefaults.exclude, '**/dist/**'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      restoreMocks: true,
      ...overrides,
    },
  });
}
