import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('src/main.ts', () => {
  it('refuses to start in production with the Vault token as a plain variable, naming the key, never the value', async () => {
    const token = `hvs.${randomBytes(24).toString('base64url')}`;
    const error = (await promisify(execFile)(process.execPath, ['--conditions=@rampart/source', main], {
      // No NODE_ENV / APP_ENV: the production profile.
      env: {
        PATH: process.env.PATH ?? '',
        API_AUDIENCE: 'https://issues.example.com',
        OAUTH_ISSUER: 'https://id.example.com',
        OAUTH_JWKS_URI: 'https://id.example.com/jwks',
        REDIS_URL: 'redis://127.0.0.1:1',
        VAULT_ADDR: 'https://vault.example.com',
        VAULT_TOKEN: token,
        DATABASE_PATH: ':memory:',
      },
      timeout: 30_000,
    }).catch((caught: unknown) => caught)) as { code: number; stderr: string };
    expect(error.code).toBe(1);
    expect(error.stderr).toContain('issues-api: refused to start');
    expect(error.stderr).toContain('VAULT_TOKEN');
    expect(error.stderr).not.toContain(token);
  });
});
