/**
 * DPoP replay protection across pods: two verifier instances (two "pods", each with its own Redis
 * connection) share one real redis-server through @rampart/redis ReplayGuard.
 */
import { once } from 'node:events';
import { CacheRegistry, ReplayGuard } from '@rampart/redis';
import { createTestIssuer, startRedis, type TestIssuer, type TestRedis } from '@rampart/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BearerRequestLike, type BearerVerifier, createBearerVerifier, staticJwks } from '../src/index.ts';
import { redisReplayStore } from '../src/redis-replay-store.ts';
import { createDpopClient, type DpopClient } from './dpop-client.ts';

let redis: TestRedis;
let issuer: TestIssuer;
let client: DpopClient;
const connections: Redis[] = [];
const guards: ReplayGuard[] = [];

async function connect(): Promise<Redis> {
  const connection = new Redis(redis.url, {
    enableOfflineQueue: false,
    keyPrefix: redis.keyPrefix,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  });
  connections.push(connection);
  await once(connection, 'ready');
  return connection;
}

async function pod(): Promise<BearerVerifier> {
  // Each pod has its own connection and its own audit registry, as separate processes would.
  const shared = new ReplayGuard({
    redis: await connect(),
    name: 'dpop-jti',
    ttlMs: 120_000,
    registry: new CacheRegistry(),
  });
  guards.push(shared);
  return createBearerVerifier({
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    keys: staticJwks(issuer.jwks()),
    dpop: { publicOrigins: ['https://api.test'], replayStore: redisReplayStore(shared) },
  });
}

const view = (token: string, proof: string): BearerRequestLike => ({
  method: 'POST',
  authorization: [`DPoP ${token}`],
  url: '/orders',
  header: (name) => (name === 'dpop' ? proof : undefined),
});

beforeAll(async () => {
  redis = await startRedis({ owned: true });
  issuer = await createTestIssuer({ algorithm: 'ES256' });
  client = await createDpopClient('ES256');
});

afterAll(async () => {
  for (const guard of guards) guard.close();
  for (const connection of connections) connection.disconnect();
  await issuer?.close();
  await redis?.stop();
});

describe('redisReplayStore', () => {
  it('refuses something that is not a ReplayGuard at construction', () => {
    expect(() => redisReplayStore({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_BEARER_INVALID_OPTIONS' }),
    );
  });

  it('ships without a runtime import of @rampart/redis (an optional peer)', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../src/redis-replay-store.ts', import.meta.url), 'utf8');
    expect(source).toMatch(/^import type \{ ReplayGuard \} from '@rampart\/redis';$/m);
    expect(source).not.toMatch(/^import \{[^}]*\} from '@rampart\/redis'/m);
  });

  it('refuses on pod B a proof already accepted on pod A', async () => {
    const [a, b] = [await pod(), await pod()];
    const token = await issuer.mint({ claims: { cnf: { jkt: client.thumbprint } } });
    const proof = await client.proof({ method: 'POST', url: 'https://api.test/orders', token });
    await expect(a.authenticate(view(token, proof))).resolves.toMatchObject({ binding: { type: 'dpop' } });
    await expect(b.authenticate(view(token, proof))).rejects.toMatchObject({ code: 'ERR_BEARER_DPOP_PROOF_INVALID' });
    await expect(a.authenticate(view(token, proof))).rejects.toMatchObject({ code: 'ERR_BEARER_DPOP_PROOF_INVALID' });
  });

  it('accepts exactly one of many concurrent uses of one proof across pods', async () => {
    const pods = [await pod(), await pod()];
    const token = await issuer.mint({ claims: { cnf: { jkt: client.thumbprint } } });
    const proof = await client.proof({ method: 'POST', url: 'https://api.test/orders', token });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (pods[i % 2] as BearerVerifier).authenticate(view(token, proof))),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  });

  it('answers 503 (fail closed) while Redis is down', async () => {
    const verifier = await pod();
    await redis.kill();
    const token = await issuer.mint({ claims: { cnf: { jkt: client.thumbprint } } });
    const proof = await client.proof({ method: 'POST', url: 'https://api.test/orders', token });
    const error = await verifier.authenticate(view(token, proof)).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toMatchObject({ code: 'ERR_BEARER_REPLAY_STORE_UNAVAILABLE', retryable: true });
    expect(verifier.toResponse(error).status).toBe(503);
  });
});
