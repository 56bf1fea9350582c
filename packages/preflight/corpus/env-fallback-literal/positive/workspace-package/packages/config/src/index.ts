// The monorepo's config package: an env helper with a default parameter.
export function envOr(name: string, fallback?: string): string | undefined {
  return process.env[name] ?? fallback;
}
