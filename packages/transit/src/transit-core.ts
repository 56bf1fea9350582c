import type { EncryptionContext } from './context.ts';
import type { DataKey } from './data-key.ts';
import type { EncryptEntry } from './dek-cache.ts';
import type { AlgId, EnvelopeHead } from './envelope.ts';
import type { VaultTransit } from './vault-transit.ts';

/** Internals shared with rotation and streaming. */
export interface TransitCore {
  readonly mount: string;
  readonly key: string;
  readonly vault: VaultTransit;
  readonly batchSize: number;
  readonly frameSize: number;
  /**
   * `cancelled`: checked when a data key Vault was asked for arrives; if it returns true, no
   * message is reserved on it and the call fails (a stream destroyed meanwhile).
   */
  reserve(
    context: EncryptionContext,
    bytes: number,
    stream: boolean,
    cancelled?: () => boolean,
  ): Promise<{ entry: EncryptEntry; counter: number; alg: AlgId }>;
  fixedHeader(alg: AlgId): Buffer;
  /** `head` must come from `parseHead(bytes, accepts)`: its mount and key are not checked again. */
  unwrap(head: EnvelopeHead, context: EncryptionContext | undefined): DataKey | Promise<DataKey>;
  transitContext(head: EnvelopeHead, context: EncryptionContext | undefined): string | undefined;
  /** Throws `ERR_TRANSIT_CLOSED` once the instance was closed: streams check it for every frame. */
  assertOpen(): void;
  /** Whether envelopes under `key` on `mount` are this instance's (its key or `acceptKeys`). */
  accepts(mount: string, key: string): boolean;
}
