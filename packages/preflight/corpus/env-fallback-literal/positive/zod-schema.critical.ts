import { z } from 'zod';
const schema = z.object({
  DATABASE_URL: z.string().url(),
  AUTH_SECRET: z.string().default('your-256-bit-secret'),
});
export const env = schema.parse(process.env);
