import { readBoundedText } from './bounded-body.ts';
import { authenticateClient, formEncode } from './client-authentication.ts';
import { BearerError } from './errors.ts';
import { type CallOutcome, createIntrospectionBreaker } from './introspection-breaker.ts';
import type { IntrospectionOptions } from './introspection-options.ts';
import { isJsonObject, parseStrictJson } from './strict-json.ts';

/** The largest introspection response read, in bytes; also the bound of a signed (RFC 9701) one. */
export const MAX_RESPONSE_BYTES = 65_536;

/** `Retry-After` of a failed call that did not open the breaker. */
const RETRY_AFTER_SECONDS = 5;

/** An `ERR_BEARER_INTROSPECTION_UNAVAILABLE` error (503) with the default `Retry-After`. */
export const unavailable = (message: string, cause?: unknown): BearerError =>
  new BearerError('ERR_BEARER_INTROSPECTION_UNAVAILABLE', message, { cause, retryAfterSeconds: RETRY_AFTER_SECONDS });

/**
 * `invalid_request` answers with no real introspection answer (HTTP 200) between them after which
 * the endpoint is no longer trusted to answer introspections: it may have been pointed elsewhere.
 */
const INVALID_REQUEST_LIMIT = 10;

/**
 * The 503 message while `invalid_request` cannot be read as "this token is malformed". The server's
 * `error_description` is never echoed: it is server text.
 */
const REFUSES_EVERY_CALL =
  'The introspection endpoint refuses every call as invalid_request: check introspection.endpoint ' +
  "(the token endpoint answers so) and the client's registration.";

/** Whether a 400 body is the RFC 6749 §5.2 error `invalid_request` (about the request: the token, or the endpoint). */
function isInvalidRequest(text: string): boolean {
  try {
    const body = parseStrictJson(text);
    return isJsonObject(body) && body.error === 'invalid_request';
  } catch {
    return false;
  }
}

/** The 503 message for a status other than 200, 400 `invalid_request`, 5xx and 429. */
function statusProblem(status: number): string {
  return status === 400 || status === 401 || status === 403
    ? `The introspection endpoint answered HTTP ${status}; check introspection.clientId and its credentials.`
    : `The introspection endpoint answered HTTP ${status}; check introspection.endpoint (redirects are not followed).`;
}

/** An HTTP 200 answer of the introspection endpoint: the response and its body, read but not parsed. */
export interface IntrospectionReply {
  readonly response: Response;
  readonly text: string;
}

/**
 * The HTTP side of introspection: one POST per call, through the breaker, with client
 * authentication, a bounded body and a timeout. It knows nothing of caching or claims.
 */
export interface IntrospectionTransport {
  /**
   * Posts one introspection request for `token`. Resolves with the endpoint's HTTP 200 answer, or
   * `'malformed'` for an HTTP 400 `invalid_request` while the endpoint is known to answer
   * introspections (the server refused the token itself). Anything else throws
   * `ERR_BEARER_INTROSPECTION_UNAVAILABLE`.
   */
  post(token: string): Promise<IntrospectionReply | 'malformed'>;
  /**
   * Records that an HTTP 200 answer was a real introspection answer (it parsed, and verified when
   * signed): from now on an `invalid_request` is about the token.
   */
  answered(): void;
  /** Calls made to the endpoint (for tests and metrics). */
  readonly calls: number;
}

/**
 * Builds the transport of an introspection client. `clock` is the verifier's (for client
 * assertions); `accept` is the media type asked for (JSON, or RFC 9701 JWT).
 */
