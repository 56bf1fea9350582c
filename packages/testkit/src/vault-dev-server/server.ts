import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4, type Server as NetServer, type Socket } from 'node:net';
import { TestkitError } from '../errors.ts';
import { refuseInProduction } from '../production-guard.ts';
import type { EngineRequest } from './engine.ts';
import type { Fields } from './fields.ts';
import { stringifyJson } from './json-value.ts';
import { createListMethodProxy, ORIGINAL_METHOD_HEADER } from './list-method-proxy.ts';
import { MountTable } from './mount-table.ts';
import {
  jsonLimitsProblem,
  MAX_JSON_NESTING,
  nestsTooDeep,
  parseRequestJson,
  VAULT_MAX_JSON_DEPTH,
  VAULT_MAX_JSON_STRING_VALUE_LENGTH,
} from './request-json.ts';
import { health, type ServerIdentity, sealStatus, sysRoute } from './sys-routes.ts';
import { noHandler, userError, VaultHttpError } from './vault-http-error.ts';

/** Options of {@link startVaultDevServer}. */
export interface StartVaultDevServerOptions {
  /** Address to bind; must be an IPv4 address in 127.0.0.0/8. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port to bind. Default `0` (a free port chosen by the kernel). */
  readonly port?: number;
  /** Transit mounts present at start in every namespace. Default `['transit']`. */
  readonly transitMounts?: readonly string[];
  /** KV version 2 mounts present at start in every namespace. Default `['secret']`, like `vault server -dev`. */
  readonly kvMounts?: readonly string[];
  /** Largest request body accepted, like Vault's `max_request_size`. Default 32 MiB. */
  readonly maxRequestBytes?: number;
  /**
   * Deepest JSON body accepted, like the listener's `max_json_depth`: a body whose arrays and objects
   * nest deeper (the outermost counting as 1) answers 500 `JSON input exceeds allowed nesting depth`.
   * Default 500, Vault's default. An integer ≥ 1, else `ERR_TESTKIT_INVALID_OPTION`.
   */
  readonly maxJsonDepth?: number;
  /**
   * Longest JSON string (key or value, in UTF-8 bytes once decoded) accepted, like the listener's
   * `max_json_string_value_length`: a body with a longer one answers 500 `JSON string value exceeds
   * allowed length`. Default 1,048,576, Vault's default. An integer ≥ 1, else `ERR_TESTKIT_INVALID_OPTION`.
   */
  readonly maxJsonStringValueLength?: number;
  /** Clock for key and secret timestamps (ms since epoch). Default `Date.now`. */
  readonly now?: () => number;
}

/** One request as the server saw it. Bodies are never recorded: they hold plaintexts and keys. */
export interface VaultDevRequest {
  readonly method: string;
  /** Path below `/v1/`, without the query string. */
  readonly path: string;
  /** `X-Vault-Namespace`, normalised; `''` for the root namespace. */
  readonly namespace: string;
  /** Number of `batch_input` items, or `undefined` for a request without a batch. */
  readonly batchSize: number | undefined;
  readonly status: number;
}

/**
 * A fault the next matching requests meet instead of being served: an HTTP status with Vault's
 * error body, a dropped connection, or a delay before normal handling.
 */
export type VaultDevFault =
  | { readonly status: number; readonly errors?: readonly string[] }
  | { readonly reset: true }
  | { readonly delayMs: number };

