// The end-to-end test of the whole stack: `./run demo --once` starts Redis (or uses REDIS_URL), the
// Vault dev server, the auth hub, the issues API and the webhook receiver (the services as child
// processes in the production profile), runs every walkthrough step against them and stops them.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

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
