// The issues API on node:http. Order per request: security headers → per-IP rate limit → bearer
// token + scope → per-client rate limit → handler. Errors from the packages are typed; only this
// file maps them to HTTP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type BearerVerifier, fromNodeRequest, type VerifiedToken } from '@rampart/bearer';
import { authenticateNode } from '@rampart/bearer/node';
import { apiPreset } from '@rampart/headers';
import { withSecurityHeaders } from '@rampart/headers/node';
import { clientSubject, createHttpRateLimit, type HttpRequestView, type RateLimiter } from '@rampart/redis';
import { nodeRateLimit } from '@rampart/redis/node';
import { createSanitizer } from '@rampart/sanitize';
import type { IssueStore } from './store.ts';

export type Scope = 'issues:read' | 'issues:write' | 'metrics:read';

export interface ApiOptions {
  readonly verifier: BearerVerifier<Scope>;
  readonly store: IssueStore;
  readonly ipLimiter: RateLimiter;
  readonly clientLimiter: RateLimiter;
}

const MAX_BODY_BYTES = 64 * 1024;
const EMAIL = /^[^\s@<>]{1,64}@[^\s@<>]{1,255}$/;

class HttpProblem extends Error {
  readonly status: number;
  readonly error: string;
  constructor(status: number, error: string) {
    super(error);
    this.status = status;
    this.error = error;
  }
}

/**
 * Whether a content-type header names `application/json` (RFC 9110 §8.3.1: type and subtype are
 * case-insensitive, parameters follow a `;`), so `Application/JSON; charset=utf-8` is JSON and
 * `application/jsonx` is not.
 */
function isJsonMediaType(header: string | undefined): boolean {
  return (header ?? '').split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

/** The client went away (closed or reset its connection) before its whole body arrived: not a server failure. */
class BodyNotReceived extends HttpProblem {
  constructor() {
    super(400, 'the request body was not received in full');
  }
}

/** Whether the connection of `req` is gone: nothing can be answered, and nothing went wrong here. */
function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return req.socket.destroyed || res.destroyed;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!isJsonMediaType(req.headers['content-type']))
    throw new HttpProblem(415, 'content-type must be application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new HttpProblem(413, 'body too large');
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    // 'aborted' / ECONNRESET from the request stream.
    throw new BodyNotReceived();
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpProblem(400, 'body must be a JSON object');
  }
}

