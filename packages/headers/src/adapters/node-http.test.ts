import { createServer, IncomingMessage, request, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { HeadersError } from '../errors.ts';
import { getNonce } from '../nonce.ts';
import { apiPreset, webAppPreset } from '../presets.ts';
import { applySecurityHeaders, crossSiteUpgradeGuard, withSecurityHeaders } from './node-http.ts';

function exchange(encrypted: boolean): { req: IncomingMessage; res: ServerResponse } {
  const socket = new Socket();
  Object.defineProperty(socket, 'encrypted', { value: encrypted });
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  return { req, res: new ServerResponse(req) };
}

describe('applySecurityHeaders', () => {
  it('detects TLS from the socket for HSTS-only-over-TLS', () => {
    const policy = apiPreset({ hsts: { onlyOverTls: true } });
    const tls = exchange(true);
    applySecurityHeaders(tls.req, tls.res, policy);
    tls.res.writeHead(200);
    expect(tls.res.getHeader('strict-transport-security')).toBe('max-age=63072000; includeSubDomains');
    const plain = exchange(false);
    applySecurityHeaders(plain.req, plain.res, policy);
    plain.res.writeHead(200);
    expect(plain.res.getHeader('strict-transport-security')).toBeUndefined();
  });

  it('lets a later call switch the policy and keeps one nonce per request', () => {
    const { req, res } = exchange(false);
    const nonce = applySecurityHeaders(req, res, webAppPreset());
    expect(applySecurityHeaders(req, res, webAppPreset().forOAuthPopup())).toBe(nonce);
    expect(getNonce(req)).toBe(nonce);
    res.writeHead(200);
    expect(res.getHeader('cross-origin-opener-policy')).toBe('same-origin-allow-popups');
    expect(String(res.getHeader('content-security-policy'))).toContain(`'nonce-${nonce}'`);
  });
});

const PARTNER = 'https://partner.example';
const FRAMING = `frame-ancestors ${PARTNER}`;
const APP_CSP = "default-src 'self'";
const rollout = () => webAppPreset({ reportOnly: true, reporting: { endpoint: '/csp' }, frameAncestors: [PARTNER] });

/** Every value of the enforced CSP a response will send, in order. */
function enforcedCsp(res: ServerResponse): string[] {
  const value = res.getHeader('content-security-policy');
  return value === undefined ? [] : Array.isArray(value) ? value : [String(value)];
}

describe("applySecurityHeaders with CSP in writeHead's headers argument, during a Report-Only rollout", () => {
  it('sends frame-ancestors after a CSP passed in the object form, in any letter case', () => {
    for (const name of ['Content-Security-Policy', 'content-security-policy', 'CONTENT-security-POLICY']) {
      const { req, res } = exchange(false);
      applySecurityHeaders(req, res, rollout());
      res.writeHead(200, { [name]: APP_CSP, 'content-type': 'text/plain' });
      expect(enforcedCsp(res)).toEqual([APP_CSP, FRAMING]);
      expect(res.getHeader('content-type')).toBe('text/plain');
    }
  });

  it('keeps every value of a CSP passed as an array, and the status message given before the headers', () => {
    const { req, res } = exchange(false);
    applySecurityHeaders(req, res, rollout());
    res.writeHead(200, 'Fine', { 'Content-Security-Policy': [APP_CSP, "object-src 'none'"] });
    expect(enforcedCsp(res)).toEqual([APP_CSP, "object-src 'none'", FRAMING]);
    expect(res.statusMessage).toBe('Fine');
  });

  it('sends frame-ancestors after a CSP passed in the raw array form', () => {
    const { req, res } = exchange(false);
    applySecurityHeaders(req, res, rollout());
    res.writeHead(200, ['content-type', 'text/plain', 'Content-Security-Policy', APP_CSP]);
    expect(enforcedCsp(res)).toEqual([APP_CSP, FRAMING]);
    expect(res.getHeader('content-type')).toBe('text/plain');
  });

  it('adds frame-ancestors once when the headers argument already has it', () => {
    const objectForm = exchange(false);
    applySecurityHeaders(objectForm.req, objectForm.res, rollout());
    objectForm.res.writeHead(200, { 'Content-Security-Policy': [APP_CSP, FRAMING] });
    expect(enforcedCsp(objectForm.res)).toEqual([APP_CSP, FRAMING]);
    const rawForm = exchange(false);
    applySecurityHeaders(rawForm.req, rawForm.res, rollout());
    rawForm.res.writeHead(200, ['Content-Security-Policy', FRAMING, 'content-security-policy', APP_CSP]);
    expect(enforcedCsp(rawForm.res)).toEqual([FRAMING, APP_CSP]);
  });

  it("leaves the caller's headers argument untouched, so it can be reused for the next response", () => {
    const headers = { 'Content-Security-Policy': APP_CSP };
    const raw = ['Content-Security-Policy', APP_CSP];
    for (const argument of [headers, raw]) {
      const { req, res } = exchange(false);
      applySecurityHeaders(req, res, rollout());
      res.writeHead(200, argument);
      expect(enforcedCsp(res)).toEqual([APP_CSP, FRAMING]);
    }
    expect(headers).toEqual({ 'Content-Security-Policy': APP_CSP });
    expect(raw).toEqual(['Content-Security-Policy', APP_CSP]);
  });

  it("still lets Node refuse a malformed headers argument, and changes nothing outside a rollout's frame-ancestors", () => {
    const odd = exchange(false);
    applySecurityHeaders(odd.req, odd.res, rollout());
    expect(() => odd.res.writeHead(200, ['Content-Security-Policy'] as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    const enforced = exchange(false);
    applySecurityHeaders(enforced.req, enforced.res, webAppPreset({ frameAncestors: [PARTNER] }));
    enforced.res.writeHead(200, { 'Content-Security-Policy': APP_CSP });
    expect(enforcedCsp(enforced.res)).toEqual([APP_CSP]);
  });
});

/** Serves `listener` once and returns status, headers and body, or fails if the body does not arrive in time. */
async function exchangeOnce(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('the response body never completed')));
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('withSecurityHeaders', () => {
  it("answers a failed handler with a complete 500 that drops the handler's own headers", async () => {
    const res = await exchangeOnce(
      withSecurityHeaders(apiPreset(), async (_req, res) => {
        res.setHeader('content-length', '100');
        res.setHeader('set-cookie', 'session=half-done; HttpOnly');
        res.setHeader('location', '/account');
        res.setHeader('x-custom', 'handler');
        throw new Error('login failed half-way');
      }),
    );
    expect(res.status).toBe(500);
    expect(res.body).toBe('{"error":"internal server error"}');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['x-custom']).toBeUndefined();
    // The policy is still sent.
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('leaves a response the handler already finished intact when the handler then throws or rejects', async () => {
    const body = 'x'.repeat(8 * 1024 * 1024);
    for (const fail of ['throws', 'rejects'] as const) {
      const res = await exchangeOnce(
        withSecurityHeaders(apiPreset(), (_req, res) => {
          res.setHeader('content-type', 'text/plain');
          res.end(body);
          if (fail === 'throws') throw new Error('after the response');
          return Promise.reject(new Error('after the response'));
        }),
      );
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(body.length);
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('answers 500 with the policy when isSecure throws, instead of an uncaught exception', async () => {
    const res = await exchangeOnce(
      withSecurityHeaders(apiPreset(), (_req, res) => res.end('ok'), {
        isSecure: () => {
          throw new Error('bad proxy header');
        },
      }),
    );
    expect(res.status).toBe(500);
    expect(res.body).toBe('{"error":"internal server error"}');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});

describe('withSecurityHeaders error reporting', () => {
  const failing = {
    throws: () => {
      throw new TypeError('db password hunter2 rejected');
    },
    rejects: () => Promise.reject(new TypeError('db password hunter2 rejected')),
    // A thenable that is not a native promise (an ORM query, a Bluebird promise).
    'rejects as a thenable': () => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable is the point of this case
      then(_resolve: unknown, reject: (error: unknown) => void) {
        reject(new TypeError('db password hunter2 rejected'));
      },
    }),
  };

  it('passes what the handler threw or rejected with to onError, with the request, and still answers 500', async () => {
    for (const [how, handler] of Object.entries(failing)) {
      const seen: { error: unknown; url: string | undefined }[] = [];
      const res = await exchangeOnce(
        withSecurityHeaders(apiPreset(), handler, { onError: (error, req) => seen.push({ error, url: req.url }) }),
      );
      expect(res.status, how).toBe(500);
      expect(res.headers['x-frame-options'], how).toBe('DENY');
      expect(seen, how).toHaveLength(1);
      expect(seen[0]?.error, how).toBeInstanceOf(TypeError);
      expect(seen[0]?.url, how).toBe('/');
    }
  });

  it('logs one console.error line by default, with the error class and stack frames but no message or request data', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const [how, handler] of Object.entries(failing)) {
        log.mockClear();
        const res = await exchangeOnce(withSecurityHeaders(apiPreset(), handler));
        expect(res.status, how).toBe(500);
        expect(log, how).toHaveBeenCalledTimes(1);
        const text = log.mock.calls.flat().map(String).join(' ');
        expect(text, how).toContain('withSecurityHeaders');
        expect(text, how).toContain('TypeError');
        expect(text, how).not.toContain('hunter2');
        expect(text, how).not.toContain('127.0.0.1');
      }
    } finally {
      log.mockRestore();
    }
  });

  it('survives an onError that throws or rejects, and reports a throwing isSecure too', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const onError of [
        () => {
          throw new Error('hook broke');
        },
        () => Promise.reject(new Error('hook broke')),
      ]) {
        const res = await exchangeOnce(withSecurityHeaders(apiPreset(), failing.rejects, { onError }));
        expect(res.status).toBe(500);
      }
      const seen: unknown[] = [];
      const res = await exchangeOnce(
        withSecurityHeaders(apiPreset(), () => undefined, {
          isSecure: () => {
            throw new RangeError('bad proxy header');
          },
          onError: (error) => seen.push(error),
        }),
      );
      expect(res.status).toBe(500);
      expect(seen[0]).toBeInstanceOf(RangeError);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      log.mockRestore();
    }
  });

  it('refuses an onError or isSecure that is not a function at start-up', () => {
    for (const options of [{ onError: 'log' }, { isSecure: true }]) {
      expect(() => withSecurityHeaders(apiPreset(), () => undefined, options as never)).toThrow(
        expect.objectContaining({ code: 'ERR_HEADERS_INVALID_OPTION' }),
      );
    }
    expect(() => withSecurityHeaders(apiPreset(), 'handler' as never)).toThrow(HeadersError);
  });
});

