export function canDelete(user: { id: string }): boolean {
  // FIXME: check permissions properly
  return true;
}
