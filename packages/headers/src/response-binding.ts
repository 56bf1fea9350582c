import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CrossSiteDecision } from './cross-site.ts';
import { throwIfProblems } from './errors.ts';
import { attachNonce, generateNonce } from './nonce.ts';
import { type HeaderEntry, SecurityHeaders } from './security-headers.ts';

const STATE: unique symbol = Symbol.for('@rampart/headers.state');
/** Marks a response whose `writeHead` already applies a state's headers, and holds that state. */
const WRITE_HEAD_STATE: unique symbol = Symbol.for('@rampart/headers.write-head-state');

/** Per-request state: the policy in force (a route may replace it) and the nonce. */
export interface BindingState {
  policy: SecurityHeaders;
  nonce: string | undefined;
  secure: boolean;
}

interface Carrier {
  [STATE]?: BindingState;
}

/** The state a previous middleware stored on `holder`, if any. */
export function stateOf(holder: object): BindingState | undefined {
  return (holder as Carrier)[STATE];
}

/**
 * Stores `policy` as the one in force for this request (a later call, from a route, replaces it)
 * and makes sure a nonce exists when the policy needs one. Returns the state.
 */
export function bindState(
  holder: object,
  nonceTargets: readonly object[],
  policy: SecurityHeaders,
  secure: boolean,
): BindingState {
  let state = (holder as Carrier)[STATE];
  if (state === undefined) {
    state = { policy, nonce: undefined, secure };
    (holder as Carrier)[STATE] = state;
  } else {
    state.policy = policy;
  }
  if (policy.usesNonce && state.nonce === undefined) {
    state.nonce = generateNonce();
    for (const target of nonceTargets) attachNonce(target, state.nonce);
  }
  return state;
}

/**
 * Binds a policy to a node `ServerResponse`. Headers are written when the response head goes
 * out (`writeHead`, which `end()`/`write()` call implicitly), so every response, including a
 * framework's 404 and error pages that replace headers on their way out, carries the policy.
 */
export function bindNodeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  policy: SecurityHeaders,
  secure: boolean,
): BindingState {
  const existing = stateOf(res);
  const state = bindState(res, [req, res], policy, secure);
  if (existing === undefined) applyOnWriteHead(res, state);
  return state;
}

/**
 * Writes `state`'s headers onto `res` when its head goes out (`writeHead`, which `end()`/`write()`
 * call implicitly): after anything set with `setHeader`, before headers passed to `writeHead`,
 * which win, except that the policy's {@link SecurityHeaders.appended} entries are merged into them.
 */
