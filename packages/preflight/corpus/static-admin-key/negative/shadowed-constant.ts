// The parameter shadows the module constant: two caller-side values compared, not the stored key.
const apiKey = loadKeyFromDisk();
export function sameKey(apiKey: string, other: string): boolean {
  return apiKey === other;
}
export const loaded = apiKey.length > 0;
