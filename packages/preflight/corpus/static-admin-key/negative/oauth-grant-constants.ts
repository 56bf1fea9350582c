// OAuth protocol words and a display mask held in CONSTANTS: labels compared with ===, no secrets.
const AUTHORIZATION_CODE = 'authorization_code';
const REFRESH_TOKEN = 'refresh_token';
const PASSWORD = 'password';
const ACCESS_TOKEN = 'access_token';
const SECRET_MASK = '********';

export function grantHandler(req: { body: Record<string, string | undefined> }): string {
  switch (req.body.grant_type) {
    case AUTHORIZATION_CODE:
      return 'code';
    case PASSWORD:
      return 'password';
  }
  if (req.body.grant_type === REFRESH_TOKEN) return 'refresh';
  if (req.body.token_type_hint === ACCESS_TOKEN) return 'revoke-access';
  // The settings form sends the mask back when the client secret was left unchanged.
  if (req.body.client_secret === SECRET_MASK) return 'keep';
  return 'unsupported_grant_type';
}
