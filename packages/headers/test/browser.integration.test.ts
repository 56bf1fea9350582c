import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium, type TestChromium, waitFor } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySecurityHeaders } from '../src/adapters/node-http.ts';
import { ContentSecurityPolicy, csp, HeadersError, NONCE, type SecurityHeaders, webAppPreset } from '../src/index.ts';

interface Results {
  nonced?: boolean;
  injected?: boolean;
  handler?: boolean;
  eval?: string;
  dynamic?: boolean;
  innerHTML?: string;
  policyHTML?: string;
  violations: string[];
}

// Collects what ran and what the browser blocked; served before every other script.
const PROBE = `window.results = { violations: [] };
document.addEventListener('securitypolicyviolation', (e) => window.results.violations.push(e.effectiveDirective));`;

const ATTACK_PAGE = (nonce: string) => `<!doctype html><html><head>
<script nonce="${nonce}">${PROBE}</script></head><body>
<button id="b" onclick="window.results.handler = true">b</button>
<script>window.results.injected = true</script>
<script nonce="${nonce}">
  window.results.nonced = true;
  try { eval('1 + 1'); window.results.eval = 'ran'; } catch (e) { window.results.eval = e.name; }
  document.getElementById('b').click();
  const s = document.createElement('script');
  s.src = '/dynamic.js';
  document.head.appendChild(s);
</script></body></html>`;

const TT_PAGE = (nonce: string) => `<!doctype html><html><head>
<script nonce="${nonce}">${PROBE}</script></head><body><div id="x"></div>
<script nonce="${nonce}">
  try { document.getElementById('x').innerHTML = '<b>hi</b>'; window.results.innerHTML = 'assigned'; }
  catch (e) { window.results.innerHTML = e.name; }
  try {
    const policy = trustedTypes.createPolicy('app', { createHTML: (s) => s.replace(/</g, '&lt;') });
    document.getElementById('x').innerHTML = policy.createHTML('<b>safe</b>');
    window.results.policyHTML = 'assigned';
  } catch (e) { window.results.policyHTML = e.name; }
</script></body></html>`;

function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    });
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An app protected by `policy` (routes may pick a variant) serving the attack and TT pages. */
function appHandler(policy: SecurityHeaders, variants: Record<string, SecurityHeaders> = {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const nonce = applySecurityHeaders(req, res, variants[path] ?? policy) ?? '';
    if (path === '/dynamic.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end('window.results.dynamic = true;');
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    if (path === '/tt') res.end(TT_PAGE(nonce));
    else res.end(ATTACK_PAGE(nonce));
  };
}

describe('webAppPreset in headless Chromium', () => {
  let chromium: TestChromium;
  const servers: Server[] = [];
  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium.stop();
    await Promise.all(servers.map(close));
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const { server, origin } = await listen(handler);
    servers.push(server);
    return origin;
  }

  async function results(url: string, ready: (r: Results) => boolean): Promise<Results> {
    const page = await chromium.newPage();
    await page.goto(url);
    let last: Results = { violations: [] };
    await waitFor(
      async () => {
        last = (await page.evaluate(() => (window as unknown as { results?: Results }).results)) ?? { violations: [] };
        return ready(last);
      },
      { timeoutMs: 10_000, what: 'the page scripts to report' },
    );
    await page.close();
    return last;
  }

  it('runs the nonced inline script and scripts it loads (strict-dynamic), and blocks injected script, inline handlers and eval', async () => {
    const origin = await serve(appHandler(webAppPreset()));
    const r = await results(`${origin}/`, (x) => x.dynamic === true && x.violations.length >= 3);
    expect(r.nonced).toBe(true);
    expect(r.dynamic).toBe(true);
    expect(r.injected).toBeUndefined();
    expect(r.handler).toBeUndefined();
    expect(r.eval).toBe('EvalError');
    expect(r.violations).toEqual(expect.arrayContaining(['script-src-elem', 'script-src-attr', 'script-src']));
  });

  it('refuses to be framed by another origin, and a route variant can allow one partner', async () => {
    const framer = await serve((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
      res.setHeader('content-type', 'text/html');
      res.end(`<iframe id="f" src="${target}" onload="window.loaded = true"></iframe>`);
    });
    const policy = webAppPreset();
    // A Report-Only rollout: frame-ancestors with a list of origins has no X-Frame-Options behind it.
    const rollout = webAppPreset({ reportOnly: true, reporting: { endpoint: '/csp-reports' } });
    const app = await serve(
      appHandler(policy, {
        '/widget': policy.forEmbedding([framer]),
        '/rollout': rollout.forEmbedding(['https://partner.example']),
        '/rollout-widget': rollout.forEmbedding([framer]),
      }),
    );

    const framedContent = async (path: string): Promise<string | null> => {
      const page = await chromium.newPage();
      await page.goto(`${framer}/?src=${encodeURIComponent(`${app}${path}`)}`);
      await page.waitForFunction(() => (window as unknown as { loaded?: boolean }).loaded === true);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      const text = frame
        ? await frame.evaluate(() => document.getElementById('b')?.textContent ?? null).catch(() => null)
        : null;
      await page.close();
      return text;
    };

    expect(await framedContent('/')).toBeNull();
    // The control: the same check sees content when framing is allowed.
    expect(await framedContent('/widget')).toBe('b');
    // In a Report-Only rollout the list stays enforced: a non-partner cannot frame, the partner can.
    expect(await framedContent('/rollout')).toBeNull();
    expect(await framedContent('/rollout-widget')).toBe('b');
  });

  it('blocks innerHTML = string with Trusted Types on, and lets a named policy through', async () => {
    const origin = await serve(appHandler(webAppPreset({ trustedTypes: { policies: ['app'] } })));
    const r = await results(`${origin}/tt`, (x) => x.policyHTML !== undefined);
    expect(r.innerHTML).toBe('TypeError');
    expect(r.policyHTML).toBe('assigned');
    expect(r.violations).toContain('require-trusted-types-for');
  });

  it('allows innerHTML = string without Trusted Types (the control)', async () => {
    const origin = await serve(appHandler(webAppPreset()));
    const r = await results(`${origin}/tt`, (x) => x.policyHTML !== undefined);
    expect(r.innerHTML).toBe('assigned');
  });

  it('reports but does not block in Report-Only mode', async () => {
    const origin = await serve(appHandler(webAppPreset({ reportOnly: true, reporting: { endpoint: '/csp-reports' } })));
    const r = await results(`${origin}/`, (x) => x.nonced === true && x.violations.length >= 3);
    expect(r.injected).toBe(true);
    expect(r.handler).toBe(true);
    expect(r.violations).toEqual(expect.arrayContaining(['script-src-elem', 'script-src-attr']));
  });
});

