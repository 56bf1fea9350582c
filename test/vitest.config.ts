import { rampartProject } from '../vitest.shared.ts';

export default rampartProject('workspace', {
  include: ['**/*.test.ts'],
  testTimeout: 300_000,
  hookTimeout: 600_000,
});
