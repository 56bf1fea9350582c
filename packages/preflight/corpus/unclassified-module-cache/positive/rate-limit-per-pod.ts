// @cache-scope per-pod: fast enough for our traffic levels
const rateLimitWindows = new Map<string, number[]>();
export function allow(req: { ip: string }): boolean {
  const hits = rateLimitWindows.get(req.ip) ?? [];
  rateLimitWindows.set(req.ip, [...hits, Date.now()]);
  return hits.length < 100;
}
