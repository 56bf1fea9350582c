// @cache-scope per-pod: compiled templates are pure functions of files baked into the image
const templates = new Map<string, string>();
export function render(name: string): string {
  if (!templates.has(name)) templates.set(name, compile(name));
  return templates.get(name)!;
}
