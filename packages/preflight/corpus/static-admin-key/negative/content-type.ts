app.post('/api', (req, res, next) => {
  if (req.headers['content-type'] !== 'application/json') return res.status(415).end();
  next();
});
