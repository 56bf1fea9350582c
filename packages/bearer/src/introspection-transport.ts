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

/**
 * How long a token answered with HTTP 200 is remembered to confirm an outage with, after its last
 * answer. Any HTTP 200 answer shows the server up (an expired or revoked token is answered
 * `active: false`), so this follows neither the token's `exp` nor the answer cache: a token sent
 * just before its `exp`, or `cacheMaxTtlSeconds: 0`, must not leave nothing to confirm with.
 */
const WITNESS_MAX_AGE_MS = 60_000;

/**
 * How long it is kept while the breaker is open or half-open, after its last answer: a failed
 * probe must still be confirmed after an outage longer than {@link WITNESS_MAX_AGE_MS}, or whoever
 * takes every probe with a token the server fails on keeps the breaker open. Bounded: it is a raw
 * token held in memory.
 */
const WITNESS_OUTAGE_MAX_AGE_MS = 600_000;

/**
 * The longest a token is kept after a request last brought it (confirmations do not count): an
 * attacker who makes the server fail `failureThreshold` tokens a minute would otherwise have the
 * same raw token confirmed, and kept in memory, for as long as they went on.
 */
const WITNESS_RETENTION_MS = 600_000;

/** An `ERR_BEARER_INTROSPECTION_UNAVAILABLE` error (503) with the default `Retry-After`. */
export const unavailable = (message: string, cause?: unknown): BearerError =>
  new BearerError('ERR_BEARER_INTROSPECTION_UNAVAILABLE', message, { cause, retryAfterSeconds: RETRY_AFTER_SECONDS });

/**
 * The HTTP 400 errors that refuse the token itself when the endpoint is known to answer
 * introspections: RFC 6749 §5.2 `invalid_request` (oidc-provider: a request body too large to parse)
 * and RFC 7009 §2.2.1 `unsupported_token_type` (oidc-provider: any token whose first segment decodes
 * as a JOSE header, a JWS or JWE shape). Not `invalid_token`: at the introspection endpoint it is
 * about the caller's own credentials (RFC 7662 §2.3), so it stays a 503 naming them.
 */
export type Refusal = 'invalid_request' | 'unsupported_token_type';

/**
 * Refusals with no real introspection answer (HTTP 200) between them after which the endpoint is no
 * longer trusted to answer introspections: it may have been pointed elsewhere.
 */
const REFUSAL_LIMIT = 10;

/**
 * The 503 message while a refusal cannot be read as "this token is refused". The server's
 * `error_description` is never echoed: it is server text.
 */
const refusesEveryCall = (refusal: Refusal): string =>
  `The introspection endpoint refuses every call (HTTP 400 ${refusal}): check introspection.endpoint ` +
  "(the token endpoint answers invalid_request so) and the client's registration.";

