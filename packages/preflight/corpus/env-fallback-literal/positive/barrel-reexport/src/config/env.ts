export function envOr(key: string, defaultValue = ''): string {
  return process.env[key] || defaultValue;
}