export function createIntrospectionTransport(
  options: IntrospectionOptions,
  clock: () => number,
  accept: string,
): IntrospectionTransport {
  const endpoint = new URL(options.endpoint).href;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const breaker = createIntrospectionBreaker({
    failureThreshold: options.failureThreshold ?? 5,
    failureBackoffMs: options.failureBackoffMs ?? 5_000,
    maxConcurrentCalls: options.maxConcurrentCalls ?? 256,
    // Monotonic, read through the global at each call (so tests can fake it): the verifier's
    // clock may be stepped back or frozen, and then the window would never end.
    clock: () => performance.now(),
  });
  let calls = 0;
  // RFC 6749 invalid_request is about the request. From an endpoint that answers introspections it
  // can only be about the token (oidc-provider: an oversized or JWT-shaped garbage one); from the
  // token endpoint, or for a client whose registration wants another response format, it is the
  // answer to every call, valid tokens included. So it is a 401 only while the endpoint has given a
  // real answer (HTTP 200) since the last INVALID_REQUEST_LIMIT invalid_request answers.
  let answersIntrospections = false;
  let invalidRequestsInARow = 0;

  /**
   * One POST and its body, settled within `timeoutMs` whatever `fetch` does: a custom fetch may
   * ignore the abort signal, and a call that never settles would hold its `maxConcurrentCalls` slot,
   * or the breaker's half-open probe, for good.
   */
  const exchange = async (body: string, headers: Record<string, string>): Promise<IntrospectionReply> => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = new DOMException('The introspection call timed out.', 'TimeoutError');
        reject(unavailable('The introspection endpoint did not answer within introspection.timeoutMs.', cause));
        controller.abort(cause);
      }, timeoutMs);
    });
    const attempt = (async () => {
      let response: Response;
      try {
        response = await fetchImpl(endpoint, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: controller.signal,
        });
      } catch (cause) {
        throw unavailable('The introspection endpoint could not be reached (network error or timeout).', cause);
      }
      let text: string;
      try {
        // Aborted on timeout: the body is cancelled even when fetch ignored the signal, also when
        // the response only arrives after the timeout.
        text = await readBoundedText(response, MAX_RESPONSE_BYTES, controller.signal);
      } catch (cause) {
        throw unavailable('The introspection response is too large or not UTF-8.', cause);
      }
      return { response, text };
    })();
    // The loser of the race settles unobserved: its rejection is expected, not unhandled.
    attempt.catch(() => undefined);
    try {
      return await Promise.race([attempt, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };

  /** Sends one call through the breaker: an answer of a reachable server, or a 503. */
  const send = async (token: string): Promise<IntrospectionReply> => {
    const admitted = breaker.admit();
    let outcome: CallOutcome = 'not-sent';
    try {
      calls++;
      const params: [string, string][] = [
        ['token', token],
        ['token_type_hint', 'access_token'],
      ];
      const headers: Record<string, string> = {
        'content-type': 'application/x-www-form-urlencoded',
        accept,
      };
      try {
        await authenticateClient(options.authentication, options.clientId, endpoint, params, headers, clock());
      } catch (cause) {
        throw unavailable(
          'The client assertion for the introspection endpoint could not be signed; check ' +
            'introspection.authentication.privateKey and algorithm.',
          cause,
        );
      }
      // Built before the call counts as sent: a value that cannot be encoded is no failure of the
      // server, and must not open the breaker for every other token.
      let body: string;
      try {
        body = params.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`).join('&');
      } catch (cause) {
        throw unavailable('The introspection request could not be form-encoded; check introspection.clientId.', cause);
      }
      outcome = 'transport-failure';
      const { response, text } = await exchange(body, headers);
      if (response.status >= 500 || response.status === 429) {
        throw unavailable(
          `The introspection endpoint answered HTTP ${response.status}: the authorization server failed or ` +
            'is overloaded; check that it is up.',
        );
      }
      outcome = 'answered';
      return { response, text };
    } catch (error) {
      // The failure that opens the breaker answers with the breaker's window, not the default.
      const retryAfterSeconds = admitted.settle(outcome);
      if (retryAfterSeconds !== undefined && error instanceof BearerError) {
        const opening = new BearerError(error.code, error.message, { cause: error.cause, retryAfterSeconds });
        // Where the failure happened, not this rethrow.
        if (error.stack !== undefined) opening.stack = error.stack;
        throw opening;
      }
      throw error;
    } finally {
      admitted.settle(outcome);
    }
  };

  return {
    get calls() {
      return calls;
    },
    async post(token) {
      const reply = await send(token);
      const status = reply.response.status;
      if (status === 400 && isInvalidRequest(reply.text)) {
        invalidRequestsInARow++;
        if (invalidRequestsInARow >= INVALID_REQUEST_LIMIT) answersIntrospections = false;
        // Not an answer about this token: thrown, so not cached, and every valid token gets a 503
        // telling the operator what to fix instead of a 401 that sends clients into refresh loops.
        if (!answersIntrospections) throw unavailable(REFUSES_EVERY_CALL);
        return 'malformed';
      }
      if (status !== 200) throw unavailable(statusProblem(status));
      return reply;
    },
    answered() {
      answersIntrospections = true;
      invalidRequestsInARow = 0;
    },
  };
}
