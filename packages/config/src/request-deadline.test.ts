import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('withRequestDeadline', () => {
  it('keeps the process alive until the deadline when a Vault read never settles and holds no handle', () => {
    // An unref'd deadline timer let node exit with code 13 (unsettled top-level await) and no
    // ConfigError as soon as nothing else was pending.
    const load = pathToFileURL(`${import.meta.dirname}/load.ts`).href;
    const spec = pathToFileURL(`${import.meta.dirname}/secret-spec.ts`).href;
    const script = `
      import { loadConfig } from ${JSON.stringify(load)};
      import { secret } from ${JSON.stringify(spec)};
      try {
        await loadConfig({ K: secret() }, {
          env: { K: 'vault:a/b#c' },
          vault: { read: () => new Promise(() => {}) },
          vaultTimeoutMs: 300,
        });
        process.stderr.write('loaded\\n');
      } catch (error) {
        process.stderr.write(\`caught \${error.code}\\n\`);
        process.exitCode = 3;
      }
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.stderr).toContain('caught ERR_CONFIG_VAULT_UNAVAILABLE');
    expect(result.status).toBe(3);
  });
});
