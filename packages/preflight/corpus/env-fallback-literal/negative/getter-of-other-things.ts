// Helpers that do not read the environment, and a getter used for non-secret settings.
const settings: Record<string, string> = { JWT_SECRET: 'not-from-env' };
const fromSettings = (name: string): string | undefined => settings[name];
const read = (name: string): string | undefined => process.env[name];
export const jwt = fromSettings('JWT_SECRET') || 'x';
export const port = read('PORT') || '3000';
export const level = read('LOG_LEVEL') ?? 'info';
