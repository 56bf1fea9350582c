// bad: process.env.JWT_SECRET || 'dev-secret'
export const secret = requireSecret('JWT_SECRET');
