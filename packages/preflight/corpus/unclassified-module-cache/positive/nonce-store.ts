const usedNonces = new Set<string>();
export function checkNonce(nonce: string): boolean {
  if (usedNonces.has(nonce)) return false;
  usedNonces.add(nonce);
  return true;
}
