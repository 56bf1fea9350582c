import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { createBearerVerifier } from '@rampart/bearer';
import { CacheRegistry, ReplayGuard } from '@rampart/redis';
import { createTestIssuer, startRedis, type TestIssuer, type TestRedis, waitFor } from '@rampart/testkit';
import { captureStderr } from 'example-service-runtime/test/capture-stderr';
import { streamFromAnotherProcess } from 'example-service-runtime/test/stream-client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSenderConfig } from '../src/config.ts';
import { createReceiver, type Delivery } from '../src/receiver.ts';
import { createWebhookSender } from '../src/sender.ts';

let issuer: TestIssuer;
let redisServer: TestRedis;
let redis: Redis;
let receiver: Server;
let tokenEndpoint: Server;
let receiverUrl = '';
let tokenUrl = '';
const delivered: Delivery[] = [];
// Delivery ids whose handler fails once (the receiver answers 500), as a crashing consumer would.
const failOnce = new Set<string>();
const clientSecret = randomBytes(32).toString('base64url');
let tokenRequests = 0;

// Client authentication of the stand-in token endpoint (RFC 6749 §2.3.1), compared in constant time.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
function basicCredentialsMatch(header: string | undefined): boolean {
  const presented = Buffer.from((header ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
  return timingSafeEqual(digest(presented), digest(`sender:${clientSecret}`));
}

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
};

/** A receiver for `audience` (the test issuer's by default) whose replay guard `name` lives on `client`. */
const receiverOn = (
  client: Redis,
  name: string,
  onDelivery: (delivery: Delivery) => void | Promise<void>,
  audience = issuer.audience,
): Server =>
  createReceiver({
    audience,
    verifier: createBearerVerifier<'webhooks:deliver'>({
      issuer: issuer.issuer,
      audience,
      algorithms: ['ES256'],
      jwksUri: issuer.jwksUri,
    }),
    replayGuard: new ReplayGuard({ redis: client, name, ttlMs: 60_000, registry: new CacheRegistry() }),
    onDelivery,
  });

beforeAll(async () => {
  [issuer, redisServer] = await Promise.all([createTestIssuer({ algorithm: 'ES256' }), startRedis()]);
  // Keys under the test's prefix: REDIS_URL may name a shared Redis, and stop() deletes them.
  redis = new Redis(redisServer.url, {
    enableOfflineQueue: false,
    lazyConnect: true,
    keyPrefix: redisServer.keyPrefix,
  });
  await redis.connect();
  const verifier = createBearerVerifier<'webhooks:deliver'>({
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    jwksUri: issuer.jwksUri,
  });
  receiver = createReceiver({
    audience: issuer.audience,
    verifier,
    replayGuard: new ReplayGuard({
      redis,
      name: `webhook-test-${randomBytes(4).toString('hex')}`,
      ttlMs: 60_000,
      registry: new CacheRegistry(),
    }),
    onDelivery: (delivery) => {
      if (failOnce.delete(delivery.id)) throw new Error('the handler failed');
      delivered.push(delivery);
    },
  });
  receiverUrl = await listen(receiver);
  // A minimal token endpoint standing in for the hub: checks the client's basic credentials.
  tokenEndpoint = createServer((req, res) => {
    tokenRequests++;
    if (!basicCredentialsMatch(req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      return;
    }
    void issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } }).then((token) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300 }));
    });
  });
  tokenUrl = await listen(tokenEndpoint);
});

afterAll(async () => {
  for (const server of [receiver, tokenEndpoint]) {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  }
  redis?.disconnect();
  await Promise.all([issuer?.close(), redisServer?.stop()]);
});

