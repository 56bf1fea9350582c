// The hub's configuration, loaded through @rampart/config. In production (no APP_ENV/NODE_ENV, or
// anything but exactly `development`/`test`) every secret must come from a file or Vault.
import {
  type InferConfig,
  json,
  loadConfig,
  number,
  port,
  type Secret,
  secret,
  string,
  url,
  type VaultReader,
} from '@rampart/config';
import vault from 'node-vault';
import { clientSecretVariable } from './clients.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Vault address and token: read first, so the rest of the configuration can hold `vault:` references. */
export const vaultSchema = {
  VAULT_ADDR: url({ protocols: ['http:', 'https:'] }),
  VAULT_TOKEN: secret({ kind: 'token' }),
};

export const hubSchema = {
  HUB_ISSUER: url({ protocols: ['http:', 'https:'], description: 'issuer identifier, also where the hub is reached' }),
  HUB_HOST: string({ default: '127.0.0.1' }),
  HUB_PORT: port({ default: 4000 }),
  REDIS_URL: url({ protocols: ['redis:', 'rediss:'] }),
  /** Prefix of every Redis key (ioredis `keyPrefix`), for a Redis shared with other apps or runs. */
  REDIS_KEY_PREFIX: string({ optional: true, pattern: /[A-Za-z0-9:._-]{1,128}/ }),
  /** An EC P-256 private key, PKCS#8 DER in base64url: signs the access tokens. */
  HUB_SIGNING_KEY: secret({ kind: 'key', encoding: 'base64url' }),
  /** Signs oidc-provider's cookies (interactions). */
  HUB_COOKIE_KEY: secret({ kind: 'key' }),
  /** The client registrations (no secrets): see clients.ts. */
  HUB_CLIENTS: json(),
  /** Resource servers: `{ "<resource indicator>": { "scopes": [...] } }`. */
  HUB_RESOURCES: json(),
  /** Requests per minute per client IP to the client-authenticating endpoints (every method but GET/HEAD/OPTIONS). */
  HUB_TOKEN_RATE_LIMIT: number({ integer: true, min: 1, max: 100_000, default: 60 }),
  HUB_ACCESS_TOKEN_TTL_SECONDS: number({ integer: true, min: 30, max: 3600, default: 600 }),
};

export type HubConfig = InferConfig<typeof hubSchema>;

/** A node-vault client built from `VAULT_ADDR` and `VAULT_TOKEN` (from a file or the dev profile). */
export async function vaultClient(env: Env): Promise<VaultReader & ReturnType<typeof vault>> {
  const boot = await loadConfig(vaultSchema, { env });
  return vault({ endpoint: boot.VAULT_ADDR, token: boot.VAULT_TOKEN.reveal(), noCustomHTTPVerbs: true });
}

export async function loadHubConfig(env: Env, reader: VaultReader): Promise<HubConfig> {
  return loadConfig(hubSchema, { env, vault: reader });
}

/** Loads one secret per registered client, every missing or weak one listed at once. */
export async function loadClientSecrets(
  env: Env,
  reader: VaultReader,
  clientIds: readonly string[],
): Promise<Map<string, Secret>> {
  const schema = Object.fromEntries(clientIds.map((id) => [clientSecretVariable(id), secret({ kind: 'key' })]));
  const loaded = (await loadConfig(schema, { env, vault: reader })) as Record<string, Secret>;
  return new Map(clientIds.map((id) => [id, loaded[clientSecretVariable(id)] as Secret]));
}
