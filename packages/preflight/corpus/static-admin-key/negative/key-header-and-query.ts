// Two values of the same request: the key may come as a header or a query value, but not as two
// different ones. A consistency check, not a key compare.
import type { Context } from 'hono';

export function oneKey(req: { headers: Record<string, string | undefined>; query: Record<string, string> }) {
  const a = req.headers['x-api-key'],
    b = req.query.api_key;
  if (a && b && a !== b) return 400;
  return 200;
}

export const sameKey = (c: Context) => c.req.header('x-api-key') !== c.req.query('api_key');
