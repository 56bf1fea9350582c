// Per-client API keys stored as digests: the stored side is the caller's own record, not one static key.
import { createHash } from 'node:crypto';
export async function client(req: { headers: Record<string, string | undefined> }, db: KeyStore) {
  const row = await db.findByPrefix(req.headers['x-api-key']?.slice(0, 8) ?? '');
  return row && createHash('sha256').update(req.headers['x-api-key'] ?? '').digest('hex') === row.keyHash;
}
