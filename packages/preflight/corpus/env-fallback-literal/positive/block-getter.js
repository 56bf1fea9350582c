function getEnv(name, fallback) {
  const value = process.env[name];
  if (!value) {
    console.warn(`${name} is not set, using the default`);
    return fallback;
  }
  return value;
}

export const config = {
  port: getEnv('PORT', '3000'),
  sessionSecret: getEnv('SESSION_SECRET', 'local-session-secret'),
};
