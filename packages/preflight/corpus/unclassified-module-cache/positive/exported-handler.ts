const userCache = new Map<string, unknown>();
export async function getUser(id: string): Promise<unknown> {
  if (!userCache.has(id)) userCache.set(id, await load(id));
  return userCache.get(id);
}
