import { describe, expect, it } from 'vitest';
import { TestkitError } from './errors.ts';
import { refuseInProduction } from './production-guard.ts';

function refusal(env: NodeJS.ProcessEnv): TestkitError {
  try {
    refuseInProduction('startVaultDevServer', env);
  } catch (error) {
    expect(error).toBeInstanceOf(TestkitError);
    return error as TestkitError;
  }
  return expect.unreachable('refuseInProduction did not throw');
}

describe('refuseInProduction', () => {
  it.each([
    ['NODE_ENV', 'production'],
    ['NODE_ENV', ' Production '],
    ['RAMPART_ENV', 'prod'],
    ['APP_ENV', 'PRODUCTION'],
    ['NODE_ENV', 'staging'],
    ['NODE_ENV', 'prd'],
    ['NODE_ENV', 'live'],
    ['NODE_ENV', 'production-eu'],
    ['APP_ENV', 'staging'],
    ['NODE_ENV', 'Test'],
    ['NODE_ENV', 'testing'],
    ['RAMPART_ENV', 'dev'],
  ])('refuses when %s is %j', (name, value) => {
    expect(refusal({ [name]: value })).toMatchObject({ code: 'ERR_TESTKIT_PRODUCTION', name: 'TestkitError' });
  });

  it.each([
    {},
    { NODE_ENV: '' },
    { NODE_ENV: 'test' },
    { NODE_ENV: 'development' },
    { NODE_ENV: 'test', APP_ENV: 'development', RAMPART_ENV: 'test' },
  ])('allows %j', (env) => {
    expect(() => refuseInProduction('startRedis', env)).not.toThrow();
  });

  it('refuses when one variable says test and another names any other environment', () => {
    expect(refusal({ NODE_ENV: 'test', APP_ENV: 'staging' }).message).toContain('APP_ENV');
  });

  it('names the helper, the variable and the fix in the message', () => {
    const { message } = refusal({ RAMPART_ENV: 'production' });
    expect(message).toContain('startVaultDevServer()');
    expect(message).toContain('RAMPART_ENV');
    expect(message).toContain('NODE_ENV=test');
  });

  it('echoes a well-known environment name, and nothing else a variable holds', () => {
    expect(refusal({ NODE_ENV: 'staging' }).message).toContain('"staging"');
    const { message } = refusal({ APP_ENV: 'hvs.s3cr3t-token-value' });
    expect(message).toContain('APP_ENV');
    expect(message).not.toContain('s3cr3t');
  });
});
