import { createHmac, KeyObject, timingSafeEqual } from 'node:crypto';
import { BearerError } from './errors.ts';

/** Issues and checks server nonces for DPoP proofs (RFC 9449 §8/§9). */
export interface DpopNonceSource {
  /** The nonce to hand out now (`DPoP-Nonce` header). */
  issue(nowMs: number): string;
  /** Whether a proof's `nonce` is one this source issued and still accepts. */
  check(nonce: string, nowMs: number): boolean;
}

/** Options of {@link hmacDpopNonces}. */
export interface HmacDpopNonceOptions {
  /**
   * At least 32 random bytes shared by every pod (from your secret store, never a literal).
   * A secret `KeyObject` or bytes.
   */
  readonly secret: KeyObject | Uint8Array;
  /** How long a nonce stays valid, in seconds: between half of this and all of it. Default 300. */
  readonly lifetimeSeconds?: number;
}

const STEP_BYTES = 6;
const MAC_BYTES = 16;

/**
 * Stateless DPoP nonces every pod agrees on without shared state: a time step and an HMAC of it
 * under a shared secret. A new nonce is issued every `lifetimeSeconds / 2`; the current and the
 * previous one are accepted.
 *
 * @example
 * ```ts
 * import { hmacDpopNonces } from '@rampart/bearer';
 * const nonces = hmacDpopNonces({ secret: await config.secretBytes('DPOP_NONCE_KEY') });
 * ```
 */
export function hmacDpopNonces(options: HmacDpopNonceOptions): DpopNonceSource {
  const problems: string[] = [];
  let secret: Uint8Array | undefined;
  if (options?.secret instanceof KeyObject) {
    if (options.secret.type !== 'secret') problems.push('secret must be a secret KeyObject or bytes');
    else secret = options.secret.export();
  } else if (options?.secret instanceof Uint8Array) {
    secret = Uint8Array.from(options.secret);
  } else {
    problems.push('secret is required (a secret KeyObject or bytes)');
  }
  if (secret !== undefined && secret.length < 32) problems.push('secret must be at least 32 bytes');
  const lifetime = options?.lifetimeSeconds ?? 300;
  if (!Number.isFinite(lifetime) || lifetime < 10 || lifetime > 86_400) {
    problems.push('lifetimeSeconds must be between 10 and 86400');
  }
  if (problems.length > 0 || secret === undefined) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid hmacDpopNonces options: ${problems.join('; ')}.`);
  }
  const key = secret;
  const stepMs = (lifetime * 1000) / 2;
  const mac = (step: Buffer): Buffer => createHmac('sha256', key).update(step).digest().subarray(0, MAC_BYTES);
  const stepBytes = (step: number): Buffer => {
    const bytes = Buffer.alloc(STEP_BYTES);
    bytes.writeUIntBE(step, 0, STEP_BYTES);
    return bytes;
  };
  return {
    issue(nowMs) {
      const step = stepBytes(Math.floor(nowMs / stepMs));
      return Buffer.concat([step, mac(step)]).toString('base64url');
    },
    check(nonce, nowMs) {
      if (typeof nonce !== 'string' || nonce.length !== 30 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
      const bytes = Buffer.from(nonce, 'base64url');
      if (bytes.length !== STEP_BYTES + MAC_BYTES) return false;
      const stepPart = bytes.subarray(0, STEP_BYTES);
      const current = Math.floor(nowMs / stepMs);
      const step = stepPart.readUIntBE(0, STEP_BYTES);
      if (step !== current && step !== current - 1) return false;
      return timingSafeEqual(mac(stepPart), bytes.subarray(STEP_BYTES));
    },
  };
}
