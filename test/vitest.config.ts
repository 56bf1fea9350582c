import { rampartProject } from '../vitest.shared.ts';

export default rampartProject('release', { include: ['**/*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000 });
