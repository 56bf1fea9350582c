export class Templates {
  // @cache-scope per-pod: compiled templates are pure functions of files baked into the image
  static #compiled = new Map<string, string>();
  static render(name: string): string {
    if (!Templates.#compiled.has(name)) this.#compiled.set(name, compile(name));
    return Templates.#compiled.get(name)!;
  }
}
