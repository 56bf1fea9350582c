export const clientSecret =
  process.env.NODE_ENV === 'production' ? process.env.OAUTH_CLIENT_SECRET : 'local-oauth-client-secret';
