export const cookieName = process.env.SESSION_COOKIE_NAME || 'sid';
export const authUrl = process.env.AUTH_URL || 'http://localhost:3000';
export const provider = process.env.SECRET_PROVIDER ?? 'vault';
export const prefix = process.env.CACHE_KEY_PREFIX ?? 'app:';
export const csrfCookie = process.env.CSRF_COOKIE || '_csrf';
