// Starts the issues API from the environment: `node --conditions=@rampart/source src/main.ts`.
import { createBearerVerifier } from '@rampart/bearer';
import { createRateLimiter } from '@rampart/redis';
import { createTransit } from '@rampart/transit';
import { runService } from 'example-service-runtime';
import { Redis } from 'ioredis';
import vault from 'node-vault';
import { createApi, type Scope } from './app.ts';
import { loadApiConfig } from './config.ts';
import { IssueStore } from './store.ts';

await runService('issues-api', async () => {
  const config = await loadApiConfig(process.env);
  const verifier = createBearerVerifier<Scope>({
    issuer: config.OAUTH_ISSUER,
    audience: config.API_AUDIENCE,
    algorithms: ['ES256'],
    jwksUri: config.OAUTH_JWKS_URI,
    // No `tenant` here: operator clients (metrics:read) act for no tenant; every route that reads or
    // writes issues refuses a token without one (403).
    requiredClaims: ['client_id', 'jti'],
    realm: 'issues',
  });
  const transit = createTransit({
    vault: vault({ endpoint: config.VAULT_ADDR, token: config.VAULT_TOKEN.reveal(), noCustomHTTPVerbs: true }),
    key: config.TRANSIT_KEY,
    cache: { maxAgeMs: 5 * 60_000 },
  });
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    lazyConnect: true,
    ...(config.REDIS_KEY_PREFIX === undefined ? {} : { keyPrefix: config.REDIS_KEY_PREFIX }),
  });
  await redis.connect();
  const ipLimiter = createRateLimiter({
    redis,
    prefix: 'issues-ip',
    limits: [{ name: 'per-ip', algorithm: 'sliding-window', limit: config.IP_RATE_LIMIT, windowMs: 60_000 }],
  });
  const clientLimiter = createRateLimiter({
    redis,
    prefix: 'issues-client',
    limits: [{ name: 'per-client', algorithm: 'sliding-window', limit: config.CLIENT_RATE_LIMIT, windowMs: 60_000 }],
  });
  // Keys, the Transit key and the limiters' scripts are loaded before the first request, so that
  // request pays none of it (a cold script can exceed the limiters' 50 ms timeout).
  await Promise.all([verifier.warm(), transit.verifyKey(), ipLimiter.warm(), clientLimiter.warm()]);
  const store = new IssueStore(config.DATABASE_PATH, transit);
  const { server } = createApi({ verifier, store, ipLimiter, clientLimiter });
  return {
    server,
    host: config.API_HOST,
    port: config.API_PORT,
    close: async () => {
      store.close();
      redis.disconnect();
    },
  };
});