/** A running Vault dev server. */
export interface TestVault {
  /** `http://127.0.0.1:<port>`: what `VAULT_ADDR` would hold. */
  readonly addr: string;
  /** The root token, random for every start. */
  readonly token: string;
  /** Every request served so far, oldest first. */
  requests(): readonly VaultDevRequest[];
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /**
   * Makes the next `times` requests (default 1) whose path starts with `pathPrefix` meet `fault`.
   * Throws `ERR_TESTKIT_INVALID_OPTION` for a status that is not an integer from 100 to 599, a
   * `times` that is not an integer of at least 1 or a `delayMs` that is not a non-negative integer;
   * `ERR_TESTKIT_STOPPED` on a server already stopped.
   */
  injectFault(fault: VaultDevFault, options?: { times?: number; pathPrefix?: string }): void;
  /** Seals the server: every call but `sys/health` and `sys/seal-status` answers 503 `Vault is sealed`. */
  seal(): void;
  unseal(): void;
  /** Stops listening and drops open connections, keeping keys and secrets: Vault is down. */
  suspend(): Promise<void>;
  /** Listens again on the same port after {@link TestVault.suspend}. */
  resume(): Promise<void>;
  /**
   * Stops the server for good: requests waiting out a `delayMs` fault are dropped (recorded with
   * status 0), and `suspend()`, `resume()` and `injectFault()` then throw `ERR_TESTKIT_STOPPED`.
   * Calling it again does nothing.
   */
  stop(): Promise<void>;
}

const ROOT_TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function rootToken(): string {
  const bytes = randomBytes(24);
  let out = 'hvs.';
  for (const byte of bytes) out += ROOT_TOKEN_ALPHABET[byte % ROOT_TOKEN_ALPHABET.length];
  return out;
}

function isLoopbackIPv4(host: string): boolean {
  return isIPv4(host) && host.split('.')[0] === '127';
}

/**
 * Starts an in-process, Transit-API-compatible Vault dev server on loopback, with a fresh random
 * root token. It speaks Vault's HTTP API and wire format (`X-Vault-Token`, `X-Vault-Namespace`,
 * `{"errors":[...]}` bodies, `vault:vN:` ciphertexts) for `sys/health`, transit keys, encrypt,
 * decrypt, rewrap, datakey and `batch_input`, and KV version 2. Everything lives in memory.
 * Refuses to bind outside 127.0.0.0/8 and to run when the environment says production.
 *
 * @example
 * ```ts
 * import { startVaultDevServer } from '@rampart/testkit';
 * import vault from 'node-vault';
 *
 * const server = await startVaultDevServer();
 * const client = vault({ endpoint: server.addr, token: server.token });
 * await client.write('transit/keys/orders', { type: 'aes256-gcm96' });
 * const { data } = await client.write('transit/datakey/plaintext/orders', {});
 * console.log(data.ciphertext); // vault:v1:...
 * await server.stop();
 * ```
 */