describe('createWebhookSender + createReceiver', () => {
  it('delivers once with a TokenProvider token and rejects the replayed delivery id', async () => {
    const config = await loadSenderConfig({
      NODE_ENV: 'test',
      OAUTH_TOKEN_ENDPOINT: `${tokenUrl}/token`,
      WEBHOOK_SENDER_CLIENT_ID: 'sender',
      WEBHOOK_SENDER_CLIENT_SECRET: clientSecret,
      WEBHOOK_URL: `${receiverUrl}/deliveries`,
      WEBHOOK_AUDIENCE: issuer.audience,
    });
    const sender = createWebhookSender(config);
    const first = await sender.send({ type: 'ping' });
    expect(first.status).toBe(202);
    const second = await sender.send({ type: 'ping' });
    expect(second.status).toBe(202);
    const replay = await sender.send({ type: 'ping' }, first.id);
    expect(replay.status).toBe(409);
    expect(delivered.map((d) => d.id)).toEqual([first.id, second.id]);
    expect(tokenRequests).toBe(1); // the TokenProvider caches the token
  });

  it('accepts the retry of a delivery whose handler failed, and refuses it once it succeeded', async () => {
    const sender = createWebhookSender(
      await loadSenderConfig({
        NODE_ENV: 'test',
        OAUTH_TOKEN_ENDPOINT: `${tokenUrl}/token`,
        WEBHOOK_SENDER_CLIENT_ID: 'sender',
        WEBHOOK_SENDER_CLIENT_SECRET: clientSecret,
        WEBHOOK_URL: `${receiverUrl}/deliveries`,
        WEBHOOK_AUDIENCE: issuer.audience,
      }),
    );
    const id = `evt_${randomBytes(8).toString('hex')}`;
    failOnce.add(id);
    const failed = await sender.send({ type: 'order.paid' }, id);
    expect(failed.status).toBe(500);
    const retried = await sender.send({ type: 'order.paid' }, id);
    expect(retried.status).toBe(202);
    expect(delivered.filter((d) => d.id === id)).toHaveLength(1);
    const replay = await sender.send({ type: 'order.paid' }, id);
    expect(replay.status).toBe(409);
  });

  it('refuses deliveries without a token, without the scope, or without a delivery id', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${receiverUrl}/deliveries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    expect((await post({ 'webhook-id': 'evt_12345678' })).status).toBe(401);
    const wrongScope = await issuer.mint({ scopes: ['issues:read'] });
    expect((await post({ authorization: `Bearer ${wrongScope}`, 'webhook-id': 'evt_12345678' })).status).toBe(403);
    const token = await issuer.mint({ scopes: ['webhooks:deliver'] });
    expect((await post({ authorization: `Bearer ${token}` })).status).toBe(400);
  });

  /** Runs `act` with stderr captured; returns the lines the receiver wrote (prefixed `webhook: `) and everything written. */
  const receiverStderr = async (act: () => Promise<void>): Promise<{ lines: string[]; all: string }> => {
    const written = await captureStderr(act);
    return { lines: written.filter((line) => line.startsWith('webhook: ')), all: written.join('') };
  };

  it('logs one line (status, route, error class) when the delivery handler fails, never the body or the token', async () => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } });
    const id = `evt_${randomBytes(8).toString('hex')}`;
    const marker = `card-${randomBytes(8).toString('hex')}`;
    failOnce.add(id);
    const { lines, all } = await receiverStderr(async () => {
      const response = await fetch(`${receiverUrl}/deliveries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'webhook-id': id },
        body: JSON.stringify({ type: 'order.paid', card: marker }),
      });
      await response.arrayBuffer();
      expect(response.status).toBe(500);
    });
    expect(lines).toEqual(['webhook: 500 on POST /deliveries: Error\n']);
    for (const value of [token, marker, id]) expect(all).not.toContain(value);
  });

  it('logs one line with the error class and code when Redis is unavailable (503)', async () => {
    // A client that never connects, with no offline queue: every replay check fails at once.
    const offline = new Redis(redisServer.url, { enableOfflineQueue: false, lazyConnect: true });
    offline.on('error', () => {});
    const unreachable = receiverOn(offline, 'webhook-offline', () => {});
    const url = await listen(unreachable);
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } });
    try {
      const { lines, all } = await receiverStderr(async () => {
        const response = await fetch(`${url}/deliveries`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'webhook-id': 'evt_offline1',
          },
          body: '{"type":"ping"}',
        });
        await response.arrayBuffer();
        expect(response.status).toBe(503);
      });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^webhook: 503 on POST \/deliveries: [A-Za-z]+Error ERR_REDIS_[A-Z_]+\n$/);
      expect(all).not.toContain(token);
    } finally {
      unreachable.closeAllConnections();
      await new Promise((resolve) => unreachable.close(resolve));
      offline.disconnect();
    }
  });

  it('answers 413 to a body over 256 KiB, and keeps serving', async () => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } });
    const response = await fetch(`${receiverUrl}/deliveries`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'webhook-id': `evt_${randomBytes(8).toString('hex')}`,
      },
      body: JSON.stringify({ type: 'ping', pad: 'x'.repeat(256 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: 'body too large' });
    expect((await fetch(`${receiverUrl}/healthz`)).status).toBe(200);
  });

  it('answers 413 to every oversized body a client streams (fetch, chunked), never a reset', async () => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } });
    const outcomes = await streamFromAnotherProcess(`${receiverUrl}/deliveries`, {
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'webhook-id': `evt_${randomBytes(8).toString('hex')}`,
      },
      size: 2 * 1024 * 1024,
      attempts: 10,
    });
    expect(outcomes).toEqual(Array(10).fill('413 close {"error":"body too large"}'));
    expect((await fetch(`${receiverUrl}/healthz`)).status).toBe(200);
  });

  it('refuses a content-length over the cap before reading the body, and closes the connection', async () => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } });
    // Announces 20 MiB and sends none of it: an answer that comes anyway read nothing.
    const answer = await rawAnswer(
      `POST /deliveries HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n` +
        `webhook-id: evt_${randomBytes(8).toString('hex')}\r\ncontent-type: application/json\r\n` +
        `content-length: ${20 * 1024 * 1024}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(answer).toMatch(/\r\n\r\n\{"error":"body too large"\}$/);
  });

  it('logs nothing and answers nothing when the client resets its connection mid-delivery', async () => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'sender' } });
    let response: ServerResponse | undefined;
    const capture = (_req: IncomingMessage, res: ServerResponse): void => {
      response = res;
    };
    receiver.prependListener('request', capture);
    try {
      const { lines } = await receiverStderr(async () => {
        const { port } = new URL(receiverUrl);
        const socket = connect(Number(port), '127.0.0.1');
        socket.on('error', () => {});
        socket.write(
          `POST /deliveries HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n` +
            `webhook-id: evt_${randomBytes(8).toString('hex')}\r\ncontent-type: application/json\r\n` +
            'content-length: 1000\r\n\r\n{"type":"pi',
        );
        await waitFor(() => response !== undefined, { timeoutMs: 10_000, what: 'the request to arrive' });
        socket.resetAndDestroy();
        // The handler is done once it ended its response (into the closed connection).
        await waitFor(() => response?.writableEnded === true, { timeoutMs: 10_000, what: 'the handler to finish' });
      });
      expect(lines).toEqual([]);
    } finally {
      receiver.off('request', capture);
    }
    expect((await fetch(`${receiverUrl}/healthz`)).status).toBe(200);
  });

  it('refuses the sender secret as a plain environment variable in production', async () => {
    const error = await loadSenderConfig({
      OAUTH_TOKEN_ENDPOINT: `${tokenUrl}/token`,
      WEBHOOK_SENDER_CLIENT_ID: 'sender',
      WEBHOOK_SENDER_CLIENT_SECRET: clientSecret,
      WEBHOOK_URL: `${receiverUrl}/deliveries`,
      WEBHOOK_AUDIENCE: issuer.audience,
    }).catch((caught: unknown) => caught);
    expect((error as { issues: { key: string; code: string }[] }).issues).toEqual([
      expect.objectContaining({ key: 'WEBHOOK_SENDER_CLIENT_SECRET', code: 'source-not-allowed' }),
    ]);
    expect(String(error)).not.toContain(clientSecret);
  });
});

