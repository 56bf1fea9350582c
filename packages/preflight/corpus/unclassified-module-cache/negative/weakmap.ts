const metadata = new WeakMap<object, string>();
export function tag(req: object): void {
  metadata.set(req, 'x');
}
