export function pick(token: string, headerToken: string | undefined): boolean {
  // Both sides come from the request: an identity check, not a secret compare.
  return token !== headerToken;
}
