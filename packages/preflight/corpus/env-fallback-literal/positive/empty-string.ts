// An empty fallback is fail-open too: HMAC with an empty key still 'works'.
export const key = process.env.ENCRYPTION_KEY || '';
