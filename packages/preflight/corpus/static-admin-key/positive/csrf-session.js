export function checkCsrf(req) {
  return req.body.csrfToken === req.session.csrfToken;
}
