import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium, type TestChromium, waitFor } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySecurityHeaders } from '../src/adapters/node-http.ts';
import { ContentSecurityPolicy, HeadersError, type SecurityHeaders, webAppPreset } from '../src/index.ts';

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
    const app = await serve(appHandler(policy, { '/widget': policy.forEmbedding([framer]) }));

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
      res.end('<!doctype html><script>window.ran = true</script><img src="/x.png" onerror="window.ran = true">');
    }));
  });
  afterAll(async () => {
    await chromium.stop();
    await close(server);
  });

  const base = "default-src 'none'; base-uri 'none'; script-src 'unsafe-inline'";
  const malformed = ["'sha256-x'", "'sha256-=abc'", "'sha256-AAAAA'", "'nonce-=abc'", "'nonce-%%'"];
  const wellFormed = [
    `'sha256-${'A'.repeat(43)}='`,
    `'sha384-${'_'.repeat(64)}'`,
    `'sha512-${'A'.repeat(86)}=='`,
    "'nonce-abc='",
  ];

  async function runsInjectedScript(policy: string): Promise<boolean> {
    policies.push(policy);
    const page = await chromium.newPage();
    await page.goto(`${origin}/?p=${policies.length - 1}`);
    const ran = await page.evaluate(() => (window as unknown as { ran?: boolean }).ran === true);
    await page.close();
    return ran;
  }

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
