import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TestkitError } from './errors.ts';
import { assertCallerRedisArgs, LOCKED_REDIS_OPTIONS, redisArgs } from './redis-server-process.ts';

function refusal(args: readonly unknown[]): TestkitError {
  try {
    assertCallerRedisArgs(args);
  } catch (error) {
    expect(error).toBeInstanceOf(TestkitError);
    return error as TestkitError;
  }
  return expect.unreachable('assertCallerRedisArgs did not throw');
}

const anyCase = (name: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));

describe('assertCallerRedisArgs', () => {
  it('refuses --bind in any letter case and form with ERR_TESTKIT_NOT_LOOPBACK, without echoing the value', () => {
    fc.assert(
      fc.property(anyCase('bind'), fc.boolean(), (name, inline) => {
        const error = refusal(inline ? ['--maxmemory', '7mb', `--${name}=0.0.0.0`] : [`--${name}`, '0.0.0.0']);
        expect(error.code).toBe('ERR_TESTKIT_NOT_LOOPBACK');
        expect(error.message).toContain('--bind');
        expect(error.message).not.toContain('0.0.0.0');
      }),
    );
  });

  it('refuses every other option the test-kit sets with ERR_TESTKIT_INVALID_OPTION', () => {
    const locked = [...LOCKED_REDIS_OPTIONS].filter((name) => name !== 'bind');
    fc.assert(
      fc.property(
        fc.constantFrom(...locked).chain((name) => anyCase(name).map((spelled) => [name, spelled] as const)),
        fc.boolean(),
        ([name, spelled], inline) => {
          const error = refusal(inline ? [`--${spelled}=s3cr3t-value`] : [`--${spelled}`, 's3cr3t-value']);
          expect(error.code).toBe('ERR_TESTKIT_INVALID_OPTION');
          expect(error.message).toContain(`--${name}`);
          expect(error.message).not.toContain('s3cr3t-value');
        },
      ),
    );
  });

  it.each([
    ['logfile', '/tmp/elsewhere.log'],
    ['pidfile', '/tmp/elsewhere.pid'],
    ['unixsocket', '/tmp/elsewhere.sock'],
    ['unixsocketperm', '777'],
    ['include', '/etc/elsewhere.conf'],
    ['aclfile', '/tmp/elsewhere.acl'],
    ['loadmodule', '/tmp/elsewhere.so'],
  ])('refuses --%s: the server would read or write outside its temp dir', (name, value) => {
    for (const args of [[`--${name}`, value], [`--${name.toUpperCase()}=${value}`]]) {
      const error = refusal(['--maxmemory', '7mb', ...args]);
      expect(error.code).toBe('ERR_TESTKIT_INVALID_OPTION');
      expect(error.message).toContain(`--${name}`);
      expect(error.message).not.toContain(value);
    }
  });

  it.each([
    ['requirepass', 's3cr3t-pass'],
    ['masterauth', 's3cr3t-pass'],
    ['masteruser', 's3cr3t-user'],
    ['user', 's3cr3t-user on >s3cr3t-pass'],
    ['rename-command', 'INFO s3cr3t-name'],
  ])('refuses --%s: the test-kit reaches its servers without a password, by the usual command names', (name, value) => {
    const error = refusal([`--${name}`, value]);
    expect(error.code).toBe('ERR_TESTKIT_INVALID_OPTION');
    expect(error.message).toContain(`--${name}`);
    expect(error.message).not.toContain('s3cr3t');
  });

  it('lists every refused option at once', () => {
    const error = refusal(['--protected-mode', 'no', '--port', '1', '--bind', '0.0.0.0']);
    expect(error.code).toBe('ERR_TESTKIT_NOT_LOOPBACK');
    expect(error.message).toContain('--protected-mode');
    expect(error.message).toContain('--port');
    expect(error.message).toContain('--bind');
  });

  it('refuses an option name that redis-server would split into another directive', () => {
    for (const arg of ['--maxmemory 1mb\nbind 0.0.0.0', '--"bind"', '--bind 0.0.0.0', '--']) {
      expect(refusal([arg]).code).toBe('ERR_TESTKIT_INVALID_OPTION');
    }
  });

  it('accepts options the test-kit does not set, and any values', () => {
    expect(() =>
      assertCallerRedisArgs(['--maxmemory', '7mb', '--bind-source-addr', '127.0.0.1', '--save-x', '']),
    ).not.toThrow();
  });
});

describe('redisArgs', () => {
  it('puts the locked options after the caller arguments, so they are the occurrences redis-server keeps', () => {
    const args = redisArgs(6400, '/tmp/x', ['--maxmemory', '7mb']);
    const lastValue = (name: string): string | undefined => args[args.lastIndexOf(`--${name}`) + 1];
    expect(args.indexOf('--maxmemory')).toBeLessThan(args.indexOf('--port'));
    expect(lastValue('bind')).toBe('127.0.0.1');
    expect(lastValue('protected-mode')).toBe('yes');
    expect(lastValue('port')).toBe('6400');
    expect(lastValue('dir')).toBe('/tmp/x');
    expect(args[0]).toBe('--loglevel');
  });
});
