/**
 * How long a request waits for introspection: never past its own call's `timeoutMs`, neither for a
 * confirmation call it started nor for the key lookup of a signed (RFC 9701) answer. Real loopback
 * servers that hang; the timers (and the monotonic clock) are faked, so what is checked is which
 * deadline settles the request, not how long anything took.
 */
import type { ServerResponse } from 'node:http';
import { generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flush, serve, signedActiveAnswer, track, until } from '../test/harness.ts';
import { TEST_AUDIENCE as AUD, TEST_ISSUER as ISS, useIntrospectionServer } from '../test/introspection-server.ts';
import { remoteJwks } from './key-source.ts';
import { createBearerVerifier } from './verifier.ts';

const ACTIVE = 'opaque-active-0123456789';
const TIMEOUT_MS = 1_000;

const as = useIntrospectionServer();
const hanging: ServerResponse[] = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
  for (const res of hanging.splice(0)) res.destroy();
});

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
    const stalled = track(verifier.verify('stall-1'), 'stall-1', as.clientSecret);
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
    const next = track(verifier.verify('next-token'), 'next-token', as.clientSecret);
    expect((await next.error).message).toContain('failureBackoffMs');
    expect(endpoint.seen).toEqual([ACTIVE, 'stall-1', ACTIVE]);
  });

  it('reads a signed (RFC 9701) answer within the call timeoutMs, the key lookup included, when the JWKS endpoint hangs', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const signed = await signedActiveAnswer(privateKey);
    as.answer = () => ({ type: 'application/token-introspection+jwt', body: signed });
    const jwks = await serve((_, res) => hanging.push(res));
    const verifier = createBearerVerifier({
      introspection: as.options({
        jwtResponse: { keys: remoteJwks(`${jwks.url}/jwks`, { timeoutMs: 30_000 }), algorithms: ['ES256'] },
        timeoutMs: TIMEOUT_MS,
      }),
    });
    const request = track(verifier.verify(ACTIVE), ACTIVE, as.clientSecret);
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
