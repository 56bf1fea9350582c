import { startVaultDevServer, type TestVault } from '@rampart/testkit';
import vault from 'node-vault';
import { createTransit, type Transit, type TransitOptions } from '../src/index.ts';

export interface Fixture {
  readonly server: TestVault;
  readonly client: ReturnType<typeof vault>;
  /** Creates a fresh transit key and returns its name. */
  newKey(params?: Record<string, unknown>): Promise<string>;
  /** A Transit on `key` with fast retries; extra options override. */
  transit(key: string, options?: Partial<TransitOptions>): Transit;
  /** Requests to `path` prefix since the last `server.clearRequests()`. */
  calls(prefix: string): number;
  stop(): Promise<void>;
}

let counter = 0;

export async function startFixture(): Promise<Fixture> {
  const server = await startVaultDevServer();
  const client = vault({ endpoint: server.addr, token: server.token });
  return {
    server,
    client,
    async newKey(params = {}) {
      counter += 1;
      const name = `k${counter}`;
      await client.write(`transit/keys/${name}`, params);
      return name;
    },
    transit(key, options = {}) {
      return createTransit({
        vault: client,
        key,
        cache: { maxAgeMs: 60_000 },
        retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
        ...options,
      });
    },
    calls(prefix) {
      return server.requests().filter((r) => r.path.startsWith(prefix)).length;
    },
    stop: () => server.stop(),
  };
}
