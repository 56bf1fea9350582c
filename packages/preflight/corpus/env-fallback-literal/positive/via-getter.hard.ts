// Known miss: the env read hides behind a function (no inter-procedural analysis).
const read = (name: string): string | undefined => process.env[name];
export const secret = read('JWT_SECRET') || 'jwt-dev-secret';
