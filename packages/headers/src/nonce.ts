import { randomFillSync } from 'node:crypto';

/**
 * Bytes of entropy in every nonce: 128 bits, the CSP3 minimum recommendation.
 *
 * @example
 * ```ts
 * import { NONCE_BYTES } from '@rampart/headers';
 * console.log(NONCE_BYTES * 8); // 128
 * ```
 */
export const NONCE_BYTES = 16;

// Filling one buffer for 256 nonces amortises the syscall; every nonce is still 16 fresh bytes
// from the CSPRNG and no byte is ever handed out twice.
const POOL_NONCES = 256;
const pool = Buffer.allocUnsafe(NONCE_BYTES * POOL_NONCES);
let next = POOL_NONCES;

/**
 * A fresh base64 nonce of 128 bits from the operating system's CSPRNG.
 *
 * @example
 * ```ts
 * import { generateNonce } from '@rampart/headers';
 * const nonce = generateNonce(); // 24 base64 characters
 * ```
 */
export function generateNonce(): string {
  if (next === POOL_NONCES) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next * NONCE_BYTES;
  next += 1;
  const value = pool.toString('base64', start, start + NONCE_BYTES);
  // Never reuse a nonce's bytes, even if a later refill were skipped by a bug.
  pool.fill(0, start, start + NONCE_BYTES);
  return value;
}

const NONCE_KEY: unique symbol = Symbol.for('@rampart/headers.nonce');

interface NonceCarrier {
  [NONCE_KEY]?: string;
}

/** Stores a request's nonce where {@link getNonce} finds it. */
export function attachNonce(target: object, nonce: string): void {
  (target as NonceCarrier)[NONCE_KEY] = nonce;
}

/**
 * The CSP nonce of the current request, for templates: pass the framework's request object
 * (Express/node `req`, Fastify `request`, Hono `c`). Returns `undefined` when no rampart
 * middleware ran for this request or its policy uses no nonce.
 *
 * @example
 * ```ts
 * import { getNonce } from '@rampart/headers';
 * app.get('/', (req, res) => {
 *   res.send(`<script nonce="${getNonce(req)}">boot()</script>`);
 * });
 * ```
 */
export function getNonce(request: object): string | undefined {
  const direct = (request as NonceCarrier)[NONCE_KEY];
  if (direct !== undefined) return direct;
  // Fastify's request and Hono's context wrap the node request; look one level down.
  const raw = (request as { raw?: unknown }).raw;
  if (raw !== null && typeof raw === 'object') return (raw as NonceCarrier)[NONCE_KEY];
  return undefined;
}
