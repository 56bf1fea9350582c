export const tokenType = process.env.TOKEN_TYPE || 'Bearer';
