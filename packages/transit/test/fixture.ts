import { startVaultDevServer, type TestVault } from '@rampart/testkit';
import vault from 'node-vault';
import { afterEach } from 'vitest';
import { createTransit, type Transit, type TransitOptions, type VaultClient } from '../src/index.ts';

export interface Fixture {
  readonly server: TestVault;
  readonly client: ReturnType<typeof vault>;
  /** Creates a fresh transit key and returns its name. */
  newKey(params?: Record<string, unknown>): Promise<string>;
  /** A Transit on `key` with fast retries; extra options override. */
  transit(key: string, options?: Partial<TransitOptions>): Transit;
  /** Requests to `path` prefix since the last `server.clearRequests()`. */
  calls(prefix: string): number;
  /** The fixture's real client, watched: see {@link WatchedClient}. */
  watchedClient(): WatchedClient;
  stop(): Promise<void>;
}

/** A Vault client that records the path of every write it starts and counts the writes open. */
export interface WatchedClient extends VaultClient {
  /** Paths of the writes started, in order. */
  readonly writes: string[];
  /** Writes open now. */
  readonly open: number;
  /** Most writes open at once. */
  readonly maxOpen: number;
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
    watchedClient() {
      const writes: string[] = [];
      let open = 0;
      let maxOpen = 0;
      return {
        writes,
        get open() {
          return open;
        },
        get maxOpen() {
          return maxOpen;
        },
        read: (path: string, options?: Record<string, unknown>) => client.read(path, options),
        async write(path: string, data: unknown, options?: Record<string, unknown>) {
          writes.push(path);
          open += 1;
          maxOpen = Math.max(maxOpen, open);
          try {
            return await client.write(path, data, options);
          } finally {
            open -= 1;
          }
        },
      };
    },
    stop: () => server.stop(),
  };
}

/**
 * Transits a test opens, closed after it (the `afterEach` is registered here, once per test file):
 * a test that failed or timed out with calls still pending makes no Vault call after it.
 * `open(key, options)` is `fixture().transit(key, options)`; `tracked(transit)` adds one made otherwise.
 */
export function closedAfterEachTest(fixture: () => Fixture): {
  open(key: string, options?: Partial<TransitOptions>): Transit;
  tracked(transit: Transit): Transit;
} {
  const opened: Transit[] = [];
  afterEach(() => {
    for (const transit of opened.splice(0)) transit.close();
  });
  const tracked = (transit: Transit): Transit => {
    opened.push(transit);
    return transit;
  };
  return { open: (key, options) => tracked(fixture().transit(key, options)), tracked };
}
