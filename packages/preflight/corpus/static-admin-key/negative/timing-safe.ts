import { createHash, timingSafeEqual } from 'node:crypto';
const digest = (v: string) => createHash('sha256').update(v).digest();
export const same = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));
