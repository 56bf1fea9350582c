// Starts the whole stack on loopback for the demo and the end-to-end test: Redis (REDIS_URL if set),
// the Vault dev server, then the hub, the issues API and the webhook receiver as child processes in
// the production profile (their environment has no NODE_ENV/APP_ENV) with every secret generated
// now: the Vault token in a 0600 file of a fresh temp dir, everything else in Vault.
import { type ChildProcess, fork } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  getFreePort,
  startRedis,
  startVaultDevServer,
  type TestRedis,
  type TestVault,
} from '../../packages/testkit/src/index.ts';
// The test-kit's registry removes this directory however the process ends (exit, signal), not only in stop().
import { makeManagedTempDir, removeManagedTempDir } from '../../packages/testkit/src/process-registry.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface DemoClient {
  readonly id: string;
  readonly secret: string;
}

export interface Stack {
  readonly redis: TestRedis;
  readonly vault: TestVault;
  readonly dir: string;
  readonly hubUrl: string;
  readonly apiUrl: string;
  readonly webhookUrl: string;
  readonly databasePath: string;
  /** `operator` acts for no tenant (its tokens carry no `tenant` claim): the only one with metrics:read. */
  readonly clients: Readonly<Record<'admin' | 'reader' | 'burst' | 'sender' | 'operator', DemoClient>>;
  /** The environment of a process that would load the sender's configuration (secret as a Vault reference). */
  readonly senderEnv: Readonly<Record<string, string>>;
  readonly vaultTokenFile: string;
  readonly clientRateLimit: number;
  stop(): Promise<void>;
}

export type Progress = <T>(title: string, action: () => Promise<T>) => Promise<T>;

const strongSecret = (): string => randomBytes(32).toString('base64url');