describe('createReceiver on a Redis of its own', () => {
  let ownRedisServer: TestRedis;
  let ownRedis: Redis;
  let admin: Redis;
  let ownReceiver: Server;
  let url = '';
  const handled: Delivery[] = [];

  beforeAll(async () => {
    ownRedisServer = await startRedis({ owned: true });
    ownRedis = new Redis(ownRedisServer.url, { enableOfflineQueue: false, lazyConnect: true });
    admin = new Redis(ownRedisServer.url, { lazyConnect: true });
    await Promise.all([ownRedis.connect(), admin.connect()]);
    ownReceiver = receiverOn(ownRedis, 'webhook-own', (delivery) => void handled.push(delivery));
    url = await listen(ownReceiver);
  });
  afterAll(async () => {
    ownReceiver?.closeAllConnections();
    await new Promise((resolve) => ownReceiver?.close(resolve));
    ownRedis?.disconnect();
    admin?.disconnect();
    await ownRedisServer?.stop();
  });

  const post = async (claims: Record<string, unknown>, id: string): Promise<number> => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims });
    const res = await fetch(`${url}/deliveries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'webhook-id': id },
      body: '{"type":"ping"}',
    });
    await res.arrayBuffer();
    return res.status;
  };

  it('delivers the retry of a delivery whose replay check timed out after Redis recorded the id', async () => {
    const id = `evt_${randomBytes(8).toString('hex')}`;
    // Writes wait 300 ms: the SET NX of the check times out (503) but runs when the pause ends.
    await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    const first = await post({ client_id: 'pause-sender' }, id);
    expect(first).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await post({ client_id: 'pause-sender' }, id)).toBe(202);
    expect(handled.filter((d) => d.id === id)).toHaveLength(1);
    expect(await post({ client_id: 'pause-sender' }, id)).toBe(409);
  });

  it('keeps the replay scopes of distinct senders apart, whatever their ids contain', async () => {
    expect(await post({ client_id: 'https://hooks.example' }, '443:evt_00000042')).toBe(202);
    expect(await post({ client_id: 'https://hooks.example:443' }, 'evt_00000042')).toBe(202);
    // A token without client_id is scoped by its subject, in a namespace of its own.
    expect(await post({ client_id: undefined, sub: 'alice' }, 'evt_00000043')).toBe(202);
    expect(await post({ client_id: 'alice' }, 'evt_00000043')).toBe(202);
    expect(await post({ client_id: 'alice' }, 'evt_00000043')).toBe(409);
  });
});

describe('createReceiver for several audiences on one Redis', () => {
  const audiences = ['https://billing.example.com/webhooks', 'https://crm.example.com/webhooks'];
  const receivers: Server[] = [];
  const urls: string[] = [];
  const handledBy = new Map<string, string[]>();

  beforeAll(async () => {
    // The same guard name on both, as every receiver started from src/main.ts has.
    const name = `webhook-shared-${randomBytes(4).toString('hex')}`;
    for (const audience of audiences) {
      handledBy.set(audience, []);
      const server = receiverOn(redis, name, (delivery) => void handledBy.get(audience)?.push(delivery.id), audience);
      receivers.push(server);
      urls.push(await listen(server));
    }
  });
  afterAll(async () => {
    for (const server of receivers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("accepts one sender's delivery id once at each audience, and refuses its replay at each", async () => {
    const id = `evt_${randomBytes(8).toString('hex')}`;
    const post = async (index: number): Promise<number> => {
      const token = await issuer.mint({
        scopes: ['webhooks:deliver'],
        claims: { client_id: 'fan-out-sender', aud: audiences[index] },
      });
      const res = await fetch(`${urls[index]}/deliveries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'webhook-id': id },
        body: '{"type":"invoice.paid"}',
      });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await post(0)).toBe(202);
    expect(await post(1)).toBe(202);
    expect(await post(0)).toBe(409);
    expect(await post(1)).toBe(409);
    expect(handledBy.get(audiences[0] as string)).toEqual([id]);
    expect(handledBy.get(audiences[1] as string)).toEqual([id]);
  });
});

