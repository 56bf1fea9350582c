export function isAuthHeader(name: string): boolean {
  return name.toLowerCase() === 'authorization';
}
