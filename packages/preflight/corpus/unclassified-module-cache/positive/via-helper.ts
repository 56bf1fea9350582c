// The handler mutates the cache through a non-exported helper: still per-request code.
const recent = new Map<string, number>();
function remember(key: string): void {
  recent.set(key, Date.now());
}
export function handle(req: { id: string }): void {
  remember(req.id);
}