describe('ContentSecurityPolicy.parse against Chromium', () => {
  const load = policyPages(
    '<!doctype html><script>window.ran = true</script><img src="/x.png" onerror="window.ran = true">',
  );

  const base = "default-src 'none'; base-uri 'none'; script-src 'unsafe-inline'";
  const malformed = ["'sha256-x'", "'sha256-=abc'", "'sha256-AAAAA'", "'nonce-=abc'", "'nonce-%%'"];
  const wellFormed = [
    `'sha256-${'A'.repeat(43)}='`,
    `'sha384-${'_'.repeat(64)}'`,
    `'sha512-${'A'.repeat(86)}=='`,
    "'nonce-abc='",
  ];

  const runsInjectedScript = (policy: string): Promise<boolean> =>
    load(policy, () => (window as unknown as { ran?: boolean }).ran === true);

  it("refuses 'unsafe-inline' next to a hash or nonce the browser ignores, which leaves inline script running", async () => {
    for (const source of malformed) {
      const policy = `${base} ${source}`;
      expect(() => ContentSecurityPolicy.parse(policy)).toThrow(HeadersError);
      expect(await runsInjectedScript(policy)).toBe(true);
    }
  });

  it('checks default-src as the script list of event handlers when only script-src-elem is set', async () => {
    const policy =
      "default-src 'self' 'unsafe-inline'; script-src-elem 'nonce-abc'; object-src 'none'; base-uri 'none'";
    expect(() => ContentSecurityPolicy.parse(policy, { dangerouslyAllowUnsafeInlineStyles: true })).toThrow(
      /default-src allows 'unsafe-inline'/,
    );
    expect(await runsInjectedScript(policy)).toBe(true);
    const fixed = "default-src 'self'; script-src-elem 'nonce-abc'; object-src 'none'; base-uri 'none'";
    expect(() => ContentSecurityPolicy.parse(fixed)).not.toThrow();
    expect(await runsInjectedScript(fixed)).toBe(false);
  });

  it('accepts well-formed hashes and nonces, which turn inline script off', async () => {
    for (const source of wellFormed) {
      const policy = `${base} ${source}`;
      expect(() => ContentSecurityPolicy.parse(policy)).not.toThrow();
      expect(await runsInjectedScript(policy)).toBe(false);
    }
  });
});

