import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { environmentOf, provenanceOf, withOverrides } from './config-object.ts';
import { ConfigError } from './errors.ts';
import { loadConfig, loadConfigSync } from './load.ts';
import { port, string } from './scalars.ts';
import { Secret } from './secret.ts';
import { secret } from './secret-spec.ts';
import { json, list } from './structured.ts';

const schema = {
  PORT: port({ default: 3000 }),
  TAGS: list(),
  LIMITS: json({ schema: z.object({ perMinute: z.number(), nested: z.object({ burst: z.array(z.number()) }) }) }),
  KEY: secret({ sources: ['env'] }),
};
const env = { NODE_ENV: 'test', TAGS: 'a,b', LIMITS: '{"perMinute":5,"nested":{"burst":[1,2]}}', KEY: 'dev-value' };

describe('loadConfigSync result', () => {
  it('is deeply immutable', () => {
    const config = loadConfigSync(schema, { env });
    const mutable = config as unknown as Record<string, unknown>;
    expect(() => {
      mutable.PORT = 1;
    }).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_IMMUTABLE' }));
    expect(() => delete mutable.PORT).toThrow(ConfigError);
    expect(() => Object.defineProperty(config, 'PORT', { value: 1 })).toThrow(ConfigError);
    expect(() => Object.setPrototypeOf(config, null)).toThrow(ConfigError);
    expect(() => (config.TAGS as string[]).push('c')).toThrow(TypeError);
    expect(() => {
      (config.LIMITS.nested.burst as number[])[0] = 9;
    }).toThrow(TypeError);
    expect(Object.isFrozen(config.LIMITS.nested)).toBe(true);
    expect(config.PORT).toBe(3000);
  });

  it('throws when code reads an undeclared key, naming the key', () => {
    const config = loadConfigSync(schema, { env }) as unknown as Record<string, unknown>;
    expect(() => config.PROT).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_UNDECLARED_KEY', message: expect.stringContaining('PROT') }),
    );
    expect('PROT' in config).toBe(false);
    expect(Object.keys(config)).toEqual(['PORT', 'TAGS', 'LIMITS', 'KEY']);
  });

  it('still works with await, JSON.stringify, spread and test matchers', async () => {
    const config = await loadConfig(schema, { env });
    expect(JSON.parse(JSON.stringify(config))).toEqual({
      PORT: 3000,
      TAGS: ['a', 'b'],
      LIMITS: { perMinute: 5, nested: { burst: [1, 2] } },
      KEY: '[REDACTED:KEY]',
    });
    expect({ ...config }.PORT).toBe(3000);
    expect(config).toMatchObject({ PORT: 3000 });
    expect(String(config)).toBe('[object Object]');
  });

  it('records the environment it was loaded under', () => {
    expect(environmentOf(loadConfigSync({}, { env: { NODE_ENV: 'staging' } }))).toMatchObject({
      profile: 'production',
      declared: { NODE_ENV: 'staging' },
    });
  });
});

describe('withOverrides', () => {
  it('returns a changed frozen copy for tests and records the override', () => {
    const config = loadConfigSync(schema, { env });
    const key = randomBytes(32).toString('hex');
    const changed = withOverrides(config, { PORT: 0, KEY: key });
    expect(changed.PORT).toBe(0);
    expect(changed.KEY).toBeInstanceOf(Secret);
    expect(changed.KEY.reveal()).toBe(key);
    expect(changed.KEY.name).toBe('KEY');
    expect(config.PORT).toBe(3000);
    expect(provenanceOf(changed).find((p) => p.key === 'PORT')).toMatchObject({ source: 'override' });
    expect(() => {
      (changed as { PORT: number }).PORT = 2;
    }).toThrow(ConfigError);
  });

  it('is refused for a config loaded under the production profile', () => {
    const config = loadConfigSync({ PORT: port({ default: 3000 }) }, { env: {} });
    expect(() => withOverrides(config, { PORT: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_OVERRIDE_IN_PRODUCTION' }),
    );
  });

  it('refuses undeclared keys and foreign objects', () => {
    const config = loadConfigSync({ NAME: string({ default: 'a' }) }, { env: { NODE_ENV: 'test' } });
    expect(() => withOverrides(config, { NAMES: 'b' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_UNDECLARED_KEY' }),
    );
    expect(() => withOverrides({ NAME: 'a' }, { NAME: 'b' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_OPTIONS' }),
    );
  });
});
