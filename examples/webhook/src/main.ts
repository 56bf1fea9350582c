// Starts the webhook receiver from the environment: `node --conditions=@rampart/source src/main.ts`.
import { createBearerVerifier } from '@rampart/bearer';
import { ReplayGuard } from '@rampart/redis';
import { runService } from 'example-service-runtime';
import { Redis } from 'ioredis';
import { loadReceiverConfig } from './config.ts';
import { createReceiver } from './receiver.ts';

await runService('webhook', async () => {
  const config = await loadReceiverConfig(process.env);
  const verifier = createBearerVerifier<'webhooks:deliver'>({
    issuer: config.OAUTH_ISSUER,
    audience: config.WEBHOOK_AUDIENCE,
    algorithms: ['ES256'],
    jwksUri: config.OAUTH_JWKS_URI,
    requiredClaims: ['client_id', 'jti'],
    realm: 'webhooks',
  });
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    lazyConnect: true,
    ...(config.REDIS_KEY_PREFIX === undefined ? {} : { keyPrefix: config.REDIS_KEY_PREFIX }),
  });
  await redis.connect();
  await verifier.warm();
  const replayGuard = new ReplayGuard({
    redis,
    name: 'webhook-delivery',
    ttlMs: 24 * 60 * 60_000, // senders retry for up to a day
    reason: 'a delivery id is accepted once across every receiver pod',
  });
  const server = createReceiver({
    audience: config.WEBHOOK_AUDIENCE,
    verifier,
    replayGuard,
    onDelivery: (delivery) => {
      process.stdout.write(`webhook: accepted delivery ${delivery.id} from ${delivery.clientId ?? 'unknown'}\n`);
    },
  });
  return { server, host: config.WEBHOOK_HOST, port: config.WEBHOOK_PORT, close: async () => void redis.disconnect() };
});
