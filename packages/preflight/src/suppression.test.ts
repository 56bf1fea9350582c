import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envFallback } from '../test/fixtures/fallback-forms.ts';
import { analyzeFile } from './engine.ts';
import { formatSuppression, isCalendarDate, parseSuppression, suppressionActive } from './suppression.ts';

const NOW = new Date('2026-11-22T12:00:00Z');

describe('parseSuppression', () => {
  it('reads rules, expiry and reason', () => {
    expect(parseSuppression(' preflight-ignore todo-auth,static-admin-key until 2027-01-31: tracked in #42 ')).toEqual({
      valid: true,
      rules: ['todo-auth', 'static-admin-key'],
      until: '2027-01-31',
      reason: 'tracked in #42',
    });
  });

  it('returns undefined for comments that are not suppressions', () => {
    expect(parseSuppression('just a comment about ignoring things')).toBeUndefined();
  });

  it('rejects a suppression without an expiry, without a reason, or with an impossible date', () => {
    expect(parseSuppression('preflight-ignore todo-auth: because')).toMatchObject({ valid: false, problem: /expiry/ });
    expect(parseSuppression('preflight-ignore todo-auth until 2027-01-31:')).toMatchObject({
      valid: false,
      problem: /reason/,
    });
    expect(parseSuppression('preflight-ignore todo-auth until 2027-02-30: x y z')).toMatchObject({
      valid: false,
      problem: /calendar/,
    });
  });
});

describe('suppressions in the engine', () => {
  const code = (comment: string): string => `// ${comment}\n${envFallback('s', 'JWT_SECRET', 'dev-secret')}`;

  it('hides a finding on the next line while the suppression is active', () => {
    const result = analyzeFile('a.ts', code('preflight-ignore env-fallback-literal until 2026-11-22: demo fixture'), {
      now: NOW,
    });
    expect(result.findings).toEqual([]);
    expect(result.suppressed).toBe(1);
  });

  it('stops suppressing the day after its expiry and says so', () => {
    const result = analyzeFile('a.ts', code('preflight-ignore env-fallback-literal until 2026-11-21: demo fixture'), {
      now: NOW,
    });
    expect(result.findings.map((f) => f.ruleId)).toEqual(['env-fallback-literal']);
    expect(result.findings[0]?.expiredSuppression).toBe('2026-11-21');
  });

  it('reports an invalid suppression and leaves the finding visible', () => {
    const result = analyzeFile('a.ts', code('preflight-ignore env-fallback-literal: no expiry'), { now: NOW });
    expect(result.findings.map((f) => f.ruleId).sort()).toEqual(['env-fallback-literal', 'invalid-suppression']);
  });

  it('does not let a suppression for another rule hide a finding', () => {
    const result = analyzeFile('a.ts', code('preflight-ignore todo-auth until 2030-01-01: wrong rule'), { now: NOW });
    expect(result.findings.map((f) => f.ruleId)).toEqual(['env-fallback-literal']);
  });

  it('reports an unknown rule name instead of silently suppressing nothing', () => {
    const result = analyzeFile('a.ts', code('preflight-ignore env-fallback until 2030-01-01: typo'), { now: NOW });
    expect(result.findings.map((f) => f.ruleId).sort()).toEqual(['env-fallback-literal', 'invalid-suppression']);
  });

  it('never lets a suppression hide a parse error, and reports one that names a coverage rule', () => {
    const result = analyzeFile(
      'a.ts',
      '// preflight-ignore parse-error,not-scanned until 2030-01-01: generated\nexport const = ;\n',
      { now: NOW },
    );
    expect(result.findings.map((f) => f.ruleId).sort()).toEqual(['invalid-suppression', 'parse-error']);
    expect(result.suppressed).toBe(0);
  });

  it('ignores suppression-looking text inside strings of JS files', () => {
    const result = analyzeFile('a.ts', "const doc = '// preflight-ignore nothing';\n", { now: NOW });
    expect(result.findings).toEqual([]);
  });

  it('reads # comments in YAML and shell files', () => {
    const yaml = `# preflight-ignore env-fallback-literal until 2030-01-01: local compose only\nSECRET: \${APP_SECRET:-dev}\n`;
    expect(analyzeFile('docker-compose.yml', yaml, { now: NOW })).toMatchObject({ findings: [], suppressed: 1 });
  });
});

const ruleId = fc.constantFrom('env-fallback-literal', 'todo-auth', 'static-admin-key', 'seed-plaintext-secret');
const date = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const reason = fc.stringMatching(/^[A-Za-z0-9]{3}[A-Za-z0-9 #.,()-]{0,40}[A-Za-z0-9]$/);

describe('parseSuppression properties', () => {
  it('reads back every suppression it formats', () => {
    fc.assert(
      fc.property(fc.uniqueArray(ruleId, { minLength: 1, maxLength: 3 }), date, reason, (rules, until, why) => {
        expect(parseSuppression(formatSuppression(rules, until, why))).toEqual({
          valid: true,
          rules,
          until,
          reason: why.replace(/\s+/g, ' '),
        });
      }),
    );
  });

  it('never accepts a suppression without an expiry date', () => {
    fc.assert(
      fc.property(ruleId, fc.string(), (rule, rest) => {
        const parsed = parseSuppression(`preflight-ignore ${rule} ${rest.replace(/until/g, '')}`);
        expect(parsed?.valid).toBe(false);
      }),
    );
  });

  it('never accepts a suppression without a reason', () => {
    fc.assert(
      fc.property(ruleId, date, fc.stringMatching(/^[\s:.,-]*$/), (rule, until, junk) => {
        expect(parseSuppression(`preflight-ignore ${rule} until ${until}:${junk}`)?.valid).toBe(false);
      }),
    );
  });

  it('never throws, whatever the comment', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        parseSuppression(`preflight-ignore ${text}`);
        parseSuppression(text);
      }),
    );
  });

  it('is active through the last day and inactive after it', () => {
    fc.assert(
      fc.property(date, (until) => {
        expect(isCalendarDate(until)).toBe(true);
        expect(suppressionActive(until, new Date(`${until}T23:59:59.000Z`))).toBe(true);
        expect(suppressionActive(until, new Date(Date.parse(`${until}T00:00:00Z`) + 86_400_000))).toBe(false);
      }),
    );
  });
});
