// Known miss: the handler mutates the cache through a non-exported helper.
const recent = new Map<string, number>();
function remember(key: string): void {
  recent.set(key, Date.now());
}
export function handle(req: { id: string }): void {
  remember(req.id);
}
