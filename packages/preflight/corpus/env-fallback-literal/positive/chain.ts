export const token = process.env.AUTH_TOKEN || process.env.LEGACY_AUTH_TOKEN || 'abc123def456';