export async function startVaultDevServer(options: StartVaultDevServerOptions = {}): Promise<TestVault> {
  refuseInProduction('startVaultDevServer');
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackIPv4(host)) {
    throw new TestkitError(
      'ERR_TESTKIT_NOT_LOOPBACK',
      'startVaultDevServer() binds only to an IPv4 address in 127.0.0.0/8: the dev server has a throw-away root token and must never be reachable from another machine. Pass host: "127.0.0.1".',
    );
  }
  const maxRequestBytes = options.maxRequestBytes ?? 32 * 1024 * 1024;
  const jsonLimits = {
    maxDepth: options.maxJsonDepth ?? VAULT_MAX_JSON_DEPTH,
    maxStringValueLength: options.maxJsonStringValueLength ?? VAULT_MAX_JSON_STRING_VALUE_LENGTH,
  };
  const badLimits = [
    ['maxJsonDepth', jsonLimits.maxDepth],
    ['maxJsonStringValueLength', jsonLimits.maxStringValueLength],
  ].filter(([, value]) => !Number.isSafeInteger(value) || (value as number) < 1);
  if (badLimits.length > 0) {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      `startVaultDevServer(): ${badLimits.map(([name]) => `${name} must be an integer ≥ 1`).join('; ')}.`,
    );
  }
  const now = options.now ?? Date.now;
  const defaults = { transitMounts: options.transitMounts ?? ['transit'], kvMounts: options.kvMounts ?? ['secret'] };
  const token = rootToken();
  // Compared as fixed-length digests so the comparison takes the same time whatever the prefix
  // a guess shares with the token, and whatever its length.
  const tokenDigest = sha256(token);
  const startedAt = now();
  const identity: ServerIdentity = {
    version: '1.21.0+rampart-dev',
    clusterName: `vault-cluster-${randomBytes(4).toString('hex')}`,
    clusterId: randomUUID(),
  };
  const namespaces = new Map<string, MountTable>();
  const recorded: VaultDevRequest[] = [];
  const faults: { fault: VaultDevFault; remaining: number; pathPrefix: string }[] = [];
  // Requests waiting out a `delayMs` fault: suspend() and stop() clear their timers and drop them,
  // so none is served after its connection was cut and no timer keeps the process alive.
  const delayed = new Map<NodeJS.Timeout, () => void>();
  let sealed = false;
  let stopped = false;
  // False while suspended or stopped (and until the first listen).
  let listening = false;

  const mountsOf = (namespace: string): MountTable => {
    let table = namespaces.get(namespace);
    if (!table) {
      table = new MountTable(defaults, now);
      namespaces.set(namespace, table);
    }
    return table;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = headerValue(req, ORIGINAL_METHOD_HEADER) === 'LIST' ? 'LIST' : (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.startsWith('/v1/') ? url.pathname.slice(4).replace(/\/+$/, '') : undefined;
    const namespace = headerValue(req, 'x-vault-namespace').replace(/^\/+|\/+$/g, '');
    let batchSize: number | undefined;
    const send = (requested: number, body: unknown): void => {
      // writeHead() throws for a status outside 100-999, which would leave the request unanswered.
      const status = Number.isInteger(requested) && requested >= 100 && requested <= 599 ? requested : 500;
      recorded.push({ method, path: path ?? url.pathname, namespace, batchSize, status });
      // 1xx, 204 and 304 carry no body (a 204 from partial_failure_response_code, say): Node drops
      // the body but would still announce its Content-Length. Vault (Go) sends neither.
      const bodiless = status < 200 || status === 204 || status === 304;
      const payload = body === undefined || bodiless ? '' : stringifyJson(body);
      res.writeHead(status, {
        'Cache-Control': 'no-store',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(bodiless ? {} : { 'Content-Length': Buffer.byteLength(payload) }),
      });
      res.end(method === 'HEAD' || bodiless ? undefined : payload);
    };
    try {
      // The whole body is read before any answer, so a connection is always at a request boundary
      // when the next request arrives (the LIST proxy relies on it).
      const body = await readBody(req, maxRequestBytes);
      if (stopped) {
        req.socket.destroy();
        return;
      }
      const fault = takeFault(faults, path ?? '');
      const drop = (): void => {
        recorded.push({ method, path: path ?? url.pathname, namespace, batchSize, status: 0 });
        req.socket.destroy();
      };
      if (fault && 'reset' in fault) {
        drop();
        return;
      }
      if (fault && 'delayMs' in fault) {
        // Its body arrived just as suspend() cut the connections: nothing would clear this delay.
        if (!listening) {
          drop();
          return;
        }
        const served = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            delayed.delete(timer);
            resolve(true);
          }, fault.delayMs);
          delayed.set(timer, () => resolve(false));
        });
        if (!served) {
          drop();
          return;
        }
      }
      if (fault && 'status' in fault) throw new VaultHttpError(fault.status, fault.errors ?? []);
      // Vault's wrapJSONLimitsHandler scans every body before routing, the token check and sys/health,
      // and answers what jsonutil.VerifyMaxDepthStreaming returns with 500 (respondError).
      const text = body.length > 0 ? body.toString('utf8') : undefined;
      const overLimit = text === undefined ? undefined : jsonLimitsProblem(text, jsonLimits);
      if (overLimit !== undefined) throw new VaultHttpError(500, [overLimit]);
      if (path === undefined) throw new VaultHttpError(404, []);
      const query: Record<string, string> = Object.fromEntries(url.searchParams);
      if (path === 'sys/health' && (method === 'GET' || method === 'HEAD')) {
        const answer = health(identity, sealed, query);
        send(answer.status, answer.body);
        return;
      }
      if (path === 'sys/seal-status' && method === 'GET') {
        send(200, sealStatus(identity, sealed));
        return;
      }
      if (sealed) throw new VaultHttpError(503, ['Vault is sealed']);
      const presented = headerValue(req, 'x-vault-token') || bearer(headerValue(req, 'authorization'));
      if (!timingSafeEqual(sha256(presented), tokenDigest)) throw new VaultHttpError(403, ['permission denied']);
      const operation = operationOf(method, query);
      const mounts = mountsOf(namespace);
      const data: Fields =
        operation === 'read' || operation === 'list'
          ? query
          : parseJson(text, operation === 'update' && readsNumberLiterals(mounts.route(path)), jsonLimits.maxDepth);
      if (Array.isArray(data.batch_input)) batchSize = data.batch_input.length;
      const sys = sysRoute(operation, path, data, mounts, token, startedAt);
      const routed = sys ? undefined : mounts.route(path);
      if (!sys && !routed) throw noHandler(path);
      const answer = sys ?? routed?.engine.handle({ operation, path: routed.rest, data } satisfies EngineRequest);
      if (!answer) throw noHandler(path);
      if (answer.data === undefined) {
        send(answer.status === 200 ? 204 : answer.status, undefined);
        return;
      }
      const warnings = 'warnings' in answer && answer.warnings && answer.warnings.length > 0 ? answer.warnings : null;
      send(answer.status, {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: answer.data,
        wrap_info: null,
        warnings,
        auth: null,
        mount_type: routed?.engine.type ?? 'system',
      });
    } catch (error) {
      if (error instanceof VaultHttpError) {
        send(error.status, error.body ?? { errors: error.errors });
      } else {
        send(500, { errors: ['1 error occurred:\n\t* internal error\n\n'] });
      }
    }
  };

  // Node emits every request pipelined on a keep-alive connection at once; Vault (Go's net/http)
  // serves one request of a connection after the other. Chaining the handlers per socket keeps a
  // pipelined `POST transit/encrypt/k` ahead of the `GET transit/keys/k` behind it, and the
  // answers in order.
  const inFlight = new WeakMap<Socket, Promise<void>>();
  const http = createServer((req, res) => {
    const previous = inFlight.get(req.socket) ?? Promise.resolve();
    const next = previous
      .then(() => handle(req, res))
      .catch(() => {
        // handle() answers every error itself; a throw here means the socket is already gone.
      });
    inFlight.set(req.socket, next);
  });
  http.keepAliveTimeout = 1_000;
  // Slow clients: closer to Vault's listener defaults than Node's (60 s headers, 300 s request).
  http.headersTimeout = 10_000;
  http.requestTimeout = 30_000;
  await listen(http, '127.0.0.1', 0);
  const httpAddress = http.address();
  const proxy = createListMethodProxy(typeof httpAddress === 'object' && httpAddress ? httpAddress.port : 0);
  let port = options.port ?? 0;
  try {
    await listen(proxy.server, host, port);
  } catch (error) {
    await closeHttp(http);
    throw error;
  }
  const address = proxy.server.address();
  port = typeof address === 'object' && address !== null ? address.port : port;
  listening = true;

  const close = async (): Promise<void> => {
    // A request still waiting out a `delayMs` fault belongs to a connection that is going away: drop
    // it (recorded with status 0) instead of serving it later, after its client saw a reset.
    for (const [timer, dropRequest] of delayed) {
      clearTimeout(timer);
      dropRequest();
    }
    delayed.clear();
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    for (const socket of proxy.sockets) socket.destroy();
    proxy.sockets.clear();
    http.closeAllConnections();
    await closed;
  };

  const refuseAfterStop = (what: string): void => {
    if (stopped) {
      throw new TestkitError(
        'ERR_TESTKIT_STOPPED',
        `${what}() was called after stop(): a stopped Vault dev server is gone for good. Use suspend() and resume() for an outage, or start a new server.`,
      );
    }
  };

  return {
    addr: `http://${host}:${port}`,
    token,
    requests: () => [...recorded],
    clearRequests: () => {
      recorded.length = 0;
    },
    injectFault(fault, faultOptions = {}) {
      refuseAfterStop('injectFault');
      const times = faultOptions.times ?? 1;
      const problems = faultProblems(fault, times);
      if (problems.length > 0) {
        throw new TestkitError('ERR_TESTKIT_INVALID_OPTION', `injectFault(): ${problems.join('; ')}.`);
      }
      faults.push({ fault, remaining: times, pathPrefix: faultOptions.pathPrefix ?? '' });
    },
    seal() {
      sealed = true;
    },
    unseal() {
      sealed = false;
    },
    async suspend() {
      refuseAfterStop('suspend');
      await close();
    },
    async resume() {
      refuseAfterStop('resume');
      if (listening) return;
      await listen(proxy.server, host, port);
      listening = true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await close();
      await closeHttp(http);
      namespaces.clear();
    },
  };
}

