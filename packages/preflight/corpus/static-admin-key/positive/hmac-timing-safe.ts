// Timing-safe, but still one static key shared by every caller: no identity, no scope, no expiry.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
const compareKey = randomBytes(32);
const ADMIN_KEY = process.env.ADMIN_KEY as string;
export function isAdmin(req: { headers: Record<string, string | undefined> }): boolean {
  const provided = String(req.headers['x-admin-key']);
  return timingSafeEqual(
    createHmac('sha256', compareKey).update(provided).digest(),
    createHmac('sha256', compareKey).update(ADMIN_KEY).digest(),
  );
}
