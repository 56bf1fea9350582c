import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { getNonce } from '../nonce.ts';
import { apiPreset, webAppPreset } from '../presets.ts';
import { applySecurityHeaders } from './node-http.ts';

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
