// Two user inputs compared (not a stored secret): not a timing-attack surface.
export function validateSignup(password: string, confirmPassword: string): void {
  if (password !== confirmPassword) throw new Error('The passwords do not match.');
}
