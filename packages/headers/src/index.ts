export {
  type CrossSiteDecision,
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  crossSiteProtection,
  isProductionEnvironment,
} from './cross-site.ts';
export {
  ContentSecurityPolicy,
  type CspDirectiveName,
  type CspDirectives,
  type CspOptions,
  type CspSource,
  csp,
  NONCE,
} from './csp.ts';
export { HeadersError, type HeadersErrorCode } from './errors.ts';
export { generateNonce, getNonce, NONCE_BYTES } from './nonce.ts';
export {
  type HeaderInput,
  type HeaderScore,
  type ScoreOptions,
  type ScoreTest,
  scoreHeaders,
} from './observatory.ts';
export {
  apiPreset,
  DEFAULT_PERMISSIONS,
  type PermissionAllowlist,
  type PresetOptions,
  type PrivateReferrerPolicy,
  webAppPreset,
} from './presets.ts';
export { type HeaderEntry, type ResponseContext, SecurityHeaders } from './security-headers.ts';
