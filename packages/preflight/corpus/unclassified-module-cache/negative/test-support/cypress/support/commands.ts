const stubs: Record<string, unknown> = {};
export function stub(name: string, value: unknown): void {
  stubs[name] = value;
}
