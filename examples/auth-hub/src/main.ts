// Starts the hub from the environment: `node --conditions=@rampart/source src/main.ts`.
// Every address comes from the environment, every secret from a file or Vault (production profile).

import { runService } from 'example-service-runtime';
import { Redis } from 'ioredis';
import { parseRegistrations } from './clients.ts';
import { loadClientSecrets, loadHubConfig, vaultClient } from './config.ts';
import { createHub } from './hub.ts';

await runService('auth-hub', async () => {
  const reader = await vaultClient(process.env);
  const config = await loadHubConfig(process.env, reader);
  const { clients, resources } = parseRegistrations(config.HUB_CLIENTS, config.HUB_RESOURCES);
  const clientSecrets = await loadClientSecrets(
    process.env,
    reader,
    clients.map((c) => c.clientId),
  );
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    lazyConnect: true,
    ...(config.REDIS_KEY_PREFIX === undefined ? {} : { keyPrefix: config.REDIS_KEY_PREFIX }),
  });
  await redis.connect();
  const { server, warm } = createHub({
    issuer: config.HUB_ISSUER,
    redis,
    signingKey: config.HUB_SIGNING_KEY,
    cookieKey: config.HUB_COOKIE_KEY,
    clients,
    clientSecrets,
    resources,
    tokenRateLimitPerMinute: config.HUB_TOKEN_RATE_LIMIT,
    accessTokenTtlSeconds: config.HUB_ACCESS_TOKEN_TTL_SECONDS,
  });
  // The first /token must not pay for loading the limiter's script (it can exceed its timeout).
  await warm();
  return { server, host: config.HUB_HOST, port: config.HUB_PORT, close: async () => void redis.disconnect() };
});
