// The env read hides behind a helper in the same module.
const read = (name: string): string | undefined => process.env[name];
export const secret = read('JWT_SECRET') || 'jwt-dev-secret';
