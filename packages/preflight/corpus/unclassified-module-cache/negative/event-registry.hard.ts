// Known false positive: a listener registry filled by an exported `on()` at start-up is not
// per-request state, but the rule cannot tell start-up callers from request-time callers.
const listeners: Array<(event: string) => void> = [];
export function on(listener: (event: string) => void): void {
  listeners.push(listener);
}
export function emit(event: string): void {
  for (const listener of listeners) listener(event);
}
