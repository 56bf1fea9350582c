export const ok = (req: { headers: { authorization?: string } }): boolean =>
  req.headers.authorization === `Bearer ${process.env.ADMIN_TOKEN}`;
