export const ttl = process.env.TOKEN_TTL || '15m';
export const issuer = process.env.JWT_ISSUER ?? 'https://auth.example.test';
export const alg = process.env.JWT_ALGORITHM ?? 'HS256';
export const min = process.env.PASSWORD_MIN_LENGTH || '12';
