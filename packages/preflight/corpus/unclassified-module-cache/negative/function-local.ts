export function handle(req: { items: string[] }): number {
  const seen = new Set<string>();
  for (const item of req.items) seen.add(item);
  return seen.size;
}
