// The path of a mounted secret is not the secret.
export const path = process.env.JWT_SECRET_FILE ?? '/run/secrets/jwt';
