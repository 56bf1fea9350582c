import { rampartProject } from '../../vitest.shared.ts';

export default rampartProject('example-issues-api');
