// TODO: add auth before launch
app.get('/admin/users', listUsers);
