export {
  type StartVaultDevServerOptions,
  startVaultDevServer,
  type TestVault,
  type VaultDevFault,
  type VaultDevRequest,
} from './server.ts';
