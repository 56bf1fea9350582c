// The stored key is a module constant with a secret name; the other side has a neutral name.
const apiKey = loadKeyFromDisk();
export function allowed(provided: string): boolean {
  return provided === apiKey;
}
