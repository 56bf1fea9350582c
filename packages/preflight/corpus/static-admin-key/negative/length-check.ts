export function empty(token: string): boolean {
  return token.length === 0;
}
