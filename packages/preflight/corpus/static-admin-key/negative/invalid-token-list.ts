const INVALID_TOKENS = ['null', 'undefined', ''];
export function rejectPlaceholder(req, res, next) {
  const token = req.headers.authorization?.split(' ')[1];
  if (INVALID_TOKENS.includes(token)) return res.status(401).json({ error: 'invalid token' });
  next();
}