describe('inline styles and nonces against Chromium', () => {
  // What an attacker injects: a full-page overlay by style attribute, and an inline script.
  const page = policyPages(
    '<!doctype html><div id="overlay" style="position:fixed;background:rgb(255,0,0)">x</div><script>window.ran = true</script>',
  );
  const load = (policy: string): Promise<{ overlay: string; ran: boolean }> =>
    page(policy, () => ({
      overlay: getComputedStyle(document.getElementById('overlay') as Element).position,
      ran: (window as unknown as { ran?: boolean }).ran === true,
    }));

  const NONCE_VALUE = 'cmFtcGFydC10ZXN0LW5vbmNl';

  it("refuses 'unsafe-inline' that reaches style attributes through style-src-attr", async () => {
    const directives = { 'style-src-attr': ["'unsafe-inline'"] };
    expect(() => webAppPreset({ directives })).toThrow(/CSP: style-src-attr allows 'unsafe-inline'/);
    // The same policy as a named deviation: Chromium applies the injected overlay.
    const deviation = webAppPreset({ directives, dangerouslyAllowUnsafeInlineStyles: true });
    expect((await load(deviation.cspValue(NONCE_VALUE))).overlay).toBe('fixed');
    expect((await load(webAppPreset().cspValue(NONCE_VALUE))).overlay).toBe('static');
  });

  it("refuses 'unsafe-inline' in default-src when only style-src-elem is set, which still decides style attributes", async () => {
    const directives = {
      'default-src': ["'self'", "'unsafe-inline'"],
      'script-src': [NONCE, "'strict-dynamic'"],
      'style-src-elem': [NONCE],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
    };
    expect(() => csp(directives)).toThrow(/default-src allows 'unsafe-inline'/);
    const deviation = csp(directives, { dangerouslyAllowUnsafeInlineStyles: true });
    expect((await load(deviation.render(NONCE_VALUE))).overlay).toBe('fixed');
    const fixed = csp({ ...directives, 'default-src': ["'self'"] });
    expect((await load(fixed.render(NONCE_VALUE))).overlay).toBe('static');
  });

  it("accepts 'unsafe-inline' next to a nonce in the attribute list, which Chromium then ignores", async () => {
    const policy = csp({
      'default-src': ["'self'"],
      'style-src-attr': [NONCE, "'unsafe-inline'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
    });
    expect((await load(policy.render(NONCE_VALUE))).overlay).toBe('static');
  });

  it("refuses to render a nonce policy without a well-formed nonce, whose 'unsafe-inline' fallback would run injected script", async () => {
    const policy = csp({
      'default-src': ["'self'"],
      'script-src': [NONCE, "'unsafe-inline'"],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
    });
    const headers = webAppPreset({ directives: { 'script-src': [NONCE, "'unsafe-inline'"] } });
    for (const nonce of [undefined, '', 'a b', "x' 'unsafe-inline", `${'A'.repeat(300)}`]) {
      expect(() => policy.render(nonce)).toThrow(expect.objectContaining({ code: 'ERR_HEADERS_INVALID_CSP' }));
      expect(() => headers.cspValue(nonce)).toThrow(expect.objectContaining({ code: 'ERR_HEADERS_INVALID_CSP' }));
      expect(() => headers.headersFor({ secure: true, nonce })).toThrow(HeadersError);
    }
    // What rendering used to send for a missing nonce: Chromium drops `'nonce-'` and runs the injection.
    expect((await load("default-src 'self';script-src 'nonce-' 'unsafe-inline'")).ran).toBe(true);
    expect((await load(policy.render(NONCE_VALUE))).ran).toBe(false);
  });
});

/**
 * Serves `body` under a CSP of the caller's choosing and reads each page in Chromium; the browser
 * and the server start and stop with the calling describe block.
 */
function policyPages(body: string): <T>(policy: string, read: () => T) => Promise<T> {
  let chromium: TestChromium;
  let server: Server;
  let origin: string;
  const policies: string[] = [];
  beforeAll(async () => {
    chromium = await launchChromium();
    ({ server, origin } = await listen((req, res) => {
      const index = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('p'));
      res.setHeader('content-security-policy', policies[index] ?? "default-src 'none'");
      res.setHeader('content-type', 'text/html');
      res.end(body);
    }));
  });
  afterAll(async () => {
    await chromium.stop();
    await close(server);
  });
  return async (policy, read) => {
    policies.push(policy);
    const page = await chromium.newPage();
    await page.goto(`${origin}/?p=${policies.length - 1}`);
    const result = await page.evaluate(read);
    await page.close();
    return result as Awaited<ReturnType<typeof read>>;
  };
}
