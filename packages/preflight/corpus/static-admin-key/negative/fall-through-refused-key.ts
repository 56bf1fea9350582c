// A found key falls through to the 401: the list is a denylist, whatever the variable is called.
const apiKeys = process.env.API_KEYS.split(',');

export function rejectWithdrawn(req, res, next) {
  const key = req.headers['x-api-key'];
  if (!apiKeys.includes(key)) return next();
  return res.status(401).json({ error: 'this key was withdrawn' });
}
