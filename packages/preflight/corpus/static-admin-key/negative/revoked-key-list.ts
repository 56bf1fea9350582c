const revoked = new Set(process.env.REVOKED_API_KEYS?.split(','));
export function rejectRevoked(req, res, next) {
  if (revoked.has(req.headers['x-api-key'])) return res.status(401).end();
  next();
}
