// Not a seed or migration: a test helper filling a login form.
export const form = { email: 'user@example.test', password: 'correct horse battery staple' };