describe('createReceiver on two pods sharing one Redis', () => {
  let server: TestRedis;
  const clients: Redis[] = [];
  const pods: Server[] = [];
  const podUrls: string[] = [];
  let admin: Redis;
  const handled: string[] = [];
  // Deliveries whose handler on pod B holds until the test releases it.
  const holds = new Map<string, () => void>();

  beforeAll(async () => {
    server = await startRedis({ owned: true });
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
    const name = `webhook-pods-${randomBytes(4).toString('hex')}`;
    for (const pod of ['a', 'b']) {
      const client = new Redis(server.url, { enableOfflineQueue: false, lazyConnect: true });
      await client.connect();
      clients.push(client);
      const podServer = receiverOn(client, name, async (delivery) => {
        handled.push(`${pod}:${delivery.id}`);
        if (pod === 'b') await new Promise<void>((resolve) => holds.set(delivery.id, resolve));
      });
      pods.push(podServer);
      podUrls.push(await listen(podServer));
    }
  });
  afterAll(async () => {
    for (const release of holds.values()) release();
    for (const podServer of pods) {
      podServer.closeAllConnections();
      await new Promise((resolve) => podServer.close(resolve));
    }
    for (const client of [...clients, admin]) client?.disconnect();
    await server?.stop();
  });

  const post = async (pod: number, id: string): Promise<number> => {
    const token = await issuer.mint({ scopes: ['webhooks:deliver'], claims: { client_id: 'pods-sender' } });
    const res = await fetch(`${podUrls[pod]}/deliveries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'webhook-id': id },
      body: '{"type":"ping"}',
    });
    await res.arrayBuffer();
    return res.status;
  };

  it("does not release pod B's record when pod A's check of the same delivery times out", async () => {
    const id = `evt_${randomBytes(8).toString('hex')}`;
    // Pod B records the delivery and is still handling it.
    const atB = post(1, id);
    await Promise.race([
      waitFor(() => holds.has(id), { timeoutMs: 10_000, what: "pod B's handler to start" }),
      atB.then((status) => {
        throw new Error(`pod B answered ${status} before its handler ran`);
      }),
    ]);
    // The sender's retry reaches pod A while writes wait: A's SET NX times out (503), and A's
    // release after the timeout runs, behind that SET, when the pause ends.
    await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    expect(await post(0, id)).toBe(503);
    // A command on pod A's connection is answered only after the ones A sent before it ran.
    await clients[0]?.ping();
    // Another retry while B is still handling the delivery: refused, B's record is still there.
    expect(await post(0, id)).toBe(409);
    holds.get(id)?.();
    expect(await atB).toBe(202);
    expect(handled.filter((h) => h.endsWith(`:${id}`))).toEqual([`b:${id}`]);
  });
});

/** Writes `request` raw to the receiver and resolves to the whole answer once it is complete (by its content-length). */
function rawAnswer(request: string): Promise<string> {
  const { port } = new URL(receiverUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text.slice(0, headEnd));
      if (headEnd >= 0 && length && text.length >= headEnd + 4 + Number(length[1])) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the connection closed before a complete answer')));
    socket.write(request);
  });
}
