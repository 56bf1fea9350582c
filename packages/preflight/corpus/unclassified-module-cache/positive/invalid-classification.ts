// @cache-scope shared(memory)
const sessions = new Map<string, string>();
export function login(req: { id: string }): void {
  sessions.set(req.id, 'x');
}
