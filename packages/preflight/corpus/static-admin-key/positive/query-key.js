router.get('/export', (req, res) => {
  if (req.query.api_key != process.env.EXPORT_KEY) return res.sendStatus(403);
  res.json(data);
});
