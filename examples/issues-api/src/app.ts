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
import { BodyError, clientGone, describeError, endLingering, readBody } from 'example-service-runtime';
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
  /**
   * The rest of the request's body is not read: answered with `connection: close`, as a lingering
   * close ({@link endLingering}) so a client still sending gets the answer rather than a reset.
   */
  readonly closeConnection: boolean;
  constructor(status: number, error: string, closeConnection = false) {
    super(error);
    this.status = status;
    this.error = error;
    this.closeConnection = closeConnection;
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

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!isJsonMediaType(req.headers['content-type']))
    throw new HttpProblem(415, 'content-type must be application/json');
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY_BYTES);
  } catch (error) {
    if (!(error instanceof BodyError)) throw error;
    // Over the cap (refused before reading a byte when content-length says so): 413, and the
    // connection closes after it. A client that left before its whole body arrived is not a
    // server failure: 400 if it is still there to read it.
    throw error.code === 'ERR_BODY_TOO_LARGE'
      ? new HttpProblem(413, 'body too large', true)
      : new HttpProblem(400, 'the request body was not received in full');
  }
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
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
function logFailure(req: IncomingMessage, status: number, error: unknown, answering = false): void {
  const what = describeError(error);
  const method = /^[A-Z]{1,16}$/.test(req.method ?? '') ? req.method : '(other)';
  const where = `${method} ${routeName(req.url)}`;
  process.stderr.write(
    answering
      ? `issues-api: answering ${status} on ${where} failed: ${what}\n`
      : `issues-api: ${status} on ${where}: ${what}\n`,
  );
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
    // HEAD is GET without the body (RFC 9110 §9.3.2): the same route, scope and status. Node leaves
    // the body out of a HEAD response itself.
    const reads = method === 'GET' || method === 'HEAD';
    count(`requests{method="${method}"}`);
    if (path === '/healthz' && reads) return send(res, 200, { status: 'ok' });
    // Refused before the IP limit: the limiter would refuse an unparsable target itself, with its own body.
    if (path === undefined) return send(res, 400, { error: 'malformed request target' });
    if (!(await limitIp(req, res))) return;

    if (path === '/metrics' && reads) {
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
    const auth = await authenticateNode(verifier, req, res, reads ? read : write);
    if (!auth) return;
    if (!(await limitClient(req, res, auth))) return;
    const tenant = tenantOf(auth);

    if (route === 'collection' && reads) return send(res, 200, { issues: store.list(tenant) });
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
      if (reads) {
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

  /** Answers a request whose handler failed. Throws only if answering fails; `fail` catches that. */
  const answerFailure = (req: IncomingMessage, res: ServerResponse, error: unknown, status: number): void => {
    if (res.headersSent) return void res.end();
    // A client that went away is not a server failure: no log line (any client could add
    // some), and no answer when its connection is gone. The response is still ended, so a
    // graceful stop knows this handler is done.
    if (clientGone(req, res)) return void res.end();
    if (error instanceof HttpProblem) {
      if (!error.closeConnection) {
        send(res, status, { error: error.error });
        return;
      }
      res.statusCode = status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      endLingering(req, res, JSON.stringify({ error: error.error }));
      return;
    }
    // An envelope that fails to decrypt (tampering) or Vault/Redis down must leave a trace.
    logFailure(req, status, error);
    if (status === 503) res.setHeader('retry-after', '1');
    send(res, status, { error: status === 503 ? 'temporarily unavailable' : 'internal error' });
  };

  /**
   * The handler's failure, answered. Never throws: a rejection here would be unhandled and end the
   * process (every request it serves with it). If answering fails too, one more line is logged
   * (class and code only) and the response is ended, or destroyed if even that fails.
   */
  const fail = (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
    // 500 unless the error says otherwise; reading what it says may throw too (a `retryable`
    // getter that throws, a Proxy whose prototype cannot be read), so inside the guard.
    let status = 500;
    try {
      // Vault/Redis unavailable and other typed, retryable failures: 503, never a stack trace.
      status =
        error instanceof HttpProblem
          ? error.status
          : (error as { retryable?: unknown } | null)?.retryable === true
            ? 503
            : 500;
      answerFailure(req, res, error, status);
    } catch (failure) {
      try {
        logFailure(req, status, failure, true);
      } catch {
        // stderr itself failed: nothing more to say.
      }
      try {
        if (!res.headersSent) res.statusCode = status;
        res.end();
      } catch {
        res.destroy();
      }
    }
  };

  const server = createServer(
    withSecurityHeaders(apiPreset(), (req, res) => {
      handle(req, res).catch((error: unknown) => fail(req, res, error));
    }),
  );
  return { server, metrics };
}
