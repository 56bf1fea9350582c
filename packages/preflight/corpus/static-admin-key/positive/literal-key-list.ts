const ADMIN_KEYS = new Set(['k-0001', 'k-0002']);
export function requireAdmin(req, res, next) {
  if (!ADMIN_KEYS.has(req.get('x-admin-key'))) return res.status(403).end();
  next();
}
