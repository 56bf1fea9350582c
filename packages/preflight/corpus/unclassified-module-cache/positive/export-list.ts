const profiles = new Map<string, unknown>();
function rememberProfile(id: string, profile: unknown): void {
  profiles.set(id, profile);
}
export { rememberProfile };
