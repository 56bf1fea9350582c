// The end-to-end test of the whole stack: `./run demo --once` starts Redis (or uses REDIS_URL), the
// Vault dev server, the auth hub, the issues API and the webhook receiver (the services as child
// processes in the production profile), runs every walkthrough step against them and stops them.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../packages/testkit/src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('./run demo --once', () => {
  it('walks through every step against the running stack and stops everything it started', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/demo.ts', '--once'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'development' },
      timeout: 120_000,
    });
    expect(stdout).not.toContain('✗');
    for (const step of [
      'typ at+jwt',
      'issues-reader asking for issues:write (not registered for it): 400 invalid_scope',
      'without a token: 401',
      '403, WWW-Authenticate: Bearer realm="issues", error="insufficient_scope"',
      'stored: <p>Login fails</p>',
      'reporter_email = ',
      ': 429; Retry-After: ',
      'RateLimit-Policy: "per-client";q=20;w=60',
      'the same delivery again: 409',
      'without a token: 404',
      'ConfigError ERR_CONFIG_INVALID: WEBHOOK_SENDER_CLIENT_SECRET (dev-marker)',
    ]) {
      expect(stdout).toContain(step);
    }
    expect(stdout).toContain('walkthrough complete; everything stopped (--once).');
  });
});

const listening = (url: string): Promise<boolean> =>
  new Promise((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * Starts `./run demo` (kept running), ends the launcher with `signal` once the walkthrough is done,
 * and waits until every server it started is gone and its temp dirs (TMPDIR is private) are removed.
 */
async function stopLauncherWith(signal: NodeJS.Signals): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'rampart-demo-test-'));
  try {
    const launcher = spawn(process.execPath, ['scripts/demo.ts'], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'development', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    launcher.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    await waitFor(() => stdout.includes('the stack keeps running'), { timeoutMs: 120_000, what: 'the walkthrough' });
    const urls = [...stdout.matchAll(/^(?:Hub|API|Webhook|Redis): +(\S+)/gm)].map((m) => m[1] as string);
    expect(urls).toHaveLength(4);
    expect(await readdir(tmp)).toContainEqual(expect.stringMatching(/^rampart-demo-/));
    launcher.kill(signal);
    await waitFor(
      async () => {
        for (const url of urls) if (await listening(url)) return false;
        return (await readdir(tmp)).length === 0;
      },
      { timeoutMs: 30_000, what: 'every server of the demo to stop and its temp dirs to go' },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

describe('./run demo (kept running)', () => {
  it('stops the walkthrough, Redis, the services and its temp dir on SIGHUP to the launcher', async () => {
    await stopLauncherWith('SIGHUP');
  });

  it('stops everything when the launcher is killed outright (SIGKILL)', async () => {
    await stopLauncherWith('SIGKILL');
  });
});
