export function sameMode(options: { credentials: RequestCredentials }): boolean {
  return options.credentials === 'include';
}
