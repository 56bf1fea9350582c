export const jwtSecret = process.env.JWT_SECRET || 'dev-secret-change-me';
