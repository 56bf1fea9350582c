const pages = new Set<unknown>();
export function track(page: unknown): void {
  pages.add(page);
}