async function vaultWrite(vault: TestVault, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${vault.addr}/v1/${path}`, {
    method: 'POST',
    headers: { 'x-vault-token': vault.token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`Vault write to ${path} answered ${response.status}`);
}

interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
}

function startService(name: string, entry: string, env: Record<string, string>): Promise<Service> {
  const child = fork(join(ROOT, entry), [], {
    execArgv: ['--conditions=@rampart/source', '--disable-warning=ExperimentalWarning'],
    // A process group of its own: the terminal's Ctrl-C reaches the walkthrough only, which stops
    // each service with one SIGTERM (a service that got the SIGINT too would take that SIGTERM as a
    // second signal and cut its running requests). When the walkthrough dies outright, the IPC
    // channel closes and the service stops on its own (example-service-runtime).
    detached: true,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not become ready within 60 s:\n${output.join('')}`));
    }, 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve({ name, child, output });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready:\n${output.join('')}`));
    });
  });
}

function stopService(service: Service): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // After the services' own 10 s shutdown deadline (example-service-runtime), never before it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Waits for every start; tracks each service that started, then rethrows the first failure. */
async function startAll(services: Service[], starts: readonly Promise<Service>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  for (const result of results) if (result.status === 'fulfilled') services.push(result.value);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

export async function startStack(progress: Progress): Promise<Stack> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  };
  try {
    const redis = await progress(
      process.env.REDIS_URL ? 'connect to Redis at REDIS_URL' : 'start a private redis-server on a free loopback port',
      () => startRedis(),
    );
    cleanups.push(() => redis.stop());
    const vault = await progress('start the Vault dev server (transit + KV v2, random root token)', () =>
      startVaultDevServer(),
    );
    cleanups.push(() => vault.stop());
    // Holds the Vault token (0600) and clients.json: /tmp/rampart-demo-*.
    const dir = await makeManagedTempDir('demo');
    cleanups.push(() => removeManagedTempDir(dir));

    const clientRateLimit = 20;
    const clients = {
      admin: { id: 'issues-admin', secret: strongSecret() },
      reader: { id: 'issues-reader', secret: strongSecret() },
      burst: { id: 'issues-burst', secret: strongSecret() },
      sender: { id: 'webhook-sender', secret: strongSecret() },
      operator: { id: 'issues-metrics', secret: strongSecret() },
    };
    const webClientSecret = strongSecret();
    const [hubPort, apiPort, webhookPort] = [await getFreePort(), await getFreePort(), await getFreePort()];
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const webhookUrl = `http://127.0.0.1:${webhookPort}`;
    const vaultTokenFile = join(dir, 'vault-token');
    const databasePath = join(dir, 'issues.sqlite');

    await progress('generate every secret into Vault (client secrets, signing key, transit key)', async () => {
      writeFileSync(vaultTokenFile, vault.token, { mode: 0o600 });
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await vaultWrite(vault, 'secret/data/rampart-demo/hub', {
        data: {
          signing_key: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64url'),
          cookie_key: strongSecret(),
        },
      });
      await vaultWrite(vault, 'secret/data/rampart-demo/clients', {
        data: {
          ...Object.fromEntries(Object.values(clients).map((c) => [c.id, c.secret])),
          'issues-web': webClientSecret,
        },
      });
      await vaultWrite(vault, 'transit/keys/issues-pii', { type: 'aes256-gcm96' });
    });

    // Registrations hold no secrets; a real deployment mounts this file from its config repository.
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(
      clientsFile,
      JSON.stringify([
        {
          client_id: clients.admin.id,
          grant_types: ['client_credentials'],
          scopes: ['issues:read', 'issues:write'],
          tenant: 'acme',
        },
        // /metrics counts every tenant: metrics:read only for an operator client, registered without a tenant.
        { client_id: clients.operator.id, grant_types: ['client_credentials'], scopes: ['metrics:read'] },
        { client_id: clients.reader.id, grant_types: ['client_credentials'], scopes: ['issues:read'], tenant: 'acme' },
        { client_id: clients.burst.id, grant_types: ['client_credentials'], scopes: ['issues:read'], tenant: 'acme' },
        {
          client_id: clients.sender.id,
          grant_types: ['client_credentials'],
          scopes: ['webhooks:deliver'],
          tenant: 'acme',
        },
        {
          client_id: 'issues-web',
          grant_types: ['authorization_code'],
          scopes: ['issues:read'],
          redirect_uris: ['https://issues.example.com/callback'],
          tenant: 'acme',
        },
      ]),
    );
    // Every service keeps its keys under the handle's prefix, unique to this run: on a shared
    // REDIS_URL, redis.stop() deletes exactly those (a private server goes away whole).
    const redisEnv = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix };
    const common = { ...redisEnv, VAULT_ADDR: vault.addr, VAULT_TOKEN_FILE: vaultTokenFile };
    const clientSecretRefs = Object.fromEntries(
      [...Object.values(clients).map((c) => c.id), 'issues-web'].map((id) => [
        `HUB_CLIENT_SECRET_${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`,
        `vault:secret/rampart-demo/clients#${id}`,
      ]),
    );
    const services: Service[] = [];
    cleanups.push(async () => {
      await Promise.all(services.map(stopService));
    });
    services.push(
      await progress(`start the auth hub on ${hubUrl} (oidc-provider, production profile)`, () =>
        startService('auth-hub', 'examples/auth-hub/src/main.ts', {
          ...common,
          HUB_ISSUER: hubUrl,
          HUB_PORT: String(hubPort),
          HUB_SIGNING_KEY: 'vault:secret/rampart-demo/hub#signing_key',
          HUB_COOKIE_KEY: 'vault:secret/rampart-demo/hub#cookie_key',
          HUB_CLIENTS_FILE: clientsFile,
          HUB_RESOURCES: JSON.stringify({
            [apiUrl]: { scopes: ['issues:read', 'issues:write', 'metrics:read'] },
            [webhookUrl]: { scopes: ['webhooks:deliver'] },
          }),
          ...clientSecretRefs,
        }),
      ),
    );
    const oauth = { OAUTH_ISSUER: hubUrl, OAUTH_JWKS_URI: `${hubUrl}/jwks` };
    await progress(
      `start the issues API on ${apiUrl} and the webhook receiver on ${webhookUrl}`,
      // allSettled, not all: when one fails to start, the other may still come up, and it must be
      // among `services` so that stop() (run by the catch below) stops it too.
      () =>
        startAll(services, [
          startService('issues-api', 'examples/issues-api/src/main.ts', {
            ...common,
            ...oauth,
            API_PORT: String(apiPort),
            API_AUDIENCE: apiUrl,
            DATABASE_PATH: databasePath,
            CLIENT_RATE_LIMIT: String(clientRateLimit),
          }),
          startService('webhook', 'examples/webhook/src/main.ts', {
            ...redisEnv,
            ...oauth,
            WEBHOOK_PORT: String(webhookPort),
            WEBHOOK_AUDIENCE: webhookUrl,
          }),
        ]),
    );
    return {
      redis,
      vault,
      dir,
      hubUrl,
      apiUrl,
      webhookUrl,
      databasePath,
      clients,
      clientRateLimit,
      vaultTokenFile,
      senderEnv: {
        VAULT_ADDR: vault.addr,
        OAUTH_TOKEN_ENDPOINT: `${hubUrl}/token`,
        WEBHOOK_SENDER_CLIENT_ID: clients.sender.id,
        WEBHOOK_SENDER_CLIENT_SECRET: `vault:secret/rampart-demo/clients#${clients.sender.id}`,
        WEBHOOK_URL: `${webhookUrl}/deliveries`,
        WEBHOOK_AUDIENCE: webhookUrl,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
