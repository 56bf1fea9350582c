// A getter that throws when the variable is missing: there is no fallback.
function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export const secret = requireEnv('JWT_SECRET');
export const hashKey = requireEnv('HMAC_SECRET_KEY');
