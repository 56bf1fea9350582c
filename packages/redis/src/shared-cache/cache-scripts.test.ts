import { describe, expect, it } from 'vitest';
import { GETDEL_MANY, SET_NX_MANY } from '../many-keys.ts';
import type { RedisScript } from '../scripts.ts';
import * as cacheScripts from './cache-scripts.ts';
import { fill } from './cache-scripts.ts';

const scripts: RedisScript[] = [
  ...Object.values(cacheScripts).filter((v): v is RedisScript => typeof v === 'object' && v !== null && 'lua' in v),
  SET_NX_MANY,
  GETDEL_MANY,
];

/** The Lua code of `lua` without its comments and string literals (where upper-case words are data). */
const codeOf = (lua: string): string =>
  lua
    .replace(/--[^\n]*/g, '')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''")
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""');

describe('the SharedCache scripts', () => {
  it('are all checked here', () => {
    expect(scripts.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'cache-lease-acquire',
        'cache-generation',
        'cache-read-or-lease',
        'cache-write-if-current',
      ]),
    );
    expect(scripts.length).toBeGreaterThanOrEqual(12);
  });

  it.each(scripts.map((s) => [s.name, s] as const))('%s keeps no placeholder: no $, no upper-case global', (_n, s) => {
    expect(s.lua).not.toContain('$');
    // Lua's globals here are KEYS and ARGV; any other upper-case word is a placeholder left unfilled
    // (read as an undefined global only on the path that reaches it: "return FAIL").
    const upper = codeOf(s.lua).match(/\b[A-Z][A-Z0-9_]*\b/g) ?? [];
    expect(upper.filter((w) => w !== 'KEYS' && w !== 'ARGV')).toEqual([]);
  });
});

describe('fill', () => {
  const template = 'return ARGV[$A] .. ARGV[$A + 1] .. $B' as Parameters<typeof fill>[0];

  it('replaces every occurrence of every placeholder', () => {
    expect(fill(template, { A: '2', B: 'false' })).toBe('return ARGV[2] .. ARGV[2 + 1] .. false');
  });

  it('throws when a placeholder has no value, or a value no placeholder', () => {
    expect(() => fill(template, { A: '2' })).toThrow('$B');
    expect(() => fill(template, { A: '2', B: 'false', C: '1' })).toThrow('$C');
  });
});
