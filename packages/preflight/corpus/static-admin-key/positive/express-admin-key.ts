app.use('/admin', (req, res, next) => {
  if (req.headers['x-admin-key'] !== process.env.ADMIN_KEY) return res.status(401).end();
  next();
});
