/**
 * Hono builds an error response in the app's `onError`, which may return a `Response` it made
 * itself instead of going through the context (`c.json`, `c.text`, ...). These run a real server
 * (`@hono/node-server`) and check that such a response still carries the whole policy.
 */
import { type ErrorHandler, Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { securityHeaders } from '../src/adapters/hono.ts';
import { apiPreset, webAppPreset } from '../src/index.ts';
import { policyHeaders, sendToHono } from './support/apps.ts';
import { API_HEADERS, nonceOf, webAppHeaders } from './support/expected.ts';

const rawErrorResponse = (): Response =>
  new Response('x', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });

describe('securityHeaders (hono) with an onError that returns new Response(...)', () => {
  it('sends the policy, nonce CSP included, when a route throws', async () => {
    const app = new Hono();
    app.use(securityHeaders(webAppPreset()));
    app.onError(rawErrorResponse);
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/async-boom', async () => {
      await Promise.resolve();
      throw new Error('boom');
    });
    for (const path of ['/boom', '/async-boom']) {
      const res = await sendToHono(app, path);
      expect(res.status).toBe(500);
      expect(res.body).toBe('x');
      const nonce = nonceOf(res.headers['content-security-policy']);
      expect(policyHeaders(res.headers)).toEqual(webAppHeaders(nonce));
    }
  });

  it('sends the policy when isSecure throws before a route runs', async () => {
    const app = new Hono();
    app.use(
      securityHeaders(apiPreset(), {
        isSecure: () => {
          throw new Error('bad proxy header');
        },
      }),
    );
    app.onError(rawErrorResponse);
    app.get('/json', (c) => c.json({ ok: true }));
    const res = await sendToHono(app, '/json');
    expect(res.status).toBe(500);
    expect(res.body).toBe('x');
    expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
  });
});

const PARTNER = 'https://partner.example';
const FRAMING = `frame-ancestors ${PARTNER}`;
/** The application's enforced policy, kept while the new one is tried as Report-Only. */
const APP_CSP = "default-src 'self'; script-src 'self'; object-src 'none'";

/** Every enforced CSP of a response, one entry per policy, as browsers read them. */
const enforcedPolicies = (headers: Record<string, string>): string[] =>
  (headers['content-security-policy'] ?? '')
    .split(',')
    .map((policy) => policy.trim())
    .filter((policy) => policy !== '')
    .sort();

const failingIsSecure = {
  isSecure: (): boolean => {
    throw new Error('bad proxy header');
  },
};

describe('securityHeaders (hono) when isSecure throws during a Report-Only rollout', () => {
  const rollout = () => webAppPreset({ reportOnly: true, reporting: { endpoint: '/csp' }, frameAncestors: [PARTNER] });

  /** An app whose onError answers `/raw` with its own Response and `/context` through the context. */
  function rolloutApp(readResponseFirst: boolean): Hono {
    const app = new Hono();
    // A logging middleware reading c.res before the adapter runs makes Hono's c.res setter copy the
    // context's headers into onError's Response, with Headers.set.
    if (readResponseFirst) {
      app.use(async (c, next) => {
        void c.res.status;
        await next();
      });
    }
    app.use(securityHeaders(rollout(), failingIsSecure));
    app.onError((_error, c) => {
      if (c.req.path === '/context') {
        c.header('content-security-policy', APP_CSP);
        return c.text('error', 500);
      }
      return new Response('error', { status: 500, headers: { 'content-security-policy': APP_CSP } });
    });
    app.get('/raw', (c) => c.text('ok'));
    app.get('/context', (c) => c.text('ok'));
    return app;
  }

  for (const readResponseFirst of [false, true]) {
    const where = readResponseFirst ? ' after a middleware read c.res' : '';
    it(`keeps the app's enforced CSP of a new Response and adds frame-ancestors as a second policy${where}`, async () => {
      const res = await sendToHono(rolloutApp(readResponseFirst), '/raw');
      expect(res.status).toBe(500);
      expect(enforcedPolicies(res.headers)).toEqual([APP_CSP, FRAMING].sort());
      expect(res.headers['content-security-policy-report-only']).toContain(FRAMING);
    });

    it(`keeps a CSP onError sets with c.header and adds frame-ancestors as a second policy${where}`, async () => {
      const res = await sendToHono(rolloutApp(readResponseFirst), '/context');
      expect(res.status).toBe(500);
      expect(enforcedPolicies(res.headers)).toEqual([APP_CSP, FRAMING].sort());
    });
  }

  it('sends frame-ancestors once when onError sets no CSP', async () => {
    const app = new Hono();
    app.use(securityHeaders(rollout(), failingIsSecure));
    app.onError(rawErrorResponse);
    app.get('/raw', (c) => c.text('ok'));
    const res = await sendToHono(app, '/raw');
    expect(res.status).toBe(500);
    expect(enforcedPolicies(res.headers)).toEqual([FRAMING]);
  });

  it('merges the same way as when a route throws', async () => {
    const app = new Hono();
    app.use(securityHeaders(rollout()));
    app.onError(() => new Response('error', { status: 500, headers: { 'content-security-policy': APP_CSP } }));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    const res = await sendToHono(app, '/boom');
    expect(res.status).toBe(500);
    expect(enforcedPolicies(res.headers)).toEqual([APP_CSP, FRAMING].sort());
  });
});

describe('securityHeaders (hono) when isSecure throws and onError sets headers the policy sets', () => {
  const onErrors: [string, ErrorHandler][] = [
    [
      "its CSP and Cache-Control replace the ones on onError's Response",
      () =>
        new Response('x', {
          status: 500,
          headers: { 'content-security-policy': "default-src 'self'", 'cache-control': 'no-cache' },
        }),
    ],
    [
      'over ones onError sets with c.header, as after a route',
      (_error, c) => {
        c.header('content-security-policy', "default-src 'self'");
        c.header('cache-control', 'no-cache');
        return c.text('x', 500);
      },
    ],
  ];

  it.each(onErrors)("sends the policy's values: %s", async (_case, onError) => {
    const app = new Hono();
    app.use(securityHeaders(apiPreset(), failingIsSecure));
    app.onError(onError);
    app.get('/json', (c) => c.json({ ok: true }));
    const res = await sendToHono(app, '/json');
    expect(res.status).toBe(500);
    expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
  });
});

describe('securityHeaders (hono) when isSecure throws and an outer middleware replaces c.res afterwards', () => {
  it('leaves the outer middleware’s response alone, as when a route throws', async () => {
    const outcomes: Record<string, string | undefined>[] = [];
    for (const isSecureThrows of [false, true]) {
      const app = new Hono();
      // Registered before the adapter: it runs after onError's response was assigned.
      app.use(async (c, next) => {
        await next();
        c.res = undefined;
        c.res = new Response('replaced', { headers: { 'cache-control': 'public, max-age=60', 'x-outer': '1' } });
      });
      app.use(securityHeaders(apiPreset(), isSecureThrows ? failingIsSecure : {}));
      app.onError((_error, c) => c.text('x', 500));
      app.get('/json', () => {
        throw new Error('boom');
      });
      const res = await sendToHono(app, '/json');
      expect(res.body).toBe('replaced');
      outcomes.push(policyHeaders(res.headers));
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
  });
});
