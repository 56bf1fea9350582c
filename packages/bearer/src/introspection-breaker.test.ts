import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeServer, flush, listen, serve, signedActiveAnswer, track, until } from '../test/harness.ts';
import { TEST_AUDIENCE as AUD, TEST_ISSUER as ISS, useIntrospectionServer } from '../test/introspection-server.ts';
import { BearerError } from './errors.ts';
import { createIntrospector } from './introspection.ts';
import { createIntrospectionBreaker } from './introspection-breaker.ts';
import type { IntrospectionOptions } from './introspection-options.ts';
import { type KeySource, staticJwks } from './key-source.ts';
import { createBearerVerifier } from './verifier.ts';

const ACTIVE = 'opaque-active-0123456789';

const as = useIntrospectionServer();
let now = Date.now();
/** When true the endpoint answers 500 to everything: an authorization server that is down. */
let down = false;

beforeEach(() => {
  // The breaker times its window with performance.now(), not the verifier's wall clock: only that
  // is faked, so real timers (timeoutMs, the loopback server) keep running.
  vi.useFakeTimers({ toFake: ['performance'] });
  now = Date.now();
  down = false;
  as.answer = (token) => {
    if (down) return { status: 500, body: 'unavailable' };
    return token === ACTIVE
      ? { active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: Math.floor(now / 1000) + 600 }
      : { active: false };
  };
});

afterEach(() => {
  vi.useRealTimers();
});

const verifierWith = (extra: Partial<IntrospectionOptions> = {}) =>
  createBearerVerifier({ introspection: as.options(extra), now: () => now });

/** Lets `ms` pass on both clocks: the verifier's (token times) and the monotonic one (the breaker). */
function elapse(ms: number): void {
  now += ms;
  vi.advanceTimersByTime(ms);
}

const failure = (promise: Promise<unknown>, token: string): Promise<BearerError> =>
  track(promise, token, as.clientSecret).error;

type Verifier = ReturnType<typeof verifierWith>;
const retryAfterOf = (verifier: Verifier, error: BearerError): string | undefined =>
  verifier.toResponse(error).headers['retry-after'];

/**
 * A `fetch` that records the token of every call, and sends the call for `token` only once
 * `answer()` is called: a test can move a faked clock while that call is in flight.
 */
function holdingFetch(token: string): { fetch: typeof fetch; sent: string[]; answer: () => void } {
  const sent: string[] = [];
  let answer: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    answer = resolve;
  });
  return {
    sent,
    answer: () => answer(),
    fetch: (input, init) => {
      const what = new URLSearchParams(String(init?.body)).get('token') ?? '';
      sent.push(what);
      return what === token ? held.then(() => fetch(input, init)) : fetch(input, init);
    },
  };
}

/** Sends `count` distinct garbage tokens one after another; returns the error codes. */
async function flood(verifier: Verifier, count: number, prefix = 'garbage'): Promise<string[]> {
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const token = `${prefix}-${i}-${Math.random()}`;
    codes.push((await failure(verifier.verify(token), token)).code);
  }
  return codes;
}

