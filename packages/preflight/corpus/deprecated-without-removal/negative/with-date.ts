/**
 * @deprecated Use the bearer adapter. Removed after 2027-03-31.
 */
export function staticKey(): void {}
