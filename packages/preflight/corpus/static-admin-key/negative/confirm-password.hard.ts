// Known false positive: two user inputs compared (not a stored secret), still reported as a
// timing-unsafe secret compare.
export function validateSignup(password: string, confirmPassword: string): void {
  if (password !== confirmPassword) throw new Error('The passwords do not match.');
}
