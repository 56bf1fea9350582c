const ADMIN_KEY = process.env.ADMIN_KEY;
export function role(req) {
  switch (req.headers['x-admin-key']) {
    case ADMIN_KEY:
      return 'admin';
    default:
      return 'anonymous';
  }
}
