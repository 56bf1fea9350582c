import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorOf, rejectionOf } from '../test/config-error.ts';
import { checkConfig, loadConfigSync } from './load.ts';
import { secret } from './secret-spec.ts';

const strongKey = (): string => randomBytes(32).toString('base64url');
const schema = { K: secret() };

/** The ERR_CONFIG_OPTIONS error loading `schema` with `options` throws; fails on anything else. */
function optionsError(options: unknown) {
  const error = errorOf(() => loadConfigSync(schema, { env: { K: strongKey() }, ...(options as object) }));
  expect(error.code).toBe('ERR_CONFIG_OPTIONS');
  return error;
}

describe('loadConfig options', () => {
  it('refuses a secretSources that is not a non-empty list of env, file, tree and vault', () => {
    for (const secretSources of ['env', 'environment', ['env', 'files'], ['ENV'], [], {}, null, [undefined]]) {
      expect(optionsError({ secretSources }).message).toMatch(
        /secretSources must be a non-empty list of env, file, tree, vault/,
      );
    }
  });

  it('refuses an environmentVariables that is not a non-empty list of variable names', () => {
    for (const environmentVariables of ['NODE_ENV', [], [1], ['NODE ENV'], [''], null, { NODE_ENV: 1 }]) {
      expect(optionsError({ environmentVariables }).message).toMatch(
        /environmentVariables must be a non-empty list of variable names/,
      );
    }
  });

  it('refuses a fileAllowlist that is not a list of absolute directories, saying so once', () => {
    for (const fileAllowlist of ['/run/secrets', [1], ['relative/dir', 'also/relative'], null]) {
      const { message } = optionsError({ fileAllowlist });
      expect(message.match(/fileAllowlist/g)).toHaveLength(1);
      expect(message).toMatch(/fileAllowlist must be a list of absolute directories/);
    }
  });

  it('refuses an env that is not an object of variables, and options that are not an object', () => {
    for (const env of ['K=1', 42, null, ['K=1']]) {
      expect(errorOf(() => loadConfigSync(schema, { env } as never))).toMatchObject({
        code: 'ERR_CONFIG_OPTIONS',
        message: expect.stringMatching(/env must be an object of variables/),
      });
    }
    for (const options of [null, 'production', 42]) {
      expect(errorOf(() => loadConfigSync(schema, options as never))).toMatchObject({
        code: 'ERR_CONFIG_OPTIONS',
        message: expect.stringMatching(/options must be an object/),
      });
    }
  });

  it('lists every option problem at once, naming options and never their values', async () => {
    const marker = `m4rk3r${strongKey()}`;
    const error = await rejectionOf(
      checkConfig(schema, {
        env: { K: strongKey() },
        secretSources: [marker],
        environmentVariables: [`${marker} `],
        fileAllowlist: [marker],
        secretSourcse: ['env'],
      } as never),
    );
    expect(error.code).toBe('ERR_CONFIG_OPTIONS');
    expect(error.message).toMatch(/secretSourcse[\s\S]*fileAllowlist[\s\S]*environmentVariables[\s\S]*secretSources/);
    expect(error.message).not.toContain(marker);
  });

  it('refuses a list option with holes, which every() and some() skip', () => {
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    const holey = [[,], ['APP_ENV', , 'NODE_ENV'], new Array(2)];
    for (const environmentVariables of holey) {
      // Read as given, `[ , ]` decided the profile from a variable named "undefined".
      const error = errorOf(() =>
        loadConfigSync(schema, { env: { K: strongKey(), undefined: 'test' }, environmentVariables } as never),
      );
      expect(error.code).toBe('ERR_CONFIG_OPTIONS');
      expect(error.message).toMatch(/environmentVariables must be a non-empty list of variable names/);
    }
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const secretSources of [new Array(2), ['file', , 'vault'], [, 'env']]) {
      expect(optionsError({ secretSources }).message).toMatch(/secretSources must be a non-empty list/);
    }
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    for (const fileAllowlist of [new Array(1), ['/run/secrets', , '/etc/app']]) {
      expect(optionsError({ fileAllowlist }).message).toMatch(/fileAllowlist must be a list of absolute directories/);
    }
  });

  it('still accepts valid lists', () => {
    const config = loadConfigSync(schema, {
      env: { K: strongKey(), DEPLOY_ENV: 'test' },
      environmentVariables: ['DEPLOY_ENV'],
      secretSources: ['env'],
      fileAllowlist: ['/run/secrets'],
    });
    expect(config.K.reveal()).toHaveLength(43);
  });
});

describe('secret({ sources })', () => {
  it('refuses a sources that is not a list with ERR_CONFIG_SCHEMA instead of a TypeError', () => {
    // biome-ignore lint/suspicious/noSparseArray: holes are skipped by every(), so they are tested
    for (const sources of ['env', 'file', {}, [1], new Array(2), ['env', , 'file'], [, 'vault']]) {
      expect(errorOf(() => secret({ sources } as never))).toMatchObject({
        code: 'ERR_CONFIG_SCHEMA',
        message: expect.stringMatching(/sources must be a non-empty list of env, file, tree, vault/),
      });
    }
  });
});
