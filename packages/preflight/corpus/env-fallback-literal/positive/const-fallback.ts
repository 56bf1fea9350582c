const DEV_SECRET = 'dev-only-jwt-secret';
export const secret = process.env.JWT_SECRET ?? DEV_SECRET;
