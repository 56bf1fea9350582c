import { describe, expect, it } from 'vitest';
import { TestkitError } from './errors.ts';
import { refuseInProduction } from './production-guard.ts';

describe('refuseInProduction', () => {
  it.each([
    ['NODE_ENV', 'production'],
    ['NODE_ENV', ' Production '],
    ['RAMPART_ENV', 'prod'],
    ['APP_ENV', 'PRODUCTION'],
  ])('refuses when %s is %j', (name, value) => {
    expect(() => refuseInProduction('startRedis', { [name]: value })).toThrowError(
      expect.objectContaining({ code: 'ERR_TESTKIT_PRODUCTION', name: 'TestkitError' }),
    );
  });

  it.each([{}, { NODE_ENV: 'test' }, { NODE_ENV: 'development' }, { APP_ENV: 'staging' }])('allows %j', (env) => {
    expect(() => refuseInProduction('startRedis', env)).not.toThrow();
  });

  it('names the helper and the variable in the message', () => {
    try {
      refuseInProduction('launchChromium', { RAMPART_ENV: 'production' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TestkitError);
      expect((error as Error).message).toContain('launchChromium()');
      expect((error as Error).message).toContain('RAMPART_ENV');
    }
  });
});
