export { type EncryptionContext, encodeContext } from './context.ts';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES, type EncryptCacheLimits, MAX_MESSAGES_CAP } from './dek-cache.ts';
export { TransitError, type TransitErrorCode } from './errors.ts';
export type { MetricsHook, TransitMetric } from './metrics.ts';
export type { TransitOptions } from './options.ts';
export type { RewrapItem, RewrapResult, RotationReport } from './rotation.ts';
export type { DecryptStreamOptions } from './streaming.ts';
export { createTransit, type DecryptResult, type EnvelopeInfo, Transit } from './transit.ts';
export type { RetryOptions, TransitKeyInfo, VaultClient } from './vault-transit.ts';
