import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  clientAddress,
  createHttpRateLimit,
  type HttpOutcome,
  type HttpRateLimitOptions,
} from '../http/http-rate-limit.ts';
import { alreadyAnswered, dropLease, holdLeaseUntilEnded } from '../http/node-response.ts';

const INTERNAL_ERROR = { error: 'ERR_INTERNAL', message: 'The rate limit failed unexpectedly.' } as const;

/** Answers 500 unless something was sent already. */
function internalError(res: ServerResponse): void {
  if (alreadyAnswered(res)) return;
  res.statusCode = 500;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(INTERNAL_ERROR));
}

/**
 * For plain `node:http` servers: resolves `true` when the request may be served, or answers it
 * (429 / 503 / 400 with a JSON body) and resolves `false`. It never rejects: a failure below
 * answers 500, and a response already sent while the limiter decided (a timeout ahead of it) is
 * left alone and resolves `false`. Called again for the same request, it resolves as the first
 * call did, counting nothing. The key sees the socket address; behind a proxy pass a `key` that
 * reads the proxy's header you trust.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { nodeRateLimit } from '@rampart/redis/node';
 * const limit = nodeRateLimit({ limiter });
 * createServer(async (req, res) => {
 *   if (!(await limit(req, res))) return;
 *   res.end('ok');
 * });
 * ```
 */
export function nodeRateLimit(
  options: HttpRateLimitOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const decide = createHttpRateLimit(options);
  const admit = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    let outcome: HttpOutcome;
    try {
      outcome = await decide({
        ip: clientAddress(() => req.socket.remoteAddress),
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        header: (name) => {
          const value = req.headers[name.toLowerCase()];
          return Array.isArray(value) ? value.join(', ') : value;
        },
      });
    } catch {
      // A bug below (the limiter threw something unexpected): answer 500 here, as the other
      // frameworks do, instead of rejecting into a request listener nobody awaits.
      internalError(res);
      return false;
    }
    if (alreadyAnswered(res)) {
      dropLease(outcome);
      return false;
    }
    try {
      for (const [name, value] of outcome.headers) res.setHeader(name, value);
      if (outcome.kind === 'reject') {
        res.statusCode = outcome.status;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(outcome.body));
        return false;
      }
    } catch {
      dropLease(outcome);
      internalError(res);
      return false;
    }
    return outcome.release === undefined || holdLeaseUntilEnded(res, req.socket, outcome.release);
  };
  // The answer for each request seen: a second call for it (the limit applied twice) counts nothing.
  const answers = new WeakMap<IncomingMessage, Promise<boolean>>();
  return (req, res) => {
    let answer = answers.get(req);
    if (answer === undefined) {
      answer = admit(req, res);
      answers.set(req, answer);
    }
    return answer;
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
