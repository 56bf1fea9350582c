import { z } from 'zod';
// A form schema, not an env schema: camelCase keys, not bound to an env name.
export const loginForm = z.object({ password: z.string(), remember: z.boolean().default(false) });
