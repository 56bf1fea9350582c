import { rampartProject } from '../../vitest.shared.ts';

export default rampartProject('@rampart/bearer');
