const apiKeys = process.env.API_KEYS.split(',');

export function requireKey(req, res, next) {
  const key = req.headers['x-api-key'];
  if (apiKeys.includes(key)) return next();
  return res.status(401).json({ error: 'unauthorized' });
}
