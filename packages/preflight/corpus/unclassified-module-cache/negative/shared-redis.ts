// A cache built on a Redis store: shared by every pod, as its classification says.
import { createCache } from 'cache-manager';
import { redisStore } from 'cache-manager-ioredis-yet';

// @cache-scope shared(redis)
const sessions = createCache({ store: redisStore({ client: redis }) });

export async function session(req: { sid: string }): Promise<unknown> {
  await sessions.set(`session:${req.sid}`, { seen: Date.now() });
  return sessions.get(`session:${req.sid}`);
}
