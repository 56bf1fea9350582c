/**
 * How long a request waits for introspection: never past its own call's `timeoutMs`, neither for a
 * confirmation call it started nor for the key lookup of a signed (RFC 9701) answer. Real loopback
 * servers that hang; the timers (and the monotonic clock) are faked, so what is checked is which
 * deadline settles the request, not how long anything took.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeServer, flush, listen, until } from '../test/harness.ts';
import { TEST_AUDIENCE as AUD, TEST_ISSUER as ISS, useIntrospectionServer } from '../test/introspection-server.ts';
import { BearerError } from './errors.ts';
import { remoteJwks } from './key-source.ts';
import { createBearerVerifier } from './verifier.ts';

const ACTIVE = 'opaque-active-0123456789';
const TIMEOUT_MS = 1_000;

const as = useIntrospectionServer();
const servers: Server[] = [];
const hanging: ServerResponse[] = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
});

afterEach(async () => {
  vi.useRealTimers();
  for (const res of hanging.splice(0)) res.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await closeServer(server);
  }
});

/** A loopback server that records the path or token of each request and answers with `handle` (or never). */
async function serve(handle: (seen: string, res: ServerResponse) => void): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const what = new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? req.url ?? '';
    seen.push(what);
    handle(what, res);
  });
  await listen(server);
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Tracks whether a request has settled; its error, once it has. */
function track(promise: Promise<unknown>, token: string): { settled: () => boolean; error: Promise<BearerError> } {
  let settled = false;
  const error = promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(BearerError);
      expect((error as Error).message).not.toContain(token);
      expect((error as Error).message).not.toContain(as.clientSecret);
      return error as BearerError;
    },
  );
  void error.finally(() => {
    settled = true;
  });
  error.catch(() => undefined);
  return { settled: () => settled, error };
}

describe('introspection deadlines', () => {
  it('answers the request whose timeout reaches failureThreshold by its own deadline, not after the confirmation too', async () => {
    let hang = false;
    const endpoint = await serve((token, res) => {
      if (hang || token !== ACTIVE) {
        hanging.push(res);
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ active: true, token_type: 'Bearer', aud: AUD, iss: ISS }));
    });
    const verifier = createBearerVerifier({
      introspection: as.options({
        endpoint: `${endpoint.url}/introspect`,
        failureThreshold: 1,
        failureBackoffMs: 10_000,
        timeoutMs: TIMEOUT_MS,
      }),
    });
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    // The server hangs for everyone now.
    hang = true;
    const stalled = track(verifier.verify('stall-1'), 'stall-1');
    await until(() => endpoint.seen.includes('stall-1'), 'the call for stall-1');
    // Its own deadline: the call is cut off, and the confirmation with the remembered token starts.
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await until(() => endpoint.seen.filter((token) => token === ACTIVE).length === 2, 'the confirmation');
    // Its deadline passed with its call, so the timer that says so is due at once: 1 ms on, as fake
    // timers put a zero delay set during a tick. The confirmation's own is TIMEOUT_MS away.
    await vi.advanceTimersByTimeAsync(1);
    await flush();
    // The request does not wait for the confirmation.
    expect(stalled.settled()).toBe(true);
    const error = await stalled.error;
    expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    expect(verifier.toResponse(error).headers['retry-after']).toBe('5');
    // The confirmation keeps its own timeoutMs, in the failed call's slot; when it runs out the
    // breaker opens, and the next token is refused without a call.
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await flush();
    const next = track(verifier.verify('next-token'), 'next-token');
    expect((await next.error).message).toContain('failureBackoffMs');
    expect(endpoint.seen).toEqual([ACTIVE, 'stall-1', ACTIVE]);
  });

  it('reads a signed (RFC 9701) answer within the call timeoutMs, the key lookup included, when the JWKS endpoint hangs', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const signed = await new SignJWT({
      iss: ISS,
      aud: 'orders-api',
      token_introspection: { active: true, token_type: 'Bearer', aud: AUD, iss: ISS },
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'as-1', typ: 'token-introspection+jwt' })
      .sign(privateKey);
    as.answer = () => ({ type: 'application/token-introspection+jwt', body: signed });
    const jwks = await serve((_, res) => hanging.push(res));
    const verifier = createBearerVerifier({
      introspection: as.options({
        jwtResponse: { keys: remoteJwks(`${jwks.url}/jwks`, { timeoutMs: 30_000 }), algorithms: ['ES256'] },
        timeoutMs: TIMEOUT_MS,
      }),
    });
    const request = track(verifier.verify(ACTIVE), ACTIVE);
    // The server answered; the keys to verify its answer are being fetched, and never come.
    await until(() => jwks.seen.length === 1, 'the key lookup');
    expect(as.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    await flush();
    expect(request.settled()).toBe(true);
    const error = await request.error;
    expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    expect(error.message).toContain('introspection.timeoutMs');
    // The keys are not the only suspect: the answer itself may have come just before the deadline.
    expect(error.message).toContain("the answer came late, or its keys did); check the endpoint's latency and");
    expect(error.message).toContain('introspection.jwtResponse.keys');
  });
});
