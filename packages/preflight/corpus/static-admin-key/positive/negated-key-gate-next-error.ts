import { UnauthorizedError } from './errors.ts';

const apiKeys = process.env.API_KEYS.split(',');

// `next(err)` refuses the missing key; the 403 after it only answers keys without the admin scope.
export function requireAdmin(req, res, next) {
  const key = req.headers['x-api-key'];
  if (!apiKeys.includes(key)) return next(new UnauthorizedError());
  return isAdmin(key) ? next() : res.status(403).end();
}

function isAdmin(key) {
  return key.startsWith('admin_');
}
