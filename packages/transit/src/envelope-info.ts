import { anyKey, isStream, isTenantBound, parseHead } from './envelope.ts';
import type { Transit } from './transit.ts';

/** What {@link Transit.inspect} tells about an envelope without decrypting it. */
export interface EnvelopeInfo {
  readonly mount: string;
  readonly key: string;
  readonly keyVersion: number;
  readonly tenantBound: boolean;
  readonly stream: boolean;
  /**
   * Envelope format: 1 for records and for streams written before format 2 (those cannot be
   * rewrapped: re-encrypt them), 2 for streams written now.
   */
  readonly formatVersion: 1 | 2;
}

/** Reads an envelope's header into an {@link EnvelopeInfo}; throws on bytes that are not an envelope. */
export function envelopeInfo(envelope: Uint8Array): EnvelopeInfo {
  const head = parseHead(envelope, anyKey);
  return {
    mount: head.mount,
    key: head.key,
    keyVersion: head.keyVersion,
    tenantBound: isTenantBound(head.alg),
    stream: isStream(head.alg),
    formatVersion: head.version,
  };
}
