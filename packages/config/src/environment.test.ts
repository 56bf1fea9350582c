import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveEnvironment } from './environment.ts';

describe('resolveEnvironment', () => {
  it('treats unset, staging, prod, dev, misspellings and other cases as production', () => {
    for (const env of [
      {},
      { NODE_ENV: '' },
      { NODE_ENV: 'staging' },
      { NODE_ENV: 'prod' },
      { NODE_ENV: 'production' },
      { NODE_ENV: 'dev' },
      { NODE_ENV: 'develop' },
      { NODE_ENV: 'developement' },
      { NODE_ENV: 'Development' },
      { NODE_ENV: 'TEST' },
      { NODE_ENV: ' test' },
      { APP_ENV: 'staging', NODE_ENV: 'development' },
      { APP_ENV: 'development', NODE_ENV: 'production' },
      { APP_ENV: 'development', NODE_ENV: 'test' },
    ]) {
      expect(resolveEnvironment(env).profile, JSON.stringify(env)).toBe('production');
    }
  });

  it('relaxes only for an explicit, agreeing development or test', () => {
    expect(resolveEnvironment({ NODE_ENV: 'development' }).profile).toBe('development');
    expect(resolveEnvironment({ NODE_ENV: 'test' }).profile).toBe('test');
    expect(resolveEnvironment({ APP_ENV: 'test' }).profile).toBe('test');
    expect(resolveEnvironment({ APP_ENV: 'test', NODE_ENV: 'test' }).profile).toBe('test');
    expect(resolveEnvironment({ DEPLOY_ENV: 'development' }, ['DEPLOY_ENV']).profile).toBe('development');
  });

  it('is production for every string other than development and test', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        fc.pre(value !== 'development' && value !== 'test');
        expect(resolveEnvironment({ NODE_ENV: value }).profile).toBe('production');
      }),
    );
  });

  it('does not echo odd environment values', () => {
    const info = resolveEnvironment({ NODE_ENV: 'prod uction with spaces and secrets?' });
    expect(info.declared.NODE_ENV).toBe('(other)');
    expect(resolveEnvironment({ NODE_ENV: 'customer-name-42' }).declared.NODE_ENV).toBe('(other)');
  });
});
