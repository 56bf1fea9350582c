export { CHROMIUM_FLAGS, type LaunchChromiumOptions, launchChromium, type TestChromium } from './chromium.ts';
export { TestkitError, type TestkitErrorCode } from './errors.ts';
export { getFreePort } from './free-port.ts';
export { refuseInProduction } from './production-guard.ts';
export { REDIS_INSTALL_HINT, type StartRedisOptions, startRedis, type TestRedis } from './redis.ts';
export {
  type StartRedisClusterOptions,
  startRedisCluster,
  type TestRedisCluster,
  type TestRedisClusterNode,
} from './redis-cluster.ts';
export {
  type CreateTestIssuerOptions,
  createTestIssuer,
  type MintOptions,
  type TestIssuer,
  type TestIssuerAlgorithm,
} from './test-issuer.ts';
// Vault dev server (transit + KV v2), see src/vault-dev-server/.
export {
  type StartVaultDevServerOptions,
  startVaultDevServer,
  type TestVault,
  type VaultDevFault,
  type VaultDevRequest,
} from './vault-dev-server/index.ts';
export { waitFor } from './wait.ts';