describe('crossSiteUpgradeGuard option validation', () => {
  const thrownBy = (options: unknown): HeadersError => {
    try {
      crossSiteUpgradeGuard(options as never);
    } catch (error) {
      expect(error).toBeInstanceOf(HeadersError);
      return error as HeadersError;
    }
    throw new Error('crossSiteUpgradeGuard accepted the options');
  };

  it('lists every problem in one ERR_HEADERS_INVALID_OPTION', () => {
    const error = thrownBy({ safeMethods: ['HEAD'], allowedOrigins: 'x', environment: 1 });
    expect(error.code).toBe('ERR_HEADERS_INVALID_OPTION');
    expect(error.problems).toHaveLength(3);
    expect(error.problems.join('\n')).toMatch(/safeMethods/);
    expect(error.problems.join('\n')).toMatch(/allowedOrigins/);
    expect(error.problems.join('\n')).toMatch(/environment/);
    expect(error.message).toMatch(/^crossSiteUpgradeGuard/);
  });

  it('names crossSiteUpgradeGuard when only the shared options are wrong', () => {
    const error = thrownBy({
      allowedOrigins: ['https://chat.internal.test/rooms?key=s3cret'],
      requireBrowserSignals: 'yes',
    });
    expect(error.code).toBe('ERR_HEADERS_INVALID_OPTION');
    expect(error.problems).toHaveLength(2);
    expect(error.message).toMatch(/^crossSiteUpgradeGuard/);
    expect(error.message).not.toMatch(/crossSiteProtection options/);
    // The origin is suggested (it is not secret); the rest of the configured value never appears.
    expect(error.message).toContain('did you mean https://chat.internal.test?');
    expect(error.message).not.toMatch(/rooms|s3cret/);
  });

  it('refuses options that are not a plain object', () => {
    for (const options of [[], null, 'x', 1]) {
      const error = thrownBy(options);
      expect(error.code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect(error.problems).toEqual(['options must be an object']);
    }
  });

  it('names a misspelt option under its own name', () => {
    const error = thrownBy({ allowedOrigin: ['https://app.example'] });
    expect(error.problems).toEqual(['allowedOrigin is not an option; did you mean allowedOrigins?']);
    expect(error.message).toMatch(/^crossSiteUpgradeGuard/);
  });

  it('suggests no option it refuses: safeMethods is not among its options', () => {
    for (const key of ['safeMethod', 'safemethods', 'safe_methods']) {
      const error = thrownBy({ [key]: ['GET'], allowedOrigins: ['https://app.example'] });
      expect(error.problems).toEqual([
        'options: a key that is not an option; the options are allowedOrigins, environment and requireBrowserSignals',
      ]);
    }
    // A near-miss of an option it takes is still named, with the right one.
    expect(thrownBy({ requireBrowserSignal: true }).problems).toEqual([
      'requireBrowserSignal is not an option; did you mean requireBrowserSignals?',
    ]);
  });

  it('refuses a prebuilt crossSiteProtection', () => {
    const error = thrownBy({ check: () => ({ allowed: true }) });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/not a crossSiteProtection/);
  });

  it('accepts safeMethods: undefined, like any other option left unset', () => {
    expect(typeof crossSiteUpgradeGuard({ safeMethods: undefined, environment: 'test' } as never)).toBe('function');
    expect(typeof crossSiteUpgradeGuard()).toBe('function');
  });
});