function text(body: Record<string, unknown>, field: string, max: number, required: boolean): string | undefined {
  const value = body[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw new HttpProblem(400, `${field} must be a string of 1..${max} characters`);
  return value;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/**
 * The path of a request target, or undefined when the target is malformed. Origin-form
 * (`/issues?x=1`) is split at `?` and never parsed as a URL, so `//host/issues` cannot smuggle an
 * authority in; absolute-form (`http://host/issues`, RFC 9112 §3.2.2) is parsed; anything else
 * (`*`, authority-form, an unparsable URL) is malformed.
 */
function requestPath(target: string): string | undefined {
  if (target.startsWith('/')) return target.startsWith('//') ? undefined : target.split('?', 1)[0];
  if (!/^https?:\/\//i.test(target)) return undefined;
  try {
    return new URL(target).pathname;
  } catch {
    return undefined;
  }
}

/** The route of a request path for logs: ids replaced, unknown paths not echoed. */
function routeName(target: string | undefined): string {
  const path = requestPath(target ?? '/');
  if (path === undefined) return '(malformed)';
  if (/^\/issues\/\d{1,15}$/.test(path)) return '/issues/:id';
  return ['/healthz', '/metrics', '/issues', '/inbound-email'].includes(path) ? path : '(other)';
}

/**
 * One log line for a failed request: status, route, and the error's class and code only. Never its
 * message (it may quote input), a token, an envelope or a plaintext.
 */
function logFailure(req: IncomingMessage, status: number, error: unknown): void {
  const name = (error as { name?: unknown } | null)?.name;
  const code = (error as { code?: unknown } | null)?.code;
  const what = [
    typeof name === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(name) ? name : 'Error',
    ...(typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? [code] : []),
  ].join(' ');
  const method = /^[A-Z]{1,16}$/.test(req.method ?? '') ? req.method : '(other)';
  process.stderr.write(`issues-api: ${status} on ${method} ${routeName(req.url)}: ${what}\n`);
}

interface ClientView extends HttpRequestView {
  readonly clientId: string | undefined;
}

/** Builds the API server (not listening yet). */
export function createApi(options: ApiOptions): { readonly server: Server; readonly metrics: Map<string, number> } {
  const { verifier, store } = options;
  const ugc = createSanitizer({ preset: 'ugc' });
  const email = createSanitizer({ preset: 'email' });
  const read = verifier.route({ scopes: { all: ['issues:read'] } });
  const write = verifier.route({ scopes: { all: ['issues:write'] } });
  const metricsRead = verifier.route({ scopes: { all: ['metrics:read'] } });
  const limitIp = nodeRateLimit({ limiter: options.ipLimiter, skip: (r) => r.url === '/healthz' });
  const decideClient = createHttpRateLimit({
    limiter: options.clientLimiter,
    key: (view) => clientSubject((view as ClientView).clientId),
  });
  // @cache-scope per-pod: request counters for this process's /metrics; each pod reports its own.
  const metrics = new Map<string, number>();
  const count = (name: string): void => void metrics.set(name, (metrics.get(name) ?? 0) + 1);

  const limitClient = async (req: IncomingMessage, res: ServerResponse, auth: VerifiedToken): Promise<boolean> => {
    const outcome = await decideClient({
      ip: req.socket.remoteAddress,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      header: () => undefined,
      clientId: auth.clientId ?? auth.subject,
    } as ClientView);
    for (const [name, value] of outcome.headers) res.setHeader(name, value);
    if (outcome.kind === 'reject') {
      send(res, outcome.status, outcome.body);
      return false;
    }
    return true;
  };

  const tenantOf = (auth: VerifiedToken): string => {
    const tenant = auth.claims.tenant;
    if (typeof tenant !== 'string' || tenant.length === 0) throw new HttpProblem(403, 'token has no tenant');
    return tenant;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = requestPath(req.url ?? '/');
    const method = req.method ?? 'GET';
    count(`requests{method="${method}"}`);
    if (path === '/healthz' && method === 'GET') return send(res, 200, { status: 'ok' });
    // Refused before the IP limit: the limiter would refuse an unparsable target itself, with its own body.
    if (path === undefined) return send(res, 400, { error: 'malformed request target' });
    if (!(await limitIp(req, res))) return;

    if (path === '/metrics' && method === 'GET') {
      // Unauthenticated or unauthorized callers learn nothing, not even that the endpoint exists.
      let auth: VerifiedToken | undefined;
      try {
        auth = await verifier.authenticate(fromNodeRequest(req), metricsRead);
      } catch {
        auth = undefined;
      }
      // The counts cover every tenant: metrics:read is an operator scope, for a client acting for
      // no tenant. A tenant's token is answered like one without the scope.
      if (!auth || auth.claims.tenant !== undefined) return send(res, 404, { error: 'not found' });
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      const lines = [...metrics].map(([name, value]) => `issues_api_${name} ${value}`);
      lines.push(`issues_api_issues_total ${store.count()}`);
      res.end(`${lines.join('\n')}\n`);
      return;
    }

    const item = /^\/issues\/(\d{1,15})$/.exec(path);
    const route = path === '/issues' ? 'collection' : item ? 'item' : path === '/inbound-email' ? 'email' : undefined;
    if (!route) return send(res, 404, { error: 'not found' });
    const needsWrite = method !== 'GET';
    const auth = await authenticateNode(verifier, req, res, needsWrite ? write : read);
    if (!auth) return;
    if (!(await limitClient(req, res, auth))) return;
    const tenant = tenantOf(auth);

    if (route === 'collection' && method === 'GET') return send(res, 200, { issues: store.list(tenant) });
    if (route === 'collection' && method === 'POST') {
      const body = await readJson(req);
      const title = text(body, 'title', 200, true) as string;
      const reporterEmail = text(body, 'reporterEmail', 320, false);
      if (reporterEmail !== undefined && !EMAIL.test(reporterEmail))
        throw new HttpProblem(400, 'reporterEmail must be an email address');
      const clean = ugc.sanitize(text(body, 'description', 50_000, true) as string);
      const issue = await store.create(tenant, { title, description: clean.html, reporterEmail, source: 'api' });
      count('issues_created');
      return send(res, 201, { id: issue.id, title, description: clean.html, removed: clean.removed });
    }
    if (route === 'item' && item) {
      const id = Number(item[1]);
      if (method === 'GET') {
        const issue = await store.get(tenant, id);
        return issue ? send(res, 200, issue) : send(res, 404, { error: 'not found' });
      }
      if (method === 'PATCH') {
        const body = await readJson(req);
        const title = text(body, 'title', 200, false);
        const raw = text(body, 'description', 50_000, false);
        const clean = raw === undefined ? undefined : ugc.sanitize(raw);
        if (!store.update(tenant, id, { title, description: clean?.html }))
          return send(res, 404, { error: 'not found' });
        return send(res, 200, { id, description: clean?.html, removed: clean?.removed ?? [] });
      }
    }
    if (route === 'email' && method === 'POST') {
      const body = await readJson(req);
      const from = text(body, 'from', 320, true) as string;
      if (!EMAIL.test(from)) throw new HttpProblem(400, 'from must be an email address');
      const subject = text(body, 'subject', 200, true) as string;
      const clean = email.sanitize(text(body, 'html', 50_000, true) as string);
      const issue = await store.create(tenant, {
        title: subject,
        description: clean.html,
        reporterEmail: from,
        source: 'email',
      });
      count('issues_created');
      return send(res, 201, { id: issue.id, description: clean.html, removed: clean.removed });
    }
    return send(res, 405, { error: 'method not allowed' });
  };

  const server = createServer(
    withSecurityHeaders(apiPreset(), (req, res) => {
      handle(req, res).catch((error: unknown) => {
        if (res.headersSent) return void res.end();
        // A client that went away is not a server failure: no log line (any client could add
        // some), and no answer when its connection is gone. The response is still ended, so a
        // graceful stop knows this handler is done.
        if (clientGone(req, res)) return void res.end();
        if (error instanceof HttpProblem) return send(res, error.status, { error: error.error });
        // Vault/Redis unavailable and other typed, retryable failures: 503, never a stack trace.
        const retryable = (error as { retryable?: unknown } | null)?.retryable === true;
        // An envelope that fails to decrypt (tampering) or Vault/Redis down must leave a trace.
        logFailure(req, retryable ? 503 : 500, error);
        if (retryable) res.setHeader('retry-after', '1');
        send(res, retryable ? 503 : 500, { error: retryable ? 'temporarily unavailable' : 'internal error' });
      });
    }),
  );
  return { server, metrics };
}
