const spies = new Map<string, () => void>();
export function spyOn(name: string, restore: () => void): void {
  spies.set(name, restore);
}
