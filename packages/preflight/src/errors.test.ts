import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBaseline } from './baseline.ts';
import { parseDockerignore } from './dockerignore.ts';
import { PreflightError } from './errors.ts';

describe('PreflightError', () => {
  it('carries a stable code, its name and the cause', () => {
    const cause = new Error('inner');
    const error = new PreflightError('ERR_PREFLIGHT_USAGE', 'Use --format json.', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('PreflightError');
    expect(error.code).toBe('ERR_PREFLIGHT_USAGE');
    expect(error.cause).toBe(cause);
  });

  it('never quotes the content it failed on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'preflight-errors-'));
    try {
      fc.assert(
        fc.property(fc.stringMatching(/^[A-Za-z0-9]{12,20}$/), (body) => {
          const secret = `Qz7${body}`;
          const file = join(dir, 'baseline.json');
          for (const content of [
            `{"version":1,"findings":"${secret}"}`,
            `${secret}{`,
            `{"version":2,"k":"${secret}"}`,
          ]) {
            writeFileSync(file, content);
            expect(() => readBaseline(file)).toThrow(PreflightError);
            try {
              readBaseline(file);
            } catch (error) {
              expect((error as Error).message).not.toContain(secret);
            }
          }
          for (const text of [`${secret}[`, `${secret}\n!`, `x\n${secret}]`]) {
            try {
              parseDockerignore(text);
              expect.unreachable();
            } catch (error) {
              expect((error as Error).message).not.toContain(secret.slice(0, 8));
            }
          }
        }),
        { numRuns: 30 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
