// The fallback sits in another file than the env read: the import is followed.
import { readEnv } from './config/env.js';

export const jwtSecret = readEnv('JWT_SECRET') || 'changeme-in-production';
