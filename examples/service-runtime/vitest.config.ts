import { rampartProject } from '../../vitest.shared.ts';

export default rampartProject('example-service-runtime');
