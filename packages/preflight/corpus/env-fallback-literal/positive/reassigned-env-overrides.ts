// The parameter defaulting to the env object is rewritten as the env object with overrides, or as
// itself or the env object: the fallback still applies to the environment.
export function loadSettings(source = process.env, overrides: Record<string, string> = {}) {
  source = { ...source, ...overrides };
  return source.JWT_SECRET || 'dev-secret-value';
}

export function sessionSecret(source = process.env) {
  source = source || process.env;
  return source.SESSION_SECRET || 'dev-session-secret';
}
