// Per-client keys stored in plaintext and compared with !==: timing-unsafe (reported as a
// per-client key, not as a shared static one).
export async function client(req: { headers: Record<string, string | undefined> }, db: ClientStore) {
  const row = await db.clients.findById(req.headers['x-client-id']);
  if (!row || req.headers['x-api-key'] !== row.apiKey) return undefined;
  return row;
}
