import { z } from 'zod';
export const schema = z.object({
  JWT_SECRET: z.string().min(32),
  PORT: z.coerce.number().default(3000),
  LOG_LEVEL: z.string().default('info'),
});
