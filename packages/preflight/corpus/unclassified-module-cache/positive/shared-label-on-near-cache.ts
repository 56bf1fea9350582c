// The label does not make the Map shared: each pod holds its own copy (a near-cache is per-pod state).

// @cache-scope shared(redis): near-cache; the source of truth is the Redis session store
const sessionNearCache = new Map<string, string>();
export async function session(req: { sid: string }): Promise<string> {
  sessionNearCache.set(req.sid, await redis.get(req.sid));
  return sessionNearCache.get(req.sid)!;
}
