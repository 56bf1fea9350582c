import { createEnv } from '@t3-oss/env-core';
import { z } from 'zod';
export const env = createEnv({
  server: { authSecret: z.string().min(32).default('a-default-auth-secret-of-32-chars!') },
  runtimeEnv: process.env,
});
