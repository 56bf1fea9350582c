import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { startVaultDevServer, type TestVault } from '@rampart/testkit';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli/run.ts';
import { ConfigError, loadConfig, provenanceOf, Secret, secret, string } from '../src/index.ts';

let server: TestVault;
let client: ReturnType<typeof vault>;
let dir: string;
const key = (bytes = 32): string => randomBytes(bytes).toString('base64url');

beforeAll(async () => {
  server = await startVaultDevServer();
  client = vault({ endpoint: server.addr, token: server.token });
  dir = mkdtempSync(join(tmpdir(), 'rampart-config-vault-'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const schema = { REGION: string(), JWT_KEY: secret({ kind: 'jwt-hs256' }), DB_PASSWORD: secret({ kind: 'password' }) };

describe('loadConfig with the Vault dev server (KV v2)', () => {
  it('resolves vault: references written with node-vault before the app starts', async () => {
    const jwt = key();
    const db = key(18);
    await client.write('secret/data/billing', { data: { jwt_key: jwt, db_password: db } });
    const refFile = join(dir, 'db-ref');
    writeFileSync(refFile, 'vault:secret/billing#db_password\n');
    const config = await loadConfig(schema, {
      env: { REGION: 'eu', JWT_KEY: 'vault:secret/billing#jwt_key', DB_PASSWORD_FILE: refFile },
      vault: client,
    });
    expect(config.JWT_KEY).toBeInstanceOf(Secret);
    expect(config.JWT_KEY.reveal()).toBe(jwt);
    expect(config.DB_PASSWORD.reveal()).toBe(db);
    expect(provenanceOf(config).slice(1)).toEqual([
      { key: 'JWT_KEY', source: 'vault', detail: 'secret/billing#jwt_key', via: 'env', secret: true },
      { key: 'DB_PASSWORD', source: 'vault', detail: 'secret/billing#db_password', via: 'file', secret: true },
    ]);
    expect(inspect(config)).not.toContain(jwt);
  });

  it('reads a pinned version or the latest one', async () => {
    const v1 = key();
    const v2 = key();
    await client.write('secret/data/rotating', { data: { k: v1 } });
    await client.write('secret/data/rotating', { data: { k: v2 } });
    const config = await loadConfig(
      { OLD: secret(), NEW: secret() },
      { env: { OLD: 'vault:secret/rotating?version=1#k', NEW: 'vault:secret/rotating#k' }, vault: client },
    );
    expect(config.OLD.reveal()).toBe(v1);
    expect(config.NEW.reveal()).toBe(v2);
  });

  it('lists a missing path, a missing field, a weak value and a denied token together', async () => {
    await client.write('secret/data/weak', { data: { k: 'your-256-bit-secret', other: key() } });
    const error = await rejection(
      loadConfig(
        { A: secret(), B: secret(), C: secret() },
        { env: { A: 'vault:secret/nope#k', B: 'vault:secret/weak#missing', C: 'vault:secret/weak#k' }, vault: client },
      ),
    );
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['A', 'vault-not-found'],
      ['B', 'vault-field-missing'],
      ['C', 'weak-secret'],
    ]);
    const badToken = `hvs.${key(18)}`;
    const denied = await rejection(
      loadConfig(
        { A: secret() },
        { env: { A: 'vault:secret/weak#other' }, vault: vault({ endpoint: server.addr, token: badToken }) },
      ),
    );
    expect(denied.issues[0]?.code).toBe('vault-denied');
    // Vault answers 403 for a mount that does not exist too: the fix says to check the mount.
    expect(denied.message).toMatch(/check the mount and the path: Vault answers 403 .* whether or not it exists/);
    for (const output of [denied.message, JSON.stringify(denied), inspect(denied, { depth: 10, showHidden: true })]) {
      expect(output).not.toContain(badToken);
    }
  });

  it('fails start-up as retryable when Vault is down, sealed or too slow, and never hangs', async () => {
    await client.write('secret/data/app', { data: { k: key() } });
    const env = { K: 'vault:secret/app#k' };
    await server.suspend();
    try {
      const down = await rejection(loadConfig({ K: secret() }, { env, vault: client, vaultTimeoutMs: 5_000 }));
      expect(down).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE', retryable: true });
      expect(down.message).not.toContain(server.token);
      expect(inspect(down, { depth: 10, showHidden: true })).not.toContain(server.token);
    } finally {
      await server.resume();
    }
    server.seal();
    try {
      const sealed = await rejection(loadConfig({ K: secret() }, { env, vault: client }));
      expect(sealed).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE', retryable: true });
      expect(sealed.message).toContain('HTTP 503');
    } finally {
      server.unseal();
    }
    server.injectFault({ delayMs: 3_000 }, { pathPrefix: 'secret/data/app' });
    const slow = await rejection(loadConfig({ K: secret() }, { env, vault: client, vaultTimeoutMs: 200 }));
    expect(slow).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE', retryable: true });
    expect(slow.message).toMatch(/no answer within 200 ms/);
    // Once Vault is back, the same start-up succeeds.
    const config = await loadConfig({ K: secret() }, { env, vault: client });
    expect(config.K).toBeInstanceOf(Secret);
  });

  it('fails as non-retryable vault-rejected when Vault refuses the request itself (400, 405, other 4xx)', async () => {
    await client.write('secret/data/rejected', { data: { k: key() } });
    const env = { K: 'vault:secret/rejected#k' };
    // What Vault (400 invalid request, 405 unsupported operation) or a proxy in front of it (a bare
    // status) answers for a request it refuses as such; a missing path or mount is 404, never these.
    const answers: [number, string[]][] = [
      [400, ['invalid request']],
      [405, ['1 error occurred:\n\t* unsupported operation\n\n']],
      [409, []],
      [422, []],
    ];
    for (const [status, errors] of answers) {
      server.injectFault({ status, errors }, { times: 1 });
      const rejected = await rejection(loadConfig({ K: secret() }, { env, vault: client }));
      expect(rejected, `HTTP ${status}`).toMatchObject({ code: 'ERR_CONFIG_INVALID', retryable: false });
      expect(rejected.issues.map((i) => [i.key, i.code])).toEqual([['K', 'vault-rejected']]);
      expect(rejected.message).toContain(`HTTP ${status}`);
      expect(rejected.message).toMatch(/refused the request itself, so retrying will not help/);
      // The fix names what a persistent refusal means, not a KV v1 mount or an unrouted path (404).
      expect(rejected.message).not.toMatch(/KV version 1|not a secret/);
      // Vault answers 404, never 400, for any version a reference can hold: the fix points at what persists.
      expect(rejected.message).not.toMatch(/reference's version/);
      expect(rejected.message).toMatch(/fix the proxy or gateway in front of it/);
      expect(rejected.message).toMatch(/check that the mount is KV version 2/);
      expect(rejected.message).not.toMatch(/invalid request|unsupported operation/);
      expect(rejected.message).not.toContain(server.token);
    }
    // What the fix text relies on: a version Vault does not hold, up to the 9 digits a reference
    // takes, is 404 from real Vault, never 400.
    for (const version of ['2', '999999999']) {
      const missing = await rejection(
        loadConfig({ K: secret() }, { env: { K: `vault:secret/rejected?version=${version}#k` }, vault: client }),
      );
      expect(
        missing.issues.map((i) => i.code),
        `version ${version}`,
      ).toEqual(['vault-not-found']);
    }
  });

  it('keeps the 400 Vault answers while a KV mount is upgraded to version 2 retryable', async () => {
    await client.write('secret/data/upgrading', { data: { k: key() } });
    const env = { K: 'vault:secret/upgrading#k' };
    const upgrading = [
      'Upgrading from non-versioned to versioned data. This backend will be unavailable for a brief period and will resume service shortly.',
      // A performance secondary or standby while the primary upgrades.
      'Waiting for the primary to upgrade from non-versioned to versioned data. This backend will be unavailable for a brief period and will resume service shortly.',
      // Defensive: Vault writes the phrase on one line; a line break inside it (a proxy re-wrapping
      // the text, or a future multi-error format) still matches.
      '1 error occurred:\n\t* Upgrading from non-versioned to\nversioned data. This backend will be unavailable for a brief period\n\n',
    ];
    for (const text of upgrading) {
      server.injectFault({ status: 400, errors: [text] }, { times: 1 });
      const transient = await rejection(loadConfig({ K: secret() }, { env, vault: client }));
      expect(transient, text).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE', retryable: true });
      expect(transient.issues.map((i) => [i.key, i.code])).toEqual([['K', 'vault-unavailable']]);
      expect(transient.message).toContain('HTTP 400');
      expect(transient.message).toMatch(/being upgraded to KV version 2/);
      // Our words only: none of Vault's text is echoed.
      expect(transient.message).not.toMatch(/non-versioned|brief period|resume service/);
    }
    // Once the upgrade is over, the same start-up succeeds.
    expect((await loadConfig({ K: secret() }, { env, vault: client })).K).toBeInstanceOf(Secret);
  });

  it('reads only the first 16 entries of errors[] when looking for the KV upgrade text', async () => {
    await client.write('secret/data/many-errors', { data: { k: key() } });
    const env = { K: 'vault:secret/many-errors#k' };
    const upgrade = 'Upgrading from non-versioned to versioned data.';
    const filler = Array.from({ length: 16 }, (_, i) => `error ${i}`);
    // Past the cap, even the upgrade text is not read: the answer is what a 400 otherwise is.
    server.injectFault({ status: 400, errors: [...filler, upgrade] }, { times: 1 });
    const rejected = await rejection(loadConfig({ K: secret() }, { env, vault: client }));
    expect(rejected.issues.map((i) => [i.key, i.code])).toEqual([['K', 'vault-rejected']]);
    // Within it, it is.
    server.injectFault({ status: 400, errors: [...filler.slice(1), upgrade] }, { times: 1 });
    const transient = await rejection(loadConfig({ K: secret() }, { env, vault: client }));
    expect(transient.issues.map((i) => [i.key, i.code])).toEqual([['K', 'vault-unavailable']]);
  });

  it('keeps the transient statuses (408, 412, 425, 429, 472, 473, 5xx) retryable', async () => {
    await client.write('secret/data/transient', { data: { k: key() } });
    const env = { K: 'vault:secret/transient#k' };
    for (const status of [408, 412, 425, 429, 472, 473, 500, 502, 503]) {
      server.injectFault({ status }, { times: 1 });
      const transient = await rejection(loadConfig({ K: secret() }, { env, vault: client }));
      expect(transient, `HTTP ${status}`).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE', retryable: true });
      expect(transient.issues.map((i) => i.code)).toEqual(['vault-unavailable']);
    }
  });

  it('is not retryable when a rejected read comes with an unavailable one', async () => {
    server.injectFault({ status: 400 }, { pathPrefix: 'secret/data/mixed-bad' });
    server.injectFault({ status: 503 }, { pathPrefix: 'secret/data/mixed-down' });
    const error = await rejection(
      loadConfig(
        { A: secret(), B: secret() },
        { env: { A: 'vault:secret/mixed-bad#k', B: 'vault:secret/mixed-down#k' }, vault: client },
      ),
    );
    expect(error).toMatchObject({ code: 'ERR_CONFIG_INVALID', retryable: false });
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['A', 'vault-rejected'],
      ['B', 'vault-unavailable'],
    ]);
  });

  it('reads each secret path once however many keys refer to it', async () => {
    await client.write('secret/data/shared', { data: { a: key(), b: key(), c: key() } });
    server.clearRequests();
    await loadConfig(
      { A: secret(), B: secret(), C: secret() },
      { env: { A: 'vault:secret/shared#a', B: 'vault:secret/shared#b', C: 'vault:secret/shared#c' }, vault: client },
    );
    expect(server.requests().filter((r) => r.path === 'secret/data/shared')).toHaveLength(1);
  });

  it('lets `rampart-config check` resolve references through the schema module`s client', async () => {
    await client.write('secret/data/cli', { data: { jwt: key(), db: key(18) } });
    vi.stubEnv('VAULT_ADDR', server.addr);
    vi.stubEnv('VAULT_TOKEN', server.token);
    try {
      const out: string[] = [];
      const io = {
        stdout: (t: string) => void out.push(t),
        stderr: (t: string) => void out.push(t),
        env: { REGION: 'eu', JWT_KEY: 'vault:secret/cli#jwt', DB_PASSWORD: 'vault:secret/cli#db' },
        cwd: dir,
      };
      const code = await runCli(['check', '--schema', join(import.meta.dirname, 'fixtures', 'vault-schema.ts')], io);
      expect(out.join('')).toMatch(/check: OK/);
      expect(code).toBe(0);
      expect(out.join('')).toMatch(/JWT_KEY\s+vault\s+via env: secret\/cli#jwt/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

/**
 * A "Vault" that accepts connections and never finishes an answer: it stalls, or sends chunked
 * headers and then one chunk every 100 ms (so an idle timeout never fires either).
 */
async function startSlowVault(mode: 'stall' | 'trickle'): Promise<{
  addr: string;
  connections: { closed: boolean }[];
  stop: () => Promise<void>;
}> {
  const connections: { closed: boolean }[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const slow: Server = createServer((socket) => {
    const connection = { closed: false };
    connections.push(connection);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      connection.closed = true;
      sockets.delete(socket);
    });
    socket.resume(); // reads the request (and so sees the client's FIN)
    if (mode === 'trickle') {
      socket.once('data', () => {
        socket.write(
          'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n',
        );
        const timer = setInterval(() => socket.write('1\r\n \r\n'), 100);
        timers.add(timer);
        socket.once('close', () => clearInterval(timer));
      });
    }
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  const { port } = slow.address() as { port: number };
  return {
    addr: `http://127.0.0.1:${port}`,
    connections,
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    },
  };
}

/** Polls `condition` every 10 ms until it holds or `withinMs` have passed; returns whether it held. */
async function eventually(condition: () => boolean, withinMs: number): Promise<boolean> {
  const end = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe('vaultTimeoutMs against a Vault that never finishes answering', () => {
  for (const mode of ['stall', 'trickle'] as const) {
    it(`closes the connection of a read it gave up on (${mode})`, async () => {
      const slow = await startSlowVault(mode);
      try {
        const slowClient = vault({ endpoint: slow.addr, token: 'hvs.test' });
        for (let attempt = 0; attempt < 3; attempt++) {
          const error = await rejection(
            loadConfig({ K: secret() }, { env: { K: 'vault:secret/app#k' }, vault: slowClient, vaultTimeoutMs: 300 }),
          );
          expect(error).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE', retryable: true });
          expect(error.message).toMatch(/no answer within 300 ms/);
        }
        expect(slow.connections).toHaveLength(3);
        expect(await eventually(() => slow.connections.every((c) => c.closed), 1_000)).toBe(true);
      } finally {
        await slow.stop();
      }
    });
  }

  it('lets `rampart-config check` (checkConfig) exit on its own once the read is given up', async () => {
    const slow = await startSlowVault('trickle');
    try {
      const child = spawn(
        process.execPath,
        [
          join(import.meta.dirname, '..', 'src', 'cli', 'bin.ts'),
          'check',
          '--schema',
          join(import.meta.dirname, 'fixtures', 'slow-vault-schema.ts'),
        ],
        {
          env: {
            PATH: process.env.PATH,
            NODE_ENV: 'production',
            VAULT_ADDR: slow.addr,
            VAULT_TOKEN: 'hvs.test',
            JWT_KEY: 'vault:secret/app#jwt',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const killer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      try {
        // Killed (code null) when it does not exit by itself.
        expect(await exited).toBe(1);
      } finally {
        clearTimeout(killer);
      }
      expect(output).toMatch(/vault-unavailable|no answer within 500 ms/);
      expect(output).not.toContain('hvs.test');
    } finally {
      await slow.stop();
    }
  }, 15_000);
});
