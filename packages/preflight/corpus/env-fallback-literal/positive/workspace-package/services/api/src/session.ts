// A service imports the helper from the workspace package; the fallback is a literal.
import { envOr } from '@acme/config';

export const sessionSecret = envOr('SESSION_SECRET', 'dev-session-secret');
