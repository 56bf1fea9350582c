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
export { createRedactor } from './redactor.ts';
export {
  boolean,
  type DurationOptions,
  duration,
  type NumberOptions,
  number,
  oneOf,
  port,
  type StringOptions,
  string,
  type UrlOptions,
  url,
} from './scalars.ts';
export { Secret } from './secret.ts';
export { type SecretOptions, secret } from './secret-spec.ts';
export type { ProvenanceSource } from './sources.ts';
export type {
  DeepReadonly,
  InferConfig,
  InferValue,
  Parsed,
  Schema,
  SecretSpecOptions,
  SourceKind,
  Spec,
  SpecLike,
} from './spec.ts';
export { isStandardSchema, type StandardSchemaV1 } from './standard-schema.ts';
export { type JsonOptions, json, type ListOptions, list } from './structured.ts';
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
