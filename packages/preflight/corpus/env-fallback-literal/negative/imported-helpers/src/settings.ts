const defaults: Record<string, string> = { JWT_SECRET: 'not-from-env' };
// Reads a settings object, not the environment.
export const lookup = (name: string): string | undefined => defaults[name];
export const envOr = (name: string, fallback?: string): string | undefined => process.env[name] ?? fallback;
