// Inside the function, `read` is a local helper over a settings object, not the module's env getter.
const read = (name: string): string | undefined => process.env[name];
export const port = read('PORT') ?? '3000';
export function fromSettings(settings: Record<string, string>): string {
  const read = (name: string): string | undefined => settings[name];
  return read('JWT_SECRET') || 'not-an-env-fallback';
}
