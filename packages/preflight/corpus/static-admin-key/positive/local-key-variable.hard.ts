// Known miss: the stored key is a local variable with a neutral name, so neither side looks stored.
const apiKey = loadKeyFromDisk();
export function allowed(provided: string): boolean {
  return provided === apiKey;
}
