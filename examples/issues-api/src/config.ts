// The API's configuration through @rampart/config: addresses from the environment, the Vault token
// from a file (production refuses it as a plain variable).
import { type InferConfig, loadConfig, number, port, secret, string, url } from '@rampart/config';

type Env = Readonly<Record<string, string | undefined>>;

export const apiSchema = {
  API_HOST: string({ default: '127.0.0.1' }),
  API_PORT: port({ default: 4100 }),
  /** This API's resource indicator: the `aud` its tokens must carry. */
  API_AUDIENCE: url({ protocols: ['http:', 'https:'] }),
  OAUTH_ISSUER: url({ protocols: ['http:', 'https:'] }),
  OAUTH_JWKS_URI: url({ protocols: ['http:', 'https:'] }),
  REDIS_URL: url({ protocols: ['redis:', 'rediss:'] }),
  /** Prefix of every Redis key (ioredis `keyPrefix`), for a Redis shared with other apps or runs. */
  REDIS_KEY_PREFIX: string({ optional: true, pattern: /[A-Za-z0-9:._-]{1,128}/ }),
  VAULT_ADDR: url({ protocols: ['http:', 'https:'] }),
  VAULT_TOKEN: secret({ kind: 'token' }),
  TRANSIT_KEY: string({ default: 'issues-pii', pattern: /[a-z0-9-]{1,64}/ }),
  /** node:sqlite database file (embedded: no database server needed). */
  DATABASE_PATH: string({ minLength: 1 }),
  /** Requests per minute per client (from the token's client_id). */
  CLIENT_RATE_LIMIT: number({ integer: true, min: 1, max: 1_000_000, default: 120 }),
  /** Requests per minute per client IP, checked before authentication. */
  IP_RATE_LIMIT: number({ integer: true, min: 1, max: 1_000_000, default: 600 }),
};

export type ApiConfig = InferConfig<typeof apiSchema>;

export function loadApiConfig(env: Env): Promise<ApiConfig> {
  return loadConfig(apiSchema, { env });
}
