export function guard(req: { headers: Record<string, string | undefined> }): boolean {
  const provided = req.headers['x-api-key'];
  return provided === process.env.INTERNAL_API_KEY;
}
