app.use('/api', (req, res, next) => {
  const tokens = process.env.API_TOKENS.split(',').map((t) => t.trim());
  if (!tokens.includes(req.headers.authorization?.split(' ')[1])) return res.status(401).end();
  next();
});
