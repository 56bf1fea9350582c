export function isBearer(tokenType: string): boolean {
  return tokenType === 'Bearer';
}
