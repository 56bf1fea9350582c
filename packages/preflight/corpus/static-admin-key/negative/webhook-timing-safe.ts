// Signature verification: an HMAC of the request body, compared in constant time with the header
// that carries the signature. The data is the request's, so this is no static key.
import { createHmac, timingSafeEqual } from 'node:crypto';
const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET as string;
export function verify(req: { headers: Record<string, string | undefined>; rawBody: Buffer }): boolean {
  const expected = createHmac('sha256', WEBHOOK_SECRET).update(req.rawBody).digest('hex');
  return timingSafeEqual(Buffer.from(req.headers.authorization ?? ''), Buffer.from(expected));
}
