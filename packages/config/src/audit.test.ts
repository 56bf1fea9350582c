import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { auditConfig, fingerprintSecret } from './audit.ts';
import { ConfigError } from './errors.ts';
import { loadConfigSync } from './load.ts';
import { Secret } from './secret.ts';
import { secret } from './secret-spec.ts';

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('fingerprintSecret', () => {
  const value = Secret.of('JWT_KEY', randomBytes(32).toString('base64url'));

  it('accepts a string, Uint8Array or Secret key of at least 32 bytes', () => {
    const key = randomBytes(32);
    const fingerprint = fingerprintSecret(value, key);
    expect(fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    expect(fingerprintSecret(value, Secret.of('AUDIT_KEY', key.toString('latin1')))).toMatch(/^hmac-sha256:/);
    expect(fingerprintSecret(value, key.toString('base64'))).toMatch(/^hmac-sha256:/);
  });

  it('refuses a key that is not a string, Uint8Array or Secret with ERR_CONFIG_OPTIONS, never quoting it', () => {
    // Node's TypeError quoted it: "Received type bigint (9007199254740993n)".
    for (const key of [1234n, 9007199254740993n, 12345678901, undefined, null, { key: 's3cr3t' }, ['s3cr3t']]) {
      const thrown = thrownBy(() => fingerprintSecret(value, key as never));
      expect(thrown, typeof key).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_OPTIONS');
      expect(inspect(thrown, { showHidden: true })).not.toMatch(/1234|9007199254740993|12345678901|s3cr3t/);
    }
  });
});

describe('auditConfig', () => {
  it('refuses a fingerprint key that is not a string, Uint8Array or Secret, never quoting it', () => {
    const config = loadConfigSync(
      { K: secret() },
      { env: { K: randomBytes(32).toString('base64url'), NODE_ENV: 'development' } },
    );
    expect(auditConfig(config, randomBytes(32))[0]?.fingerprint).toMatch(/^hmac-sha256:/);
    for (const key of [9007199254740993n, 98765432109]) {
      const thrown = thrownBy(() => auditConfig(config, key as never));
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_OPTIONS');
      expect(inspect(thrown, { showHidden: true })).not.toMatch(/9007199254740993|98765432109/);
    }
  });
});
