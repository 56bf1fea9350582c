import { LRUCache } from 'lru-cache';
const caches = { users: new Map(), tokens: new LRUCache({ max: 500 }) };
export function remember(req) {
  caches.users.set(req.user.id, req.user);
  caches.tokens.set(req.user.id, req.token);
}
