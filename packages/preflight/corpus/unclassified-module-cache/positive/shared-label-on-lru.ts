import { LRUCache } from 'lru-cache';

// @cache-scope shared(redis)
const nonces = new LRUCache<string, true>({ max: 100_000 });

export function acceptNonce(req: { body: { nonce: string } }): boolean {
  if (nonces.has(req.body.nonce)) return false;
  nonces.set(req.body.nonce, true);
  return true;
}
