export { type BearerResponse, buildChallenge, type ChallengeOptions, toBearerResponse } from './challenge.ts';
export { type ClaimCheck, claimEquals, claimIncludes } from './claim-checks.ts';
export { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './compact-jws.ts';
export { accessTokenHash, jwkThumbprint } from './dpop.ts';
export { type DpopNonceSource, type HmacDpopNonceOptions, hmacDpopNonces } from './dpop-nonce.ts';
export type { DpopOptions } from './dpop-options.ts';
export { type DpopKeyPair, type DpopProofRequest, type DpopProofSigner, dpopProofSigner } from './dpop-proof.ts';
export { BearerError, type BearerErrorCode } from './errors.ts';
export type { IntrospectionOptions, JwtIntrospectionResponseOptions } from './introspection-options.ts';
export {
  type KeyResolver,
  type KeySource,
  type KeySourceEvent,
  type RemoteJwksOptions,
  remoteJwks,
  staticJwks,
} from './key-source.ts';
export type { MtlsOptions, TrustedCertificateHeader } from './mtls.ts';
export { type MemoryReplayStoreOptions, memoryReplayStore, type ReplayStore } from './replay-store.ts';
export {
  type AcceptedSchemes,
  type BearerRequestLike,
  bodyTokensOf,
  type ExtractedToken,
  extractAccessToken,
  extractBearerToken,
  fromNodeRequest,
  fromWebRequest,
  type TokenScheme,
  type TokenSourceOptions,
} from './request.ts';
export {
  type BearerMethod,
  type MetadataResponse,
  metadataResponse,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
} from './resource-metadata.ts';
export type { RouteRequirement } from './route-requirement.ts';
export {
  DEFAULT_SCOPE_CLAIMS,
  type ScopeClaim,
  type ScopeRequirement,
} from './scopes.ts';
export type { JsonObject, JsonValue } from './strict-json.ts';
export {
  type ClientAuthentication,
  createTokenProvider,
  type TokenProvider,
  type TokenProviderOptions,
  type TokenRequest,
} from './token-provider.ts';
export type { VerifiedTokenCacheOptions } from './verified-token-cache.ts';
export { type BearerVerifier, createBearerVerifier, type VerifiedToken } from './verifier.ts';
export type {
  BearerDecision,
  BearerVerifierOptions,
  CommonVerifierOptions,
  IssuerOptions,
  RevocationQuery,
  TokenBinding,
  VerificationContext,
  VerificationStep,
} from './verifier-options.ts';
