import { createHash } from 'node:crypto';
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
// The key is stored as a digest, but it is still the one static key, compared with ===.
const API_KEY_DIGEST = loadDigest();
export function guard(req: { headers: Record<string, string | undefined> }): boolean {
  return sha256(req.headers['x-api-key'] ?? '') === API_KEY_DIGEST;
}
