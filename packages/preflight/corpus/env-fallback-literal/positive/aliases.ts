import { env as runtimeEnv } from 'node:process';

const { env: e } = process;
const KEY = 'SESSION_SECRET';

export const jwtSecret = e.JWT_SECRET || 'dev-jwt-secret';
export const apiToken = runtimeEnv.API_TOKEN ?? 'dev-api-token';
export const sessionSecret = process.env[KEY] || 'dev-session-secret';
export function signingKey(source = process.env): string {
  return source.SIGNING_KEY || 'dev-signing-key';
}
