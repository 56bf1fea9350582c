const API_KEY = readKey();
app.use('/internal/*', async (c, next) => {
  if (c.req.header('x-api-key') !== API_KEY) return c.text('unauthorized', 401);
  await next();
});
