const seen = new Set();
app.post('/webhook', (req, res) => {
  seen.add(req.body.id);
  res.sendStatus(204);
});
