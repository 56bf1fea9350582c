const registry = new Map<string, () => void>();
function register(name: string, fn: () => void): void {
  registry.set(name, fn);
}
register('a', () => {});
export function run(name: string): void {
  registry.get(name)?.();
}
