// Imported helpers: one that does not read the environment, and an env getter used only for
// settings that are not secrets. A package import is not followed.
import { env as packageEnv } from 'env-helper-package';
import { envOr, lookup } from './settings.js';

export const jwt = lookup('JWT_SECRET') || 'x';
export const port = envOr('PORT', '3000');
export const level = envOr('LOG_LEVEL') ?? 'info';
export const other = packageEnv('JWT_SECRET') || 'not-followed';