async function closeHttp(http: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeAllConnections();
  await closed;
}

function listen(server: Server | NetServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** What is wrong with a fault and its `times`, each problem in words; empty when it is valid. */
function faultProblems(fault: VaultDevFault, times: number): string[] {
  const problems: string[] = [];
  if ('status' in fault && !(Number.isInteger(fault.status) && fault.status >= 100 && fault.status <= 599)) {
    problems.push('status must be an integer HTTP status from 100 to 599');
  }
  if ('delayMs' in fault && !(Number.isInteger(fault.delayMs) && fault.delayMs >= 0)) {
    problems.push('delayMs must be a non-negative integer number of milliseconds');
  }
  if (!(Number.isInteger(times) && times >= 1)) problems.push('times must be an integer of at least 1');
  return problems;
}

function takeFault(
  faults: { fault: VaultDevFault; remaining: number; pathPrefix: string }[],
  path: string,
): VaultDevFault | undefined {
  const index = faults.findIndex((f) => path.startsWith(f.pathPrefix));
  const entry = faults[index];
  if (!entry) return undefined;
  entry.remaining -= 1;
  if (entry.remaining <= 0) faults.splice(index, 1);
  return entry.fault;
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}

/** Vault (getTokenFromReq) reads a token only after the exact, case-sensitive prefix `Bearer `. */
function bearer(authorization: string): string {
  return authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : '';
}

function operationOf(method: string, query: Readonly<Record<string, string>>): EngineRequest['operation'] {
  switch (method) {
    case 'GET':
      return query.list === 'true' || query.list === '1' ? 'list' : 'read';
    case 'LIST':
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    default:
      throw new VaultHttpError(405, ['unsupported operation']);
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Vault's JSON decoder meets the limit reader's error and answers it as a parse error, with 413.
    if (size > limit) throw new VaultHttpError(413, [JSON_PARSE_ERROR]);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** What Vault answers (400) for a body it cannot decode into a JSON object. */
const JSON_PARSE_ERROR = 'error parsing JSON';

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Whether the handler of a write reads numbers as written (transit encrypt, decrypt and rewrap; see
 * request-json.ts). Every other body, KV secrets included, parses with plain JSON.parse.
 */
function readsNumberLiterals(routed: { engine: { type: string }; rest: string } | undefined): boolean {
  return routed?.engine.type === 'transit' && /^(?:encrypt|decrypt|rewrap)\//.test(routed.rest);
}

/**
 * The fields of a request body (`text`, already through the JSON limits scan with `maxDepth`), or
 * Vault's 400 `error parsing JSON`.
 */
function parseJson(text: string | undefined, keepNumberLiterals: boolean, maxDepth: number): Fields {
  if (text === undefined) return {};
  let parsed: unknown;
  // Go's decoder refuses more than 10,000 levels, reachable only with a maxJsonDepth above it (the
  // limits scan refused deeper bodies otherwise); refusing them here also keeps every reader of the
  // body within what it handles.
  if (maxDepth > MAX_JSON_NESTING && nestsTooDeep(text, MAX_JSON_NESTING)) throw userError(JSON_PARSE_ERROR);
  try {
    parsed = parseRequestJson(text, { keepNumberLiterals });
  } catch {
    // Vault's own wording, and fixed: the parser's message quotes the body, which holds
    // plaintexts, keys and tokens.
    throw userError(JSON_PARSE_ERROR);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw userError(JSON_PARSE_ERROR);
  return parsed as Fields;
}
