import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('./run demo --once', () => {
  it('walks through every step and stops everything it started', () => {
    const output = execFileSync(process.execPath, ['scripts/demo.ts', '--once'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'development' },
      timeout: 120_000,
    });
    expect(output).toContain('walkthrough complete; everything stopped (--once).');
    expect(output).not.toContain('✗');
  });
});
