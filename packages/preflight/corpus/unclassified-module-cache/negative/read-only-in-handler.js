const routes = new Map([['/', 'home']]);
app.get('*', (req, res) => res.send(routes.get(req.path)));
