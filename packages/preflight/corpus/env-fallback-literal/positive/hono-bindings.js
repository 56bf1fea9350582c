import { Hono } from 'hono';
import { env } from 'hono/adapter';

const app = new Hono();

app.get('/token', (c) => {
  const secret = c.env.JWT_SECRET ?? 'hono-dev-secret';
  const upstream = env(c).API_TOKEN || 'dev-token';
  return c.json({ signed: sign(secret), upstream });
});

export default app;