export function applyOnWriteHead(res: ServerResponse, state: BindingState): void {
  const carrier = res as ServerResponse & { [WRITE_HEAD_STATE]?: BindingState };
  // Once per response: a second wrapper would apply the headers twice and, when the calls nest
  // (two Fastify registrations hijacking one reply), grow the stack on every writeHead.
  // The latest state wins, like a later bindState().
  const wrapped = carrier[WRITE_HEAD_STATE] !== undefined;
  carrier[WRITE_HEAD_STATE] = state;
  if (wrapped) return;
  const writeHead = res.writeHead;
  // biome-ignore lint/suspicious/noExplicitAny: writeHead is overloaded; we forward the call as is
  res.writeHead = function writeHeadWithSecurityHeaders(this: ServerResponse, ...args: any[]): ServerResponse {
    const current = (this as typeof carrier)[WRITE_HEAD_STATE];
    if (!this.headersSent && current !== undefined) {
      applyToNodeResponse(this, current);
      const appended = current.policy.appended;
      if (appended.length > 0) appendToWriteHeadArguments(args, appended);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * Node applies `writeHead`'s headers argument after the wrapper's headers, with `setHeader` (object
 * form) or `removeHeader` then `appendHeader` (raw `[name, value, ...]` form), so a CSP there would
 * replace the rollout's frame-ancestors. Puts each entry into that argument too, after the app's
 * values, in a copy (the caller may reuse its object). Anything Node refuses is left for Node to refuse.
 */
function appendToWriteHeadArguments(args: unknown[], entries: readonly HeaderEntry[]): void {
  // writeHead(status, reason, headers), or writeHead(status, headers): Node reads the headers from
  // the third argument, or from the second when the third is absent and the second is no reason.
  const index = typeof args[1] === 'string' || args[2] != null ? 2 : 1;
  let headers = args[index];
  if (typeof headers !== 'object' || headers === null) return;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as HeaderEntry;
    headers = Array.isArray(headers)
      ? appendToRawHeaders(headers, entry[0], entry[1])
      : appendToHeaderObject(headers as Record<string, unknown>, entry[0], entry[1]);
  }
  args[index] = headers;
}

/** Whether a header value as given to Node (a string, a number or an array of them) holds `value`. */
function holdsValue(given: unknown, value: string): boolean {
  return Array.isArray(given) ? given.some((v) => String(v) === value) : String(given) === value;
}

/** The raw form, `[name, value, name, value, ...]`: one more pair unless a pair of that name has the value. */
function appendToRawHeaders(headers: readonly unknown[], name: string, value: string): readonly unknown[] {
  if (headers.length % 2 !== 0) return headers;
  const lower = name.toLowerCase();
  let named = false;
  for (let i = 0; i < headers.length; i += 2) {
    const key = headers[i];
    if (typeof key !== 'string' || key.toLowerCase() !== lower) continue;
    if (holdsValue(headers[i + 1], value)) return headers;
    named = true;
  }
  if (!named) return headers;
  const copy = headers.slice();
  copy.push(name, value);
  return copy;
}

/**
 * The object form: the last key of that name in any letter case wins in Node (one `setHeader` per
 * key, in order), so the value goes there, after the app's.
 */
function appendToHeaderObject(headers: Record<string, unknown>, name: string, value: string): Record<string, unknown> {
  const lower = name.toLowerCase();
  let last: string | undefined;
  const keys = Object.keys(headers);
  for (let i = 0; i < keys.length; i++) {
    if ((keys[i] as string).toLowerCase() === lower) last = keys[i];
  }
  if (last === undefined) return headers;
  const given = headers[last];
  // undefined, null or an object: Node refuses it, as it would without us.
  if (typeof given !== 'string' && typeof given !== 'number' && !Array.isArray(given)) return headers;
  if (holdsValue(given, value)) return headers;
  const merged = Array.isArray(given) ? [...given, value] : [String(given), value];
  return { ...headers, [last]: merged };
}

/** Writes the state's headers onto `res` now. */
export function applyToNodeResponse(res: ServerResponse, state: BindingState): void {
  const remove = state.policy.remove;
  for (let i = 0; i < remove.length; i++) res.removeHeader(remove[i] as string);
  if (state.policy.usesNonce && state.nonce === undefined) state.nonce = generateNonce();
  state.policy.applyTo(
    (name, value) => res.setHeader(name, value),
    state,
    (name, value) => addNodeHeaderValue(res, name, value),
  );
}

/**
 * Adds `value` as one more value of header `name`, after any the response has (an app's own
 * enforced CSP stays in force next to the rollout's frame-ancestors); nothing when it is there.
 */
export function addNodeHeaderValue(
  res: Pick<ServerResponse, 'getHeader' | 'setHeader'>,
  name: string,
  value: string,
): void {
  const current = res.getHeader(name);
  if (current === undefined) {
    res.setHeader(name, value);
    return;
  }
  const values = Array.isArray(current) ? current : [String(current)];
  if (!values.includes(value)) res.setHeader(name, [...values, value]);
}

/**
 * The same for a Fetch `Headers` (Hono), whose values of one name read back joined with `, `,
 * which CSP reads as a list of policies.
 */
export function addFetchHeaderValue(headers: Headers, name: string, value: string): void {
  const current = headers.get(name);
  if (current === null) headers.set(name, value);
  else if (!current.split(',').some((part) => part.trim() === value)) headers.append(name, value);
}

/** The JSON body adapters send with a rejection: the code only, never request data. */
export function rejectionBody(decision: Extract<CrossSiteDecision, { allowed: false }>): string {
  return JSON.stringify({ error: decision.error.code, message: decision.error.message });
}

/**
 * Checks an adapter's arguments when the middleware is created, so a mistake fails at start-up
 * with `ERR_HEADERS_INVALID_OPTION` instead of a TypeError on every response (which Express
 * surfaces as an uncaught exception). `functions` are the option keys that must be functions when set.
 */
export function assertAdapterArguments(
  where: string,
  policy: unknown,
  options: unknown,
  functions: readonly string[] = ['isSecure'],
): void {
  const problems: string[] = [];
  if (!(policy instanceof SecurityHeaders)) {
    problems.push(
      'policy must be a SecurityHeaders built by apiPreset() or webAppPreset() (or a variant of one): call the preset, as in securityHeaders(webAppPreset()), not securityHeaders(webAppPreset)',
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    problems.push('options must be an object');
  } else {
    for (const key of functions) {
      const value = (options as Record<string, unknown>)[key];
      if (value !== undefined && typeof value !== 'function') problems.push(`options.${key} must be a function`);
    }
  }
  throwIfProblems('ERR_HEADERS_INVALID_OPTION', `${where}: invalid arguments`, problems);
}
