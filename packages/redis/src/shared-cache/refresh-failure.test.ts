import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisStoreError } from '../errors.ts';
import { classifyRefreshFailure } from './refresh-failure.ts';

/** A failed call as the call guard reports it: Redis's reply as the cause. */
const replied = (text: string): RedisStoreError =>
  new RedisStoreError('ERR_REDIS_UNAVAILABLE', 'SharedCache "c".lease: the Redis call failed.', {
    cause: new ReplyError(text),
  });

describe('classifyRefreshFailure', () => {
  it.each([
    ['OOM', replied("OOM command not allowed when used memory > 'maxmemory'."), 'oom', 'maxmemory'],
    [
      'OOM inside a script (Redis 6)',
      replied(
        "ERR Error running script (call to f_0): @user_script:3: @user_script: 3: -OOM command not allowed when used memory > 'maxmemory'.",
      ),
      'oom',
      'allkeys-lru',
    ],
    ['READONLY', replied("READONLY You can't write against a read only replica."), 'readonly', 'primary'],
    ['LOADING', replied('LOADING Redis is loading the dataset in memory'), 'unreachable', 'reachable'],
    [
      'a client that is not connected',
      new RedisStoreError('ERR_REDIS_UNAVAILABLE', 'x: the Redis client is not connected (status reconnecting).'),
      'unreachable',
      'reachable',
    ],
    [
      'a dropped connection',
      new RedisStoreError('ERR_REDIS_UNAVAILABLE', 'x: the Redis call failed.', {
        cause: new Error('Connection is closed.'),
      }),
      'unreachable',
      'reachable',
    ],
    ['a timeout', new RedisStoreError('ERR_REDIS_TIMEOUT', 'x: Redis did not answer in time.'), 'timeout', 'timeoutMs'],
    // Redis refuses every write, whatever the key: these were read as an error of one key.
    [
      'MISCONF',
      replied(
        'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.',
      ),
      'write-refused',
      'stop-writes-on-bgsave-error',
    ],
    [
      'MISCONF inside a script',
      replied(
        'ERR Error running script (call to f_0): @user_script:3: @user_script: 3: -MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
      ),
      'write-refused',
      'disk',
    ],
    ['NOREPLICAS', replied('NOREPLICAS Not enough good replicas to write.'), 'write-refused', 'min-replicas-to-write'],
    ['NOAUTH', replied('NOAUTH Authentication required.'), 'auth', 'password'],
    ['WRONGPASS', replied('WRONGPASS invalid username-password pair or user is disabled.'), 'auth', 'password'],
  ] as const)('pauses refreshes on %s, with advice for it', (_what, error, kind, advice) => {
    const failure = classifyRefreshFailure(error);
    expect(failure).toMatchObject({ kind, pause: true, code: error.code });
    expect(failure.advice).toContain(advice);
  });

  it('gives no maxmemory advice for READONLY, and no primary advice for OOM', () => {
    expect(classifyRefreshFailure(replied('READONLY no')).advice).not.toContain('maxmemory');
    expect(classifyRefreshFailure(replied('OOM no')).advice).not.toContain('primary');
  });

  it('gives no per-key advice (WRONGTYPE, NOPERM) for a Redis that refuses every write or every command', () => {
    for (const text of ['MISCONF no', 'NOREPLICAS no', 'NOAUTH no', 'WRONGPASS no']) {
      expect(classifyRefreshFailure(replied(text)).advice, text).not.toMatch(/WRONGTYPE|NOPERM/);
    }
  });

  it.each([
    ['WRONGTYPE', 'WRONGTYPE Operation against a key holding the wrong kind of value'],
    ['NOPERM', "NOPERM User app has no permissions to run the 'evalsha' command"],
    ['a script error', "ERR user_script:5: Script attempted to access nonexistent global variable 'FAIL'"],
    ['a reply that only mentions OOM in a word', 'ERR something BOOM happened'],
  ])('does not pause on %s: an error of one call', (_what, text) => {
    const failure = classifyRefreshFailure(replied(text));
    expect(failure).toMatchObject({ kind: 'other', pause: false, code: 'ERR_REDIS_UNAVAILABLE' });
    expect(failure.advice).not.toContain('maxmemory');
  });
});
