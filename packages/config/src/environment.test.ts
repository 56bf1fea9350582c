import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../test/config-error.ts';
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

  it('refuses variables that are not a non-empty list of variable names, as loadConfig does', () => {
    // Read as given, `[ , ]` decided the profile from a variable named "undefined" (the relaxed
    // "test" here) and a string threw a TypeError.
    const env = { undefined: 'test', N: 'test' };
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const variables of [[,], ['APP_ENV', , 'NODE_ENV'], new Array(2), [], 'N', ['N', 5], ['NODE ENV'], null, {}]) {
      const error = errorOf(() => resolveEnvironment(env, variables as never));
      expect(error.code).toBe('ERR_CONFIG_OPTIONS');
      expect(error.message).toMatch(/^resolveEnvironment\(\): variables must be a non-empty list of variable names/);
      expect(error.message).not.toContain('test');
    }
    expect(resolveEnvironment(env, ['N']).profile).toBe('test');
  });

  it('refuses an env that is not an object of variables', () => {
    for (const bad of [null, 'NODE_ENV=test', ['test'], 42]) {
      const error = errorOf(() => resolveEnvironment(bad as never));
      expect(error.code).toBe('ERR_CONFIG_OPTIONS');
      expect(error.message).toMatch(/^resolveEnvironment\(\): env must be an object of variables/);
    }
  });
});
