function isAdmin(req) {
  return req.get('X-Admin-Token') === 'letmein';
}
