// The webhook receiver. Deliveries authenticate with an OAuth bearer token carrying
// `webhooks:deliver` (no shared HMAC secret to rotate by hand), and each delivery id is accepted
// once across every pod: ReplayGuard records it in Redis with SET NX, and releases its own record
// again (never another pod's) when the handler fails or the check itself timed out, so the sender's
// retry is not refused as a replay (at-least-once delivery: a retry is delivered, never lost).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BearerVerifier } from '@rampart/bearer';
import { authenticateNode } from '@rampart/bearer/node';
import { apiPreset } from '@rampart/headers';
import { withSecurityHeaders } from '@rampart/headers/node';
import type { ReplayGuard } from '@rampart/redis';
import { BodyError, clientGone, describeError, endLingering, readBody } from 'example-service-runtime';

export interface Delivery {
  readonly id: string;
  readonly clientId: string | undefined;
  readonly event: unknown;
}

const DELIVERY_ID = /^[A-Za-z0-9._:-]{8,128}$/;
const MAX_BODY_BYTES = 256 * 1024;

/** Whether a failure may pass if retried (Redis timed out or unreachable): a 503, not a 500. */
function isRetryable(error: unknown): boolean {
  return (error as { retryable?: unknown } | null)?.retryable === true;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/**
 * Answers a delivery whose handler failed. Never throws: a rejection here would be unhandled and end
 * the process. A body not read in full is the client's doing, not a failure: 413 for one over the
 * cap (a lingering close, so a sender still sending reads it), 400 for one cut short, and nothing at
 * all (no log line, no answer) once the client is gone.
 */
function fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  try {
    if (res.headersSent || clientGone(req, res)) return void res.end();
    if (error instanceof BodyError) {
      if (error.code === 'ERR_BODY_NOT_RECEIVED') send(res, 400, { error: 'body not received' });
      else {
        res.statusCode = 413;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        endLingering(req, res, JSON.stringify({ error: 'body too large' }));
      }
      return;
    }
    const retryable = isRetryable(error);
    // A failing handler or Redis down or slow must leave a trace, without any value.
    logFailure(req, retryable ? 503 : 500, error);
    if (retryable) res.setHeader('retry-after', '1');
    send(res, retryable ? 503 : 500, { error: retryable ? 'temporarily unavailable' : 'internal error' });
  } catch (failure) {
    // Answering failed too (or reading the error did): a trace (class and code only), then end the
    // response, or cut the connection.
    try {
      logFailure(req, 500, failure);
    } catch {
      // stderr itself failed: nothing more to say.
    }
    try {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    } catch {
      res.destroy();
    }
  }
}

/**
 * One log line for a failed delivery (500 or 503): status, route, and the error's class and code
 * only. Never its message (it may quote input), the body, a delivery id or a token. The route is
 * `/deliveries`, the only one that can fail.
 */
function logFailure(req: IncomingMessage, status: number, error: unknown): void {
  const method = /^[A-Z]{1,16}$/.test(req.method ?? '') ? req.method : '(other)';
  process.stderr.write(`webhook: ${status} on ${method} /deliveries: ${describeError(error)}\n`);
}

/**
 * The receiver's part of its replay keys: receivers of different audiences may share one Redis (and
 * one guard name), and a sender fanning one event out to them reuses its id. A hash keeps the key
 * short whatever the audience's length, and holds no brace (no Cluster hash tag).
 */
function audienceScope(audience: string): string {
  return `aud:${createHash('sha256').update(audience).digest('base64url').slice(0, 22)}`;
}

export function createReceiver(options: {
  /** This receiver's resource indicator (the `aud` its verifier requires): scopes its delivery ids. */
  readonly audience: string;
  readonly verifier: BearerVerifier<'webhooks:deliver'>;
  readonly replayGuard: ReplayGuard;
  readonly onDelivery: (delivery: Delivery) => void | Promise<void>;
}): Server {
  const deliver = options.verifier.route({ scopes: { all: ['webhooks:deliver'] } });
  const receiverScope = audienceScope(options.audience);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return send(res, 200, { status: 'ok' });
    if (path !== '/deliveries') return send(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' });
    const auth = await authenticateNode(options.verifier, req, res, deliver);
    if (!auth) return;
    const id = req.headers['webhook-id'];
    if (typeof id !== 'string' || !DELIVERY_ID.test(id)) return send(res, 400, { error: 'webhook-id header required' });
    // Over the cap or cut short: a BodyError, answered by fail().
    const raw = await readBody(req, MAX_BODY_BYTES);
    let event: unknown;
    try {
      event = JSON.parse(raw.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'body must be JSON' });
    }
    // Scoped by receiver audience and by sender, so neither two receivers sharing a Redis nor two
    // senders burn each other's ids. The sender part is
    // percent-encoded (no ':' left in it) and client ids and subjects have namespaces of their own,
    // so no (sender, id) pair can name another pair's key.
    const sender =
      auth.clientId !== undefined
        ? `client:${encodeURIComponent(auth.clientId)}`
        : auth.subject !== undefined
          ? `sub:${encodeURIComponent(auth.subject)}`
          : 'anonymous';
    // An attempt: its record carries a token of its own, and its forget() deletes the record only
    // while it still holds that token. A plain forget(id) would delete another pod's record (one
    // that recorded the same delivery concurrently and is still handling it, or one that recorded
    // it again after ours expired) and let a third copy through.
    const attempt = options.replayGuard.attempt(`${receiverScope}:${sender}:${id}`);
    let first: boolean;
    try {
      first = await attempt.check();
    } catch (error) {
      // A timeout may come after Redis ran the SET NX: the id would stay recorded and the sender's
      // retry of this 503 would get 409, losing the delivery. Release our record, if it is ours
      // (best effort: on the same connection, the compare-and-delete runs after the SET) before
      // answering 503.
      if (isRetryable(error)) {
        await attempt.forget().catch(() => {
          // Redis is unreachable: the SET most likely never ran either.
        });
      }
      throw error;
    }
    if (!first) return send(res, 409, { error: 'replayed delivery', id });
    // The id is held while the handler runs (a concurrent duplicate gets 409); if the handler
    // fails, our record is released so the sender's retry with the same id is delivered, not lost.
    try {
      await options.onDelivery({ id, clientId: auth.clientId, event });
    } catch (error) {
      await attempt.forget().catch(() => {
        // Redis is down too: the retry answers 409 until the TTL ends; the handler's error matters more.
      });
      throw error;
    }
    return send(res, 202, { accepted: id });
  };
  return createServer(
    withSecurityHeaders(apiPreset(), (req, res) => {
      handle(req, res).catch((error: unknown) => fail(req, res, error));
    }),
  );
}
