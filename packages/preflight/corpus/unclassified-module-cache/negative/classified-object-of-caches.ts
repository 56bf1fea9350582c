// @cache-scope per-pod: parsed schemas and templates are pure functions of files in the image
const caches = { schemas: new Map<string, object>(), templates: new Map<string, string>() };
export function schema(name: string): object {
  if (!caches.schemas.has(name)) caches.schemas.set(name, parse(name));
  return caches.schemas.get(name)!;
}
