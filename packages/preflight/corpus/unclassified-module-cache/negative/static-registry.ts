// Start-up registries and singletons in static fields: filled while the app is wired, and no
// handler in this module calls them.
export class Plugins {
  static plugins: Plugin[] = [];
  static use(plugin: Plugin): void {
    this.plugins.push(plugin);
  }
}
export class Pool {
  static #instances = new Map<string, Pool>();
  static for(name: string): Pool {
    if (!Pool.#instances.has(name)) Pool.#instances.set(name, new Pool());
    return Pool.#instances.get(name)!;
  }
}
