import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RateLimitError, safeCause } from './errors.ts';
import type { RateLimitDecision } from './rate-limit/decision.ts';

describe('RateLimitError', () => {
  it('carries a decision property only when it has a decision, and keeps code, retryable and name enumerable', () => {
    const plain = new RateLimitError('ERR_RATE_LIMIT_NO_KEY', 'm');
    expect(Object.hasOwn(plain, 'decision')).toBe(false);
    expect(inspect(plain)).not.toContain('decision');
    expect(Object.keys(plain)).toEqual(expect.arrayContaining(['code', 'retryable', 'name']));

    const decision = { allowed: false, limited: true, limits: [] } as unknown as RateLimitDecision;
    const rejected = new RateLimitError('ERR_RATE_LIMIT_EXCEEDED', 'm', { retryAfterMs: 5, decision });
    expect(rejected.decision).toBe(decision);
    expect(Object.keys(rejected)).toContain('decision');
  });
});

describe('safeCause', () => {
  // The reply a real redis-server 7 gives for a command it does not know (renamed or disabled, e.g.
  // `rename-command EVAL ""`): it quotes the first 128 characters of the arguments.
  const unknownCommand = (): Error => {
    const error = Object.assign(
      new Error(
        "ERR unknown command 'eval', with args beginning with: 'if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0' '1' 'rampart:replay:g:jti-42' 'tok3n' ",
      ),
      { name: 'ReplyError', command: { name: 'eval', args: ['…', '1', 'rampart:replay:g:jti-42', 'tok3n.1'] } },
    );
    error.stack = `${error.name}: ${error.message}\n    at parseError (redis-parser.js:1:1)`;
    return error;
  };

  it('drops the arguments Redis quotes in an unknown-command reply, from the message and the stack', () => {
    const safe = safeCause(unknownCommand()) as Error;
    for (const text of [safe.message, String(safe.stack), inspect(safe), JSON.stringify(safe)]) {
      expect(text).not.toContain('jti-42');
      expect(text).not.toContain('tok3n');
    }
    expect(safe.message).toBe("ERR unknown command 'eval' (its arguments left out)");
    expect(safe.name).toBe('ReplyError');
    expect(String(safe.stack)).toContain('at parseError');
    expect(Object.hasOwn(safe, 'command')).toBe(false);
  });

  it('keeps a reply that quotes no arguments as it is', () => {
    const error = new Error("READONLY You can't write against a read only replica.");
    expect((safeCause(error) as Error).message).toBe(error.message);
  });
});
