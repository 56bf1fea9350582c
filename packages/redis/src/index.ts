// Replay guards, single-use stores, shared caches and their audit registry (issue 6).
export {
  type AuditedStore,
  type CacheAuditRow,
  type CacheClass,
  CacheRegistry,
  cacheRegistry,
} from './cache-registry.ts';
export { RateLimitError, type RateLimitErrorCode, RedisStoreError, type RedisStoreErrorCode } from './errors.ts';
export { clientSubject, type IpSubjectOptions, ipSubject } from './http/client-key.ts';
export {
  createHttpRateLimit,
  type HttpOutcome,
  type HttpRateLimitBody,
  type HttpRateLimitOptions,
  type HttpRequestView,
} from './http/http-rate-limit.ts';
export { rateLimitHeader, rateLimitPolicyHeader } from './http/ratelimit-headers.ts';
export { BlockedSubjects } from './rate-limit/blocked-subjects.ts';
export type { DecisionSource, Lease, LimitStatus, RateLimitDecision } from './rate-limit/decision.ts';
export type {
  ConcurrencyLimit,
  FixedWindowLimit,
  GcraLimit,
  LimitAlgorithm,
  LimitDefinition,
  ResolvedLimit,
  SlidingWindowLimit,
  TokenBucketLimit,
} from './rate-limit/limits.ts';
export { createRateLimiter, type RateLimiter } from './rate-limit/rate-limiter.ts';
export type { RateLimiterOptions } from './rate-limit/rate-limiter-options.ts';
export {
  RedisCallGuard,
  type RedisCallGuardOptions,
  type RedisDownPolicy,
  type ResolvedRedisDownPolicy,
} from './redis-down-policy.ts';
export type { ReplayAttempt } from './replay-attempt.ts';
export { ReplayGuard, type ReplayGuardOptions } from './replay-guard.ts';
export { defineScript, loadScripts, type RedisClient, type RedisScript, runScript } from './scripts.ts';
export { SharedCache } from './shared-cache/shared-cache.ts';
export type { CacheSerializer, CacheWriteOptions, SharedCacheOptions } from './shared-cache/shared-cache-options.ts';
export { shouldRefreshEarly } from './shared-cache/xfetch.ts';
export {
  type ConsumedItem,
  type SingleUseSerializer,
  SingleUseStore,
  type SingleUseStoreOptions,
} from './single-use-store.ts';