describe('introspection failure policy', () => {
  it('fails fast with 503 and the remaining window as Retry-After after consecutive 5xx answers', async () => {
    const verifier = verifierWith({ failureThreshold: 3, failureBackoffMs: 10_000 });
    down = true;
    expect(await flood(verifier, 3)).toEqual(Array(3).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'));
    expect(as.calls).toHaveLength(3);
    // Open: a flood of distinct tokens no longer reaches the authorization server.
    expect(await flood(verifier, 50)).toEqual(Array(50).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'));
    expect(as.calls).toHaveLength(3);
    const error = await failure(verifier.verify('another-token'), 'another-token');
    expect(error).toMatchObject({ code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE', retryable: true });
    expect(error.message).toContain('introspection.failureBackoffMs');
    expect(verifier.toResponse(error).status).toBe(503);
    expect(retryAfterOf(verifier, error)).toBe('10');
    elapse(4_000);
    expect(retryAfterOf(verifier, await failure(verifier.verify('later-token'), 'later-token'))).toBe('6');
    expect(as.calls).toHaveLength(3);
  });

  it('still answers cached active and inactive results while open', async () => {
    const verifier = verifierWith({ failureThreshold: 2 });
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    expect((await failure(verifier.verify('inactive-token'), 'inactive-token')).code).toBe('ERR_BEARER_TOKEN_INVALID');
    down = true;
    await flood(verifier, 2);
    // Two failures, then one confirmation with the remembered active token: it failed too, so it opened.
    expect(as.calls).toHaveLength(5);
    expect(as.calls[4]?.params.get('token')).toBe(ACTIVE);
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    expect((await failure(verifier.verify('inactive-token'), 'inactive-token')).code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(await flood(verifier, 3)).toEqual(Array(3).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'));
    expect(as.calls).toHaveLength(5);
  });

  it('lets one probe through after the window (half-open), and its success closes the breaker', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 5_000 });
    down = true;
    await flood(verifier, 2);
    elapse(5_000);
    down = false;
    const tokens = [ACTIVE, ...Array.from({ length: 9 }, (_, i) => `probe-${i}`)];
    const results = await Promise.allSettled(tokens.map((token) => verifier.verify(token)));
    // Only the first request of the window reached the server; the others failed fast meanwhile.
    expect(as.calls).toHaveLength(3);
    expect(results[0]?.status).toBe('fulfilled');
    for (const result of results.slice(1)) {
      expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE' } });
    }
    // Closed again: every distinct token is introspected.
    expect(await flood(verifier, 4)).toEqual(Array(4).fill('ERR_BEARER_TOKEN_INVALID'));
    expect(as.calls).toHaveLength(7);
  });

  it('reopens for another window when the probe fails', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 5_000 });
    down = true;
    await flood(verifier, 2);
    elapse(5_000);
    await flood(verifier, 1);
    expect(as.calls).toHaveLength(3);
    const error = await failure(verifier.verify('next-token'), 'next-token');
    expect(retryAfterOf(verifier, error)).toBe('5');
    expect(as.calls).toHaveLength(3);
  });

  it('counts only consecutive transport failures: a success resets the count', async () => {
    const verifier = verifierWith({ failureThreshold: 3 });
    for (let round = 0; round < 3; round++) {
      down = true;
      await flood(verifier, 2);
      down = false;
      await expect(verifier.verify(ACTIVE)).resolves.toBeDefined();
      elapse(61_000); // past the active-result cache, so the next round calls again
    }
    expect(as.calls).toHaveLength(9);
  });

  it('does not open on answers from a reachable server (401, non-JSON, inactive)', async () => {
    const verifier = verifierWith({ failureThreshold: 2 });
    as.answer = () => ({ status: 401, body: '{"error":"invalid_client"}' });
    await flood(verifier, 4);
    as.answer = () => ({ body: 'not json' });
    await flood(verifier, 4);
    as.answer = () => ({ active: false });
    expect(await flood(verifier, 4)).toEqual(Array(4).fill('ERR_BEARER_TOKEN_INVALID'));
    expect(as.calls).toHaveLength(12);
  });

  it('counts network errors and timeouts as failures', async () => {
    const hanging = createServer(() => {});
    await listen(hanging);
    // Calls counted as sent, not as they reach the server: under load a call can time out (50 ms)
    // before the server has even seen it.
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    try {
      const endpoint = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/introspect`;
      const verifier = verifierWith({ endpoint, fetch: counting, timeoutMs: 50, failureThreshold: 2 });
      expect(await flood(verifier, 6)).toEqual(Array(6).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'));
      expect(sent).toBe(2);
    } finally {
      hanging.closeAllConnections();
      await closeServer(hanging);
    }
  });

  it('refuses calls beyond maxConcurrentCalls with 503 instead of queueing them', async () => {
    const held: ServerResponse[] = [];
    const slow = createServer((req, res) => {
      req.resume();
      held.push(res);
    });
    await listen(slow);
    try {
      const endpoint = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/introspect`;
      const verifier = verifierWith({ endpoint, maxConcurrentCalls: 2 });
      const first = [verifier.verify('slow-1'), verifier.verify('slow-2')];
      const excess = await Promise.allSettled(['slow-3', 'slow-4', 'slow-5'].map((t) => verifier.verify(t)));
      for (const result of excess) {
        expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE' } });
        const reason = (result as PromiseRejectedResult).reason as BearerError;
        expect(reason.message).toContain('introspection.maxConcurrentCalls');
        expect(retryAfterOf(verifier, reason)).toBe('1');
      }
      // The excess was refused while the first two were still waiting on the server.
      await until(() => held.length === 2, 'the first two calls at the server');
      for (const res of held) {
        res.setHeader('content-type', 'application/json');
        res.end('{"active":false}');
      }
      for (const result of await Promise.allSettled(first)) {
        expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ERR_BEARER_TOKEN_INVALID' } });
      }
      // The slots are free again.
      const again = verifier.verify('slow-6');
      await until(() => held.length === 3, 'the call for slow-6');
      held[2]?.setHeader('content-type', 'application/json');
      held[2]?.end('{"active":false}');
      expect((await failure(again, 'slow-6')).code).toBe('ERR_BEARER_TOKEN_INVALID');
    } finally {
      slow.closeAllConnections();
      await closeServer(slow);
    }
  });

  it('refuses a token that is not an RFC 6750 b64token before any call, so garbage never opens the breaker', async () => {
    const verifier = verifierWith({ failureThreshold: 5 });
    // A lone surrogate cannot even be form-encoded: it used to fail as "could not be reached".
    for (let i = 0; i < 5; i++) {
      const error = await failure(verifier.verify('junk\ud800'), 'junk');
      expect(error.code).toBe('ERR_BEARER_TOKEN_MALFORMED');
      expect(verifier.toResponse(error).status).toBe(401);
      expect(verifier.toResponse(error).headers['www-authenticate']).toContain('error="invalid_token"');
    }
    for (const token of ['has space', 'tab\tinside', 'quote"d', 'a,b', 'ünïcode', '==lead', 'pad=in', 'new\nline']) {
      expect((await failure(verifier.verify(token), token)).code).toBe('ERR_BEARER_TOKEN_MALFORMED');
    }
    expect((await failure(verifier.verify(''), 'never-in-a-message')).code).toBe('ERR_BEARER_TOKEN_MALFORMED');
    expect(as.calls).toHaveLength(0);
    // The breaker is still closed: a valid opaque token is introspected.
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    expect(as.calls).toHaveLength(1);
    expect(as.calls[0]?.params.get('token')).toBe(ACTIVE);
  });

  it('sends any b64token unchanged, and refuses everything else without a call (property)', async () => {
    const verifier = verifierWith({ failureThreshold: 1, negativeCacheTtlSeconds: 0 });
    const b64token = fc
      .tuple(
        fc.string({ unit: fc.constantFrom(...'AZaz09-._~+/'.split('')), minLength: 1, maxLength: 40 }),
        fc.nat({ max: 3 }),
      )
      .map(([body, pad]) => body + '='.repeat(pad));
    // Any UTF-16 code units, lone surrogates included.
    const anyUtf16 = fc.string({
      unit: fc.nat({ max: 0xffff }).map((unit) => String.fromCharCode(unit)),
      maxLength: 40,
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(b64token, anyUtf16), async (token) => {
        const before = as.calls.length;
        try {
          await verifier.verify(token);
          throw new Error('an unknown token was accepted');
        } catch (error) {
          expect(error).toBeInstanceOf(BearerError);
          const { code } = error as BearerError;
          if (/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
            expect(code).toBe('ERR_BEARER_TOKEN_INVALID');
            expect(as.calls.at(-1)?.params.get('token')).toBe(token);
          } else {
            expect(code).toBe('ERR_BEARER_TOKEN_MALFORMED');
            expect(as.calls).toHaveLength(before);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('settles a call whose custom fetch ignores the abort signal, so a hung call neither holds its slot nor the probe', async () => {
    let hang: 'headers' | 'body' | false = 'headers';
    let sent = 0;
    // Like a hand-written https.request wrapper that never reads init.signal.
    const ignoresSignal: typeof fetch = () => {
      sent++;
      if (hang === 'headers') return new Promise<Response>(() => {});
      if (hang === 'body') return Promise.resolve(new Response(new ReadableStream({ start() {} })));
      // Answered at once, not over loopback: under load a real call can miss the 50 ms timeout.
      return Promise.resolve(Response.json({ active: true, token_type: 'Bearer', aud: AUD, iss: ISS }));
    };
    const verifier = verifierWith({
      fetch: ignoresSignal,
      timeoutMs: 50,
      failureThreshold: 2,
      failureBackoffMs: 5_000,
      maxConcurrentCalls: 1,
    });
    // maxConcurrentCalls: 1, so the second call is only admitted because the first was settled.
    const codes = await flood(verifier, 1);
    hang = 'body';
    codes.push(...(await flood(verifier, 1)));
    expect(codes).toEqual(Array(2).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'));
    expect(sent).toBe(2);
    const open = await failure(verifier.verify('while-open'), 'while-open');
    expect(open.message).toContain('introspection.failureBackoffMs');
    expect(sent).toBe(2);
    // The probe hangs too: settled as a failure, it opens another window instead of staying half-open.
    elapse(5_000);
    hang = 'headers';
    expect(await flood(verifier, 1)).toEqual(['ERR_BEARER_INTROSPECTION_UNAVAILABLE']);
    expect(sent).toBe(3);
    elapse(5_000);
    hang = false;
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    expect(sent).toBe(4);
  }, 10_000);

  it('cancels the response body on timeout when a custom fetch ignores the signal, also when the response arrives late', async () => {
    const cancelled: string[] = [];
    /** A response whose body never ends, recording its cancellation. */
    const endless = (name: string): Response =>
      new Response(
        new ReadableStream({
          cancel() {
            cancelled.push(name);
          },
        }),
      );
    let late: ((response: Response) => void) | undefined;
    let mode: 'stalled-body' | 'late-headers' = 'stalled-body';
    const ignoresSignal: typeof fetch = () =>
      mode === 'stalled-body'
        ? Promise.resolve(endless('stalled-body'))
        : new Promise<Response>((resolve) => {
            late = resolve;
          });
    const verifier = verifierWith({ fetch: ignoresSignal, timeoutMs: 30, failureThreshold: 10 });
    expect((await failure(verifier.verify('stalled'), 'stalled')).code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    await until(() => cancelled.length === 1, 'the stalled body to be cancelled');
    expect(cancelled).toEqual(['stalled-body']);
    mode = 'late-headers';
    expect((await failure(verifier.verify('late'), 'late')).code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    // The response arrives after the call was given up: its body is cancelled at once, not left open.
    late?.(endless('late-headers'));
    await until(() => cancelled.length === 2, 'the late body to be cancelled');
    expect(cancelled).toEqual(['stalled-body', 'late-headers']);
  });

  it('keeps the original stack of the failure that opens the breaker', async () => {
    const hanging: typeof fetch = () => new Promise<Response>(() => {});
    const verifier = verifierWith({ fetch: hanging, timeoutMs: 20, failureThreshold: 2, failureBackoffMs: 30_000 });
    const first = await failure(verifier.verify('first'), 'first');
    const opening = await failure(verifier.verify('opening'), 'opening');
    expect(retryAfterOf(verifier, first)).toBe('5');
    expect(retryAfterOf(verifier, opening)).toBe('30');
    // Both were made where the timeout fired: the opening one was not rebuilt elsewhere.
    const origin = (error: BearerError) => error.stack?.split('\n').find((line) => line.trim().startsWith('at '));
    expect(origin(opening)).toBeDefined();
    expect(origin(opening)).toBe(origin(first));
  });

  it('times its window with a monotonic clock: a wall clock stepped back or frozen neither stretches nor freezes it', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 5_000 });
    down = true;
    await flood(verifier, 2);
    now -= 3_600_000; // the wall clock is stepped back an hour, then stands still
    expect(retryAfterOf(verifier, await failure(verifier.verify('stepped-back'), 'stepped-back'))).toBe('5');
    vi.advanceTimersByTime(4_000);
    expect(retryAfterOf(verifier, await failure(verifier.verify('later'), 'later'))).toBe('1');
    expect(as.calls).toHaveLength(2);
    vi.advanceTimersByTime(1_000);
    down = false;
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    expect(as.calls).toHaveLength(3);
  });

  it('answers the failure that opens the breaker with the whole window as Retry-After', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 12_000 });
    down = true;
    const first = await failure(verifier.verify('first'), 'first');
    expect(retryAfterOf(verifier, first)).toBe('5');
    const opening = await failure(verifier.verify('opening'), 'opening');
    expect(retryAfterOf(verifier, opening)).toBe('12');
    elapse(12_000);
    const probe = await failure(verifier.verify('probe'), 'probe');
    expect(retryAfterOf(verifier, probe)).toBe('12');
    expect(as.calls).toHaveLength(3);
    // The same for a failure that is not an HTTP answer (timeout).
    const hanging: typeof fetch = () => new Promise<Response>(() => {});
    const timedOut = verifierWith({ fetch: hanging, timeoutMs: 20, failureThreshold: 1, failureBackoffMs: 30_000 });
    expect(retryAfterOf(timedOut, await failure(timedOut.verify('timed-out'), 'timed-out'))).toBe('30');
  });

  it('opens when the confirmation call gets HTTP 200 that is no introspection answer', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 10_000 });
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    as.answer = (token) => (token === ACTIVE ? { body: 'not json' } : { status: 500, body: 'unavailable' });
    const [, opening] = [
      await failure(verifier.verify('poison-1'), 'poison-1'),
      await failure(verifier.verify('poison-2'), 'poison-2'),
    ];
    expect(as.calls.map((call) => call.params.get('token'))).toEqual([ACTIVE, 'poison-1', 'poison-2', ACTIVE]);
    expect(retryAfterOf(verifier, opening as BearerError)).toBe('10');
    expect((await failure(verifier.verify('next-token'), 'next-token')).message).toContain('failureBackoffMs');
    expect(as.calls).toHaveLength(4);
  });

  it('runs the confirmation in the slot of the failed call that started it (maxConcurrentCalls)', async () => {
    const held: ServerResponse[] = [];
    let holdActive = false;
    const { url } = await serve((token, res) => {
      res.setHeader('content-type', 'application/json');
      if (token === ACTIVE && holdActive) {
        held.push(res);
        return;
      }
      if (token === ACTIVE) {
        res.end(
          JSON.stringify({ active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: Math.floor(now / 1000) + 600 }),
        );
        return;
      }
      res.statusCode = token.startsWith('poison') ? 500 : 200;
      res.end(token.startsWith('poison') ? 'unavailable' : '{"active":false}');
    });
    const endpoint = `${url}/introspect`;
    // The request waits for the confirmation only until its own deadline: far off, as the test holds it.
    const verifier = verifierWith({ endpoint, failureThreshold: 1, maxConcurrentCalls: 1, timeoutMs: 30_000 });
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    holdActive = true;
    const poisoned = verifier.verify('poison-1');
    // The confirmation is waiting at the server, in the only slot: another call is refused meanwhile.
    await until(() => held.length === 1, 'the confirmation at the server');
    const busy = await failure(verifier.verify('other-1'), 'other-1');
    expect(busy.message).toContain('introspection.maxConcurrentCalls');
    held[0]?.end(JSON.stringify({ active: true, token_type: 'Bearer', aud: AUD, iss: ISS }));
    // The server is up: the poisoned request still gets its 503, with the default Retry-After, and
    // the breaker stays closed.
    const error = await failure(poisoned, 'poison-1');
    expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    expect(retryAfterOf(verifier, error)).toBe('5');
    expect((await failure(verifier.verify('other-2'), 'other-2')).code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('lets a half-open probe that fails after the breaker closed start no second confirmation beside the one running', async () => {
    const held: { token: string; res: ServerResponse }[] = [];
    const hold = new Set<string>();
    let outage = false;
    let holdWitness = false;
    const { url, seen } = await serve((token, res) => {
      if (hold.has(token) || (token === ACTIVE && holdWitness)) {
        held.push({ token, res });
        return;
      }
      res.setHeader('content-type', 'application/json');
      if (outage) {
        res.statusCode = 500;
        res.end('unavailable');
        return;
      }
      res.end(
        JSON.stringify(
          token === ACTIVE
            ? { active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: Math.floor(now / 1000) + 600 }
            : { active: false },
        ),
      );
    });
    const answerHeld = (token: string, status: number, body: string): void => {
      for (const entry of held.filter((candidate) => candidate.token === token)) {
        entry.res.statusCode = status;
        entry.res.setHeader('content-type', 'application/json');
        entry.res.end(body);
      }
    };
    const endpoint = `${url}/introspect`;
    const verifier = verifierWith({ endpoint, failureThreshold: 1, failureBackoffMs: 10_000, timeoutMs: 30_000 });
    await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
    // A call admitted while the breaker is closed, still in flight when it opens.
    hold.add('old-1');
    const old = verifier.verify('old-1');
    await until(() => seen.includes('old-1'), 'the call for old-1');
    outage = true;
    const opening = await failure(verifier.verify('garbage-1'), 'garbage-1');
    expect(retryAfterOf(verifier, opening)).toBe('10');
    // Half-open: the probe waits at the server.
    elapse(10_000);
    hold.add('probe-1');
    const probe = track(verifier.verify('probe-1'), 'probe-1', as.clientSecret);
    await until(() => seen.includes('probe-1'), 'the probe');
    // The old call is answered: the server is up, the breaker closes under the probe.
    answerHeld('old-1', 200, '{"active":false}');
    expect((await failure(old, 'old-1')).code).toBe('ERR_BEARER_TOKEN_INVALID');
    // Closed again, a failure reaches failureThreshold: its confirmation waits at the server.
    holdWitness = true;
    const poisoned = failure(verifier.verify('garbage-2'), 'garbage-2');
    await until(() => held.filter((entry) => entry.token === ACTIVE).length === 1, 'the confirmation');
    // Now the stale probe fails. It is no probe any more: one failure among others, no confirmation.
    answerHeld('probe-1', 500, 'unavailable');
    await until(
      () => probe.settled() || held.filter((entry) => entry.token === ACTIVE).length > 1,
      'the probe to fail, or a second confirmation',
    );
    expect(held.filter((entry) => entry.token === ACTIVE)).toHaveLength(1);
    const probeError = await probe.error;
    expect(probeError.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    expect(retryAfterOf(verifier, probeError)).toBe('5');
    // The one confirmation shows the server up: the breaker stays closed.
    holdWitness = false;
    outage = false;
    answerHeld(
      ACTIVE,
      200,
      JSON.stringify({ active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: Math.floor(now / 1000) + 600 }),
    );
    expect(retryAfterOf(verifier, await poisoned)).toBe('5');
    expect((await failure(verifier.verify('other-1'), 'other-1')).code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(seen.filter((token) => token === ACTIVE)).toHaveLength(3);
  });

  it('validates the policy options, listing every problem', () => {
    expect(() => verifierWith({ failureThreshold: 0, failureBackoffMs: 600_000, maxConcurrentCalls: 1.5 })).toThrow(
      /failureThreshold must be an integer between 1 and 100.*failureBackoffMs must be between 100 and 60000.*maxConcurrentCalls must be an integer between 1 and 10000/,
    );
    expect(() => verifierWith({ failureThreshold: 2.5 })).toThrow(/failureThreshold/);
    expect(() => verifierWith({ failureBackoffMs: Number.NaN })).toThrow(/failureBackoffMs/);
    expect(() =>
      verifierWith({ failureThreshold: 1, failureBackoffMs: 100, maxConcurrentCalls: 10_000 }),
    ).not.toThrow();
  });
});

describe('createIntrospectionBreaker', () => {
  it('counts a half-open probe that fails after the breaker closed as one more failure, starting no confirmation', async () => {
    let clock = 0;
    let confirmations = 0;
    const breaker = createIntrospectionBreaker({
      failureThreshold: 3,
      failureBackoffMs: 10_000,
      maxConcurrentCalls: 10,
      clock: () => clock,
      // The server stays down: each confirmation fails, so a confirmed failure opens the breaker.
      confirm: () => {
        confirmations++;
        return Promise.resolve(false);
      },
    });
    // Admitted while closed; it settles only after the breaker has opened and gone half-open.
    const old = breaker.admit();
    const failures = [breaker.admit(), breaker.admit(), breaker.admit()];
    const retryAfter = [];
    for (const call of failures) retryAfter.push(await call.settle('transport-failure'));
    expect(retryAfter).toEqual([undefined, undefined, 10]);
    expect(confirmations).toBe(1);
    expect(breaker.isOpen).toBe(true);
    clock += 10_000;
    const probe = breaker.admit();
    // The old call is answered: the server is up, and the breaker closes under the probe.
    expect(await old.settle('answered')).toBeUndefined();
    expect(breaker.isOpen).toBe(false);
    // The probe belongs to a spell that has ended: its failure is the first of a new count.
    expect(await probe.settle('transport-failure')).toBeUndefined();
    expect(confirmations).toBe(1);
    expect(breaker.isOpen).toBe(false);
  });
});

describe('the token remembered to confirm an outage with', () => {
  describe('with its timer faked', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
    });

    it('is dropped from memory 60 s after its answer by a timer, without waiting for a confirmation call', async () => {
      const introspector = createIntrospector(as.options({ failureThreshold: 2 }), () => now);
      await introspector.introspect(ACTIVE);
      expect(introspector.holdsWitness).toBe(true);
      vi.advanceTimersByTime(59_999);
      expect(introspector.holdsWitness).toBe(true);
      vi.advanceTimersByTime(1);
      expect(introspector.holdsWitness).toBe(false);
      expect(as.calls).toHaveLength(1);
    });

    it('is kept while the breaker is open, and dropped 10 minutes after its last answer even then', async () => {
      const introspector = createIntrospector(as.options({ failureThreshold: 2, failureBackoffMs: 10_000 }), () => now);
      await introspector.introspect(ACTIVE);
      down = true;
      for (const token of ['garbage-1', 'garbage-2']) {
        await expect(introspector.introspect(token)).rejects.toMatchObject({
          code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE',
        });
      }
      // One call each, then the confirmation with the remembered token: it failed too, so the breaker opened.
      expect(as.calls.map((call) => call.params.get('token'))).toEqual([ACTIVE, 'garbage-1', 'garbage-2', ACTIVE]);
      vi.advanceTimersByTime(120_000);
      expect(introspector.holdsWitness).toBe(true);
      vi.advanceTimersByTime(479_999);
      expect(introspector.holdsWitness).toBe(true);
      vi.advanceTimersByTime(1);
      expect(introspector.holdsWitness).toBe(false);
    });

    it('is kept at most 10 minutes after a request brought it, however many confirmations answer it', async () => {
      const introspector = createIntrospector(as.options({ failureThreshold: 2 }), () => now);
      await introspector.introspect(ACTIVE);
      const answer = as.answer;
      as.answer = (token, call) =>
        token.startsWith('poison') ? { status: 500, body: 'unavailable' } : answer(token, call);
      // Someone makes the server fail two tokens every 55 s: each time the remembered token confirms.
      for (let round = 1; round <= 10; round++) {
        vi.advanceTimersByTime(55_000);
        for (const token of [`poison-${round}-a`, `poison-${round}-b`]) {
          await expect(introspector.introspect(token)).rejects.toMatchObject({
            code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE',
          });
        }
        expect(introspector.holdsWitness).toBe(true);
      }
      expect(as.calls.filter((call) => call.params.get('token') === ACTIVE)).toHaveLength(11);
      // 550 s after the request that brought it: dropped at 600 s, confirmations or not.
      vi.advanceTimersByTime(49_999);
      expect(introspector.holdsWitness).toBe(true);
      vi.advanceTimersByTime(1);
      expect(introspector.holdsWitness).toBe(false);
    });
  });

  describe('with real deadlines (timers and the monotonic clock faked alike)', () => {
    // Both clocks move together, so a request's own deadline (timeoutMs after its call was sent)
    // comes before that of the confirmation its failure started, as in production.
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
    });

    it('sends nothing once the confirmation ran out of time while its client assertion was being signed', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      as.answer = (token) =>
        token === ACTIVE
          ? { active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: Math.floor(now / 1000) + 600 }
          : { status: 500, body: 'unavailable' };
      const calls = holdingFetch('poison-1');
      const verifier = verifierWith({
        authentication: { method: 'private_key_jwt', privateKey, algorithm: 'ES256', keyId: 'k1' },
        failureThreshold: 1,
        failureBackoffMs: 10_000,
        timeoutMs: 200,
        fetch: calls.fetch,
      });
      await verifier.verify(ACTIVE);
      // The second signature (the confirmation's assertion) waits until the test lets it go.
      const sign = crypto.subtle.sign.bind(crypto.subtle);
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let signed: Promise<unknown> = Promise.resolve();
      let signatures = 0;
      const spy = vi.spyOn(crypto.subtle, 'sign').mockImplementation((...args: Parameters<SubtleCrypto['sign']>) => {
        signatures++;
        const result = signatures === 2 ? gate.then(() => sign(...args)) : sign(...args);
        signed = result;
        return result;
      });
      try {
        const opening = track(verifier.verify('poison-1'), 'poison-1', as.clientSecret);
        await until(() => calls.sent.includes('poison-1'), 'the call for poison-1');
        // The server fails it 100 ms after it was sent: the confirmation starts then, with its own
        // 200 ms, and its assertion is being signed.
        await vi.advanceTimersByTimeAsync(100);
        calls.answer();
        await until(() => signatures === 2, 'the confirmation to be signing');
        // The request's own deadline: its 503 comes now, with the default Retry-After (the
        // confirmation has not ended, so whether the breaker opens is not known yet).
        await vi.advanceTimersByTimeAsync(100);
        await flush();
        expect(opening.settled()).toBe(true);
        expect(retryAfterOf(verifier, await opening.error)).toBe('5');
        // The confirmation's own timeoutMs runs out while it is still being signed; the signature only
        // comes after that, and the confirmation sends nothing.
        await vi.advanceTimersByTimeAsync(100);
        release();
        await signed;
        await flush();
        expect(calls.sent).toEqual([ACTIVE, 'poison-1']);
        expect(as.calls.map((call) => call.params.get('token'))).toEqual([ACTIVE, 'poison-1']);
        // It failed, so the breaker opened when it ended: the next request is refused without a call,
        // with the whole window.
        const next = await failure(verifier.verify('next-token'), 'next-token');
        expect(next.message).toContain('failureBackoffMs');
        expect(retryAfterOf(verifier, next)).toBe('10');
        expect(calls.sent).toHaveLength(2);
      } finally {
        spy.mockRestore();
      }
    });

    it('bounds the confirmation by timeoutMs, the key lookup of a signed (RFC 9701) answer included', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const keys = staticJwks({ keys: [{ ...(await exportJWK(publicKey)), kid: 'as-1', alg: 'ES256' }] });
      let hang = false;
      let hungLookups = 0;
      const hanging: KeySource = {
        ...keys,
        getKey: (header, token) => {
          if (!hang) return keys.getKey(header, token);
          hungLookups++;
          return new Promise<never>(() => undefined);
        },
      };
      const type = 'application/token-introspection+jwt';
      const signed = await signedActiveAnswer(privateKey);
      as.answer = (token) => (token === ACTIVE ? { type, body: signed } : { status: 500, body: 'unavailable' });
      const calls = holdingFetch('poison-1');
      const verifier = verifierWith({
        jwtResponse: { keys: hanging, algorithms: ['ES256'] },
        failureThreshold: 1,
        failureBackoffMs: 10_000,
        timeoutMs: 200,
        fetch: calls.fetch,
      });
      await expect(verifier.verify(ACTIVE)).resolves.toMatchObject({ issuer: ISS });
      hang = true;
      const opening = track(verifier.verify('poison-1'), 'poison-1', as.clientSecret);
      await until(() => calls.sent.includes('poison-1'), 'the call for poison-1');
      // The server fails it 100 ms after it was sent. It answers the confirmation at once, but the keys
      // to verify that answer never come.
      await vi.advanceTimersByTimeAsync(100);
      calls.answer();
      await until(() => hungLookups === 1, 'the key lookup of the confirmation');
      expect(as.calls.map((call) => call.params.get('token'))).toEqual([ACTIVE, 'poison-1', ACTIVE]);
      // The request's own deadline: its 503 comes now, without waiting for the confirmation.
      await vi.advanceTimersByTimeAsync(100);
      await flush();
      expect(opening.settled()).toBe(true);
      expect(retryAfterOf(verifier, await opening.error)).toBe('5');
      // The confirmation's own timeoutMs: it fails instead of holding its slot (and the breaker) for
      // good, and the breaker opens; the next request is refused without a call, with the whole window.
      await vi.advanceTimersByTimeAsync(100);
      await flush();
      const next = await failure(verifier.verify('next-token'), 'next-token');
      expect(next.message).toContain('failureBackoffMs');
      expect(retryAfterOf(verifier, next)).toBe('10');
      expect(as.calls).toHaveLength(3);
    });
  });
});
