import { cleanEnv, str, port } from 'envalid';
export const env = cleanEnv(process.env, {
  PORT: port({ default: 8080 }),
  COOKIE_SECRET: str({ default: 'c00kie-s3cret-for-everyone' }),
});
