import { RedisStoreError } from './errors.ts';
import type { RedisCallGuard } from './redis-down-policy.ts';
import { defineScript } from './scripts.ts';

/*
 * One command applied to many keys in one script call, for the stores' coalesced batches: each
 * key is still its own atomic command; only the round trip and the reply are shared. The keys of
 * one call must be in one slot, so callers use these on a single node only.
 */

/** `SET key value PX ttl NX` per key. ARGV: ttl, value per key. Reply: 1 (stored) or 0 per key. */
export const SET_NX_MANY = defineScript(
  'set-nx-many',
  `local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('SET', KEYS[i], ARGV[2 * i], 'PX', ARGV[2 * i - 1], 'NX') and 1 or 0
end
return out`,
);

/** `GETDEL key` per key. Reply: the value, or nil, per key. */
export const GETDEL_MANY = defineScript(
  'getdel-many',
  `local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('GETDEL', KEYS[i])
end
return out`,
);

/** The reply of a script above as one element per key, or `ERR_REDIS_UNEXPECTED_REPLY`. */
export function replyPerKey(reply: unknown, keys: number, operation: string): unknown[] {
  if (!Array.isArray(reply) || reply.length !== keys) {
    throw new RedisStoreError('ERR_REDIS_UNEXPECTED_REPLY', `${operation}: unexpected reply from Redis.`);
  }
  return reply;
}

/** One `SET key value PX ttl NX`: a ReplayGuard check or a SingleUseStore put. */
export interface SetNxItem {
  readonly key: string;
  readonly value: string;
  readonly ttl: number;
}

const isOk = (reply: unknown): boolean => reply === 'OK';

/**
 * One item as `SET key value PX ttl NX`, sent at once on its own (RedisCallGuard.send): every
 * command of the stores goes that way, so none can overtake another waiting in ioredis's
 * auto-pipeline. True when stored.
 */
export function setNx(guard: RedisCallGuard, operation: string, item: SetNxItem): Promise<boolean> {
  return guard.send(operation, 'set', [item.key, item.value, 'PX', item.ttl, 'NX'], isOk);
}

/** Items in one {@link SET_NX_MANY} call; true per stored item, in order. */
export function setNxMany(guard: RedisCallGuard, operation: string, items: readonly SetNxItem[]): Promise<boolean[]> {
  const keys: string[] = [];
  const args: (string | number)[] = [];
  for (const item of items) {
    keys.push(item.key);
    args.push(item.ttl, item.value);
  }
  return guard.sendScript(operation, SET_NX_MANY, keys, args, (reply) =>
    replyPerKey(reply, items.length, operation).map((r) => r === 1),
  );
}
