import { describe, expect, it } from 'vitest';
import { crossSiteProtection } from '../cross-site.ts';
import { HeadersError } from '../errors.ts';
import * as express from './express.ts';
import * as fastify from './fastify.ts';
import * as hono from './hono.ts';
import * as node from './node-http.ts';

const adapters = [
  ['express', express.crossSiteGuard],
  ['fastify', fastify.crossSiteGuard],
  ['hono', hono.crossSiteGuard],
  ['node-http', node.crossSiteGuard],
] as const;

describe.each(adapters)('crossSiteGuard (%s)', (_name, crossSiteGuard) => {
  const problemsOf = (options: unknown): readonly string[] => {
    try {
      crossSiteGuard(options as never);
    } catch (error) {
      expect(error).toBeInstanceOf(HeadersError);
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      return (error as HeadersError).problems;
    }
    throw new Error('crossSiteGuard accepted the options');
  };

  it('refuses options that are not an object at start-up, not with a TypeError', () => {
    for (const options of [null, [], 'https://app.example', 1]) {
      expect(problemsOf(options)).toEqual(['options must be an object']);
    }
  });

  it('refuses an object whose check is not a function instead of failing on every request', () => {
    expect(problemsOf({ check: undefined })).toEqual([
      'options: a key that is not an option; the options are allowedOrigins, environment, requireBrowserSignals and safeMethods',
    ]);
  });

  it('takes a prebuilt crossSiteProtection or options', () => {
    expect(typeof crossSiteGuard(crossSiteProtection({ environment: 'test' }))).toBe('function');
    expect(typeof crossSiteGuard({ allowedOrigins: ['https://app.example'] })).toBe('function');
    expect(typeof crossSiteGuard()).toBe('function');
  });
});
