export { type AuditEntry, auditConfig, fingerprintSecret, MIN_FINGERPRINT_KEY_BYTES } from './audit.ts';
export { environmentOf, type Overrides, type Provenance, provenanceOf, withOverrides } from './config-object.ts';
export { generateDevProfile, generateDevSecret, parseDevProfile } from './dev-profile.ts';
export { parseDuration } from './duration.ts';
export {
  DEFAULT_ENVIRONMENT_VARIABLES,
  type EnvironmentInfo,
  type Profile,
  resolveEnvironment,
} from './environment.ts';
export { ConfigError, type ConfigErrorCode, type ConfigIssue, type ConfigIssueCode } from './errors.ts';
export { KNOWN_DEMO_SECRETS, type KnownDemoSecret } from './known-demo-secrets.ts';
export { type ConfigReport, checkConfig, type LoadOptions, loadConfig, loadConfigSync } from './load.ts';
export {
  boolean,
  type DeepReadonly,
  type DurationOptions,
  duration,
  type InferConfig,
  type InferValue,
  type JsonOptions,
  json,
  type ListOptions,
  list,
  type NumberOptions,
  number,
  oneOf,
  type Parsed,
  port,
  type Schema,
  type SecretOptions,
  type SecretSpecOptions,
  type SourceKind,
  type Spec,
  type SpecLike,
  type StringOptions,
  secret,
  string,
  type UrlOptions,
  url,
} from './schema.ts';
export { Secret } from './secret.ts';
export type { ProvenanceSource } from './sources.ts';
export { isStandardSchema, type StandardSchemaV1 } from './standard-schema.ts';
export { parseVaultRef, VAULT_PREFIX, type VaultReader, type VaultRef } from './vault.ts';
export {
  type AssessSecretOptions,
  assessSecret,
  DEV_SECRET_PREFIX,
  minimumSecretBytes,
  type SecretEncoding,
  type SecretKind,
  type WeakSecretRule,
} from './weak-secret.ts';
