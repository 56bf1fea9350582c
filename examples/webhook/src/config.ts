// Configuration of the receiver and of the sender, through @rampart/config.
import { type InferConfig, loadConfig, port, secret, string, url, type VaultReader } from '@rampart/config';

type Env = Readonly<Record<string, string | undefined>>;

export const receiverSchema = {
  WEBHOOK_HOST: string({ default: '127.0.0.1' }),
  WEBHOOK_PORT: port({ default: 4200 }),
  /** This receiver's resource indicator: the `aud` delivery tokens must carry. */
  WEBHOOK_AUDIENCE: url({ protocols: ['http:', 'https:'] }),
  OAUTH_ISSUER: url({ protocols: ['http:', 'https:'] }),
  OAUTH_JWKS_URI: url({ protocols: ['http:', 'https:'] }),
  REDIS_URL: url({ protocols: ['redis:', 'rediss:'] }),
  /** Prefix of every Redis key (ioredis `keyPrefix`), for a Redis shared with other apps or runs. */
  REDIS_KEY_PREFIX: string({ optional: true, pattern: /[A-Za-z0-9:._-]{1,128}/ }),
};

export const senderSchema = {
  OAUTH_TOKEN_ENDPOINT: url({ protocols: ['http:', 'https:'] }),
  WEBHOOK_SENDER_CLIENT_ID: string({ pattern: /[a-z0-9._-]{1,64}/ }),
  /** The sender's client secret at the hub: from a file or a `vault:` reference. */
  WEBHOOK_SENDER_CLIENT_SECRET: secret({ kind: 'key' }),
  WEBHOOK_URL: url({ protocols: ['http:', 'https:'] }),
  WEBHOOK_AUDIENCE: url({ protocols: ['http:', 'https:'] }),
};

export type ReceiverConfig = InferConfig<typeof receiverSchema>;
export type SenderConfig = InferConfig<typeof senderSchema>;

export function loadReceiverConfig(env: Env): Promise<ReceiverConfig> {
  return loadConfig(receiverSchema, { env });
}

export function loadSenderConfig(env: Env, vault?: VaultReader): Promise<SenderConfig> {
  return loadConfig(senderSchema, vault === undefined ? { env } : { env, vault });
}