/** The {@link Refusal} a 400 body names, if it names one. */
function refusalOf(text: string): Refusal | undefined {
  try {
    const body = parseStrictJson(text);
    if (!isJsonObject(body)) return undefined;
    return body.error === 'invalid_request' || body.error === 'unsupported_token_type' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** The 503 message for a status other than 200, a 400 {@link Refusal}, 5xx and 429. */
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
export interface IntrospectionTransport<Answer> {
  /**
   * Posts one introspection request for `token`. Resolves with the endpoint's HTTP 200 answer as
   * `readAnswer` read it (within the same `timeoutMs` as the call: the key lookup of a signed answer
   * included), or the {@link Refusal} of an HTTP 400 while the endpoint is known to answer
   * introspections (the server refused the token itself). Anything else throws
   * `ERR_BEARER_INTROSPECTION_UNAVAILABLE`.
   */
  post(token: string): Promise<Answer | Refusal>;
  /**
   * Records that the HTTP 200 answer for `token` was a real introspection answer (it parsed, and
   * verified when signed): from now on a {@link Refusal} is about the token. The token is offered
   * to confirm an outage with before the breaker opens: failures for attacker-chosen tokens then do
   * not open it while the server still answers this one. One token is kept, the newest active one
   * (else the newest inactive one), in memory only, never logged, for {@link WITNESS_MAX_AGE_MS}
   * after its last answer (a successful confirmation is one), {@link WITNESS_OUTAGE_MAX_AGE_MS}
   * while the breaker is open, and never more than {@link WITNESS_RETENTION_MS} after a request
   * brought it; a timer drops it then.
   */
  answered(token: string, active: boolean): void;
  /** Calls made to the endpoint, confirmations included (for tests and metrics). */
  readonly calls: number;
  /** Whether a token is remembered to confirm an outage with (for tests: it is a raw token in memory). */
  readonly holdsWitness: boolean;
}

/** Reads an HTTP 200 answer as an introspection answer (parses it, verifies it when signed), or throws. */
export type ReadAnswer<Answer> = (reply: IntrospectionReply) => Promise<Answer>;

/**
 * The clock of breaker windows and cache deadlines: monotonic, read through the global at each
 * call (so tests can fake it). The verifier's wall clock may be stepped back or frozen: a window
 * would never end, and a cache deadline would keep an active answer past revocation.
 */
export const monotonic = (): number => performance.now();

/** What {@link byDeadline} resolves with when the deadline came first. */
const LATE: unique symbol = Symbol('late');

/**
 * `work`, or {@link LATE} once the monotonic `deadline` has passed, whichever comes first. `work`
 * goes on unobserved when late: its rejection is expected, not unhandled.
 */
async function byDeadline<T>(work: Promise<T>, deadline: number): Promise<T | typeof LATE> {
  work.catch(() => undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), Math.max(0, deadline - monotonic()));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Builds the transport of an introspection client. `clock` is the verifier's (for client
 * assertions); `accept` is the media type asked for (JSON, or RFC 9701 JWT); `readAnswer` reads an
 * HTTP 200 answer (a confirmation's too) as a real introspection answer, or throws.
 */
export function createIntrospectionTransport<Answer>(
  options: IntrospectionOptions,
  clock: () => number,
  accept: string,
  readAnswer: ReadAnswer<Answer>,
): IntrospectionTransport<Answer> {
  const endpoint = new URL(options.endpoint).href;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 2_000;
  /**
   * The one token remembered to confirm an outage with (see {@link IntrospectionTransport.remember}),
   * when (monotonic) the server last answered it, and when a request last brought it.
   */
  let witness:
    | { readonly token: string; readonly active: boolean; readonly answeredAt: number; readonly rememberedAt: number }
    | undefined;
  /** Drops the witness at its deadline, so the raw token does not outlive it in memory. */
  let witnessTimer: ReturnType<typeof setTimeout> | undefined;
  let witnessTimerAt = Number.POSITIVE_INFINITY;
  const breaker = createIntrospectionBreaker({
    failureThreshold: options.failureThreshold ?? 5,
    failureBackoffMs: options.failureBackoffMs ?? 5_000,
    maxConcurrentCalls: options.maxConcurrentCalls ?? 256,
    clock: monotonic,
    confirm: () => confirm(),
    // Back to closed: a witness kept for the outage only is dropped now.
    onClose: () => sweepWitness(),
  });

  const witnessDeadline = (held: { readonly answeredAt: number; readonly rememberedAt: number }): number =>
    Math.min(
      held.answeredAt + (breaker.isOpen ? WITNESS_OUTAGE_MAX_AGE_MS : WITNESS_MAX_AGE_MS),
      held.rememberedAt + WITNESS_RETENTION_MS,
    );

  const dropWitness = (): void => {
    witness = undefined;
    clearTimeout(witnessTimer);
    witnessTimer = undefined;
    witnessTimerAt = Number.POSITIVE_INFINITY;
  };

  /** Drops the witness if its deadline has passed, else (re)arms the timer that will. */
  function sweepWitness(): void {
    if (witness === undefined) return;
    const now = monotonic();
    const deadline = witnessDeadline(witness);
    if (deadline <= now) {
      dropWitness();
      return;
    }
    // A timer due no later is kept (not re-armed on every answer): when it runs, it sweeps again and
    // re-arms for the rest; the breaker may have opened meanwhile, and then the witness is kept longer.
    if (witnessTimer !== undefined && witnessTimerAt <= deadline) return;
    clearTimeout(witnessTimer);
    witnessTimerAt = deadline;
    witnessTimer = setTimeout(() => {
      witnessTimer = undefined;
      witnessTimerAt = Number.POSITIVE_INFINITY;
      sweepWitness();
    }, deadline - now);
    // A remembered token must not keep the process alive.
    witnessTimer.unref?.();
  }
  let calls = 0;
  // RFC 6749 invalid_request is about the request. From an endpoint that answers introspections it
  // can only be about the token (oidc-provider: one too large for its body parser); from the token
  // endpoint, or for a client whose registration wants another response format, it is the answer to
  // every call, valid tokens included. unsupported_token_type is about the token (oidc-provider:
  // any JWS- or JWE-shaped one), unless the server supports no token this client presents. So either
  // is a 401 only while the endpoint has given a real answer (HTTP 200) since the last REFUSAL_LIMIT
  // refusals.
  let answersIntrospections = false;
  let refusalsInARow = 0;
  /** A real introspection answer came: a refusal from now on is about the token. */
  const trustAnswers = (): void => {
    answersIntrospections = true;
    refusalsInARow = 0;
  };

  /**
   * One POST and its body, settled by the monotonic `deadline` of its call whatever `fetch` does: a
   * custom fetch may ignore the abort signal, and a call that never settles would hold its
   * `maxConcurrentCalls` slot, or the breaker's half-open probe, for good.
   */
  const exchange = async (
    body: string,
    headers: Record<string, string>,
    deadline: number,
    cancel?: AbortSignal,
  ): Promise<IntrospectionReply> => {
    // A signal aborted already (a confirmation whose deadline passed while its assertion was being
    // signed) sends nothing: its listeners would never run.
    cancel?.throwIfAborted();
    const controller = new AbortController();
    cancel?.addEventListener('abort', () => controller.abort(cancel.reason), { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          const cause = new DOMException('The introspection call timed out.', 'TimeoutError');
          reject(unavailable('The introspection endpoint did not answer within introspection.timeoutMs.', cause));
          controller.abort(cause);
        },
        Math.max(0, deadline - monotonic()),
      );
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

  /**
   * The authenticated, form-encoded request for `token`. Throws a 503 when it cannot be built: that
   * is no failure of the server, and must not open the breaker for every other token.
   */
  const prepare = async (token: string): Promise<{ body: string; headers: Record<string, string> }> => {
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
    let body: string;
    try {
      body = params.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`).join('&');
    } catch (cause) {
      throw unavailable('The introspection request could not be form-encoded; check introspection.clientId.', cause);
    }
    return { body, headers };
  };

  /**
   * The confirmation call before the breaker opens: the remembered token, through the same
   * endpoint, client authentication and timeout, in the slot of the failed call that started it.
   * `true` when the server gave a real introspection answer; `undefined` when no token is remembered.
   * All of it, the client assertion and reading the answer (the key lookup of a signed one) included,
   * is settled within one `timeoutMs`.
   */
  const confirm = (): Promise<boolean> | undefined => {
    const held = witness;
    if (held === undefined || witnessDeadline(held) <= monotonic()) {
      dropWitness();
      return undefined;
    }
    return (async () => {
      calls++;
      const deadline = monotonic() + timeoutMs;
      const cancel = new AbortController();
      const attempt = (async () => {
        const { body, headers } = await prepare(held.token);
        const reply = await exchange(body, headers, deadline, cancel.signal);
        if (reply.response.status !== 200) return false;
        await readAnswer(reply);
        return true;
      })()
        // Why it failed is not reported: the failures that started it already were.
        .catch((): boolean => false);
      const up = await byDeadline(attempt, deadline);
      if (up === LATE) {
        cancel.abort(new DOMException('The confirmation call timed out.', 'TimeoutError'));
        return false;
      }
      if (!up) return false;
      trustAnswers();
      // Answered again: it is kept for another WITNESS_MAX_AGE_MS, unless replaced meanwhile.
      if (witness === held) {
        witness = { ...held, answeredAt: monotonic() };
        sweepWitness();
      }
      return true;
    })();
  };

  /**
   * Sends one call through the breaker: an answer of a reachable server, and the call's deadline
   * (monotonic: `timeoutMs` after it was sent), or a 503.
   */
  const send = async (token: string): Promise<{ reply: IntrospectionReply; deadline: number }> => {
    const admitted = breaker.admit();
    let outcome: CallOutcome = 'not-sent';
    let deadline: number | undefined;
    try {
      calls++;
      const { body, headers } = await prepare(token);
      outcome = 'transport-failure';
      deadline = monotonic() + timeoutMs;
      const { response, text } = await exchange(body, headers, deadline);
      if (response.status >= 500 || response.status === 429) {
        throw unavailable(
          `The introspection endpoint answered HTTP ${response.status}: the authorization server failed or ` +
            'is overloaded; check that it is up.',
        );
      }
      outcome = 'answered';
      return { reply: { response, text }, deadline };
    } catch (error) {
      // The failure that opens the breaker answers with the breaker's window, not the default.
      // When this failure starts a confirmation call, the request waits for it only until its own
      // deadline: the confirmation goes on in its slot with its own timeoutMs, and opens the
      // breaker (or not) when it ends. A request late for it gets the default Retry-After.
      const settling = admitted.settle(outcome);
      const settled = deadline === undefined ? await settling : await byDeadline(settling, deadline);
      const retryAfterSeconds = settled === LATE ? undefined : settled;
      if (retryAfterSeconds !== undefined && error instanceof BearerError) {
        const opening = new BearerError(error.code, error.message, { cause: error.cause, retryAfterSeconds });
        // Where the failure happened, not this rethrow.
        if (error.stack !== undefined) opening.stack = error.stack;
        throw opening;
      }
      throw error;
    } finally {
      void admitted.settle(outcome);
    }
  };

  return {
    get calls() {
      return calls;
    },
    get holdsWitness() {
      return witness !== undefined;
    },
    async post(token) {
      const { reply, deadline } = await send(token);
      const status = reply.response.status;
      const refusal = status === 400 ? refusalOf(reply.text) : undefined;
      if (refusal !== undefined) {
        refusalsInARow++;
        if (refusalsInARow >= REFUSAL_LIMIT) answersIntrospections = false;
        // Not an answer about this token: thrown, so not cached, and every valid token gets a 503
        // telling the operator what to fix instead of a 401 that sends clients into refresh loops.
        if (!answersIntrospections) throw unavailable(refusesEveryCall(refusal));
        return refusal;
      }
      if (status !== 200) throw unavailable(statusProblem(status));
      // Read within the call's own deadline: verifying a signed answer may have to fetch its keys.
      const answer = await byDeadline(readAnswer(reply), deadline);
      if (answer === LATE) {
        throw unavailable(
          'The introspection answer could not be verified within introspection.timeoutMs (the answer came ' +
            "late, or its keys did); check the endpoint's latency and introspection.jwtResponse.keys.",
        );
      }
      return answer;
    },
    answered(token, active) {
      trustAnswers();
      const now = monotonic();
      // An active token is kept over a newer inactive one: inactive answers are what garbage gets.
      if (!active && witness?.active === true && witnessDeadline(witness) > now) return;
      // Answered now, so its deadline is never earlier than the one it replaces.
      witness = { token, active, answeredAt: now, rememberedAt: now };
      sweepWitness();
    },
  };
}
