// @cache-scope shared(redis)
const loginAttempts: Record<string, number> = {};

export function recordFailure(req: { ip: string }): number {
  loginAttempts[req.ip] = (loginAttempts[req.ip] ?? 0) + 1;
  return loginAttempts[req.ip]!;
}
