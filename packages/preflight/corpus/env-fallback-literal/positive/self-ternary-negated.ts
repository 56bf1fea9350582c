let { SESSION_SECRET } = process.env;
SESSION_SECRET = !SESSION_SECRET ? 'dev-session-secret' : SESSION_SECRET;
export { SESSION_SECRET };
