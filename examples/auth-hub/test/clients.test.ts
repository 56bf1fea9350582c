import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientSecretVariable,
  parseClients,
  parseRegistrations,
  parseResources,
  RegistrationError,
  redirectUriProblem,
} from '../src/clients.ts';

const ccClient = { client_id: 'svc', grant_types: ['client_credentials'], scopes: ['issues:read'], tenant: 'acme' };

describe('redirectUriProblem', () => {
  it.each(['https://app.example.com/callback', 'http://127.0.0.1:8080/cb', 'http://[::1]:8080/cb'])(
    'accepts %s',
    (uri) => {
      expect(redirectUriProblem(uri)).toBeUndefined();
    },
  );

  it.each([
    ['http://app.example.com/cb', 'https'],
    ['https://*.example.com/cb', 'wildcard'],
    ['https://app.example.com/cb#frag', 'fragment'],
    ['https://user:pw@app.example.com/cb', 'user info'],
    ['javascript:alert(1)', 'https'],
    ['/relative', 'absolute'],
    ['https://APP.example.com/cb', 'normalized'],
    ['http://localhost/cb', 'loopback'],
  ])('refuses %s (%s)', (uri, why) => {
    expect(redirectUriProblem(uri)).toContain(why);
  });
});

describe('parseClients', () => {
  it('reads a valid client-credentials and code client', () => {
    const clients = parseClients([
      ccClient,
      {
        client_id: 'web',
        grant_types: ['authorization_code'],
        scopes: ['issues:read'],
        redirect_uris: ['https://app.example.com/cb'],
        tenant: 'acme',
      },
    ]);
    expect(clients.map((c) => c.clientId)).toEqual(['svc', 'web']);
    expect(clients[1]?.redirectUris).toEqual(['https://app.example.com/cb']);
  });

  it('lists every problem at once and refuses a secret in the registrations', () => {
    let error: unknown;
    try {
      parseClients([
        { ...ccClient, client_secret: 'x' },
        {
          ...ccClient,
          client_id: 'web',
          grant_types: ['authorization_code'],
          redirect_uris: ['http://evil.example/cb'],
        },
        ccClient,
      ]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RegistrationError);
    const problems = (error as RegistrationError).problems.join('\n');
    expect(problems).toContain('HUB_CLIENTS[0] must not hold a client secret');
    expect(problems).toContain('HUB_CLIENTS[1].redirect_uris[0] must use https');
    expect(problems).toContain('HUB_CLIENTS[2].client_id is registered twice');
  });

  it('refuses client ids whose secrets would be read from the same key, listed with the other problems', () => {
    let error: unknown;
    try {
      parseClients([
        { ...ccClient, client_id: 'issues-admin' },
        { ...ccClient, client_id: 'issues.admin', tenant: 'globex' },
        { ...ccClient, client_id: 'issues_admin' },
        { ...ccClient, client_id: 'web', scopes: ['a b'] },
      ]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RegistrationError);
    const problems = (error as RegistrationError).problems;
    expect(problems).toEqual([
      'HUB_CLIENTS[1].client_id "issues.admin" and client_id "issues-admin" would both read their secret from HUB_CLIENT_SECRET_ISSUES_ADMIN: rename one of them',
      'HUB_CLIENTS[2].client_id "issues_admin" and client_id "issues-admin" would both read their secret from HUB_CLIENT_SECRET_ISSUES_ADMIN: rename one of them',
      'HUB_CLIENTS[3].scopes must be a list of RFC 6749 scope tokens',
    ]);
  });

  it('accepts client ids whose secret keys differ', () => {
    const ids = ['issues-admin', 'issues-admin2', 'issues-reader'];
    expect(parseClients(ids.map((client_id) => ({ ...ccClient, client_id }))).map((c) => c.clientId)).toEqual(ids);
    expect(new Set(ids.map(clientSecretVariable)).size).toBe(ids.length);
  });

  it('accepts a set of distinct ids exactly when their secret keys are distinct', () => {
    // A small alphabet, so that ids differing only in `.`, `-` and `_` come up often.
    const id = fc.stringMatching(/^[ab][ab._-]{0,3}$/);
    fc.assert(
      fc.property(fc.uniqueArray(id, { minLength: 1, maxLength: 6 }), (ids) => {
        const distinctKeys = new Set(ids.map(clientSecretVariable)).size === ids.length;
        let accepted = true;
        try {
          parseClients(ids.map((client_id) => ({ ...ccClient, client_id })));
        } catch (error) {
          expect(error).toBeInstanceOf(RegistrationError);
          expect((error as RegistrationError).problems.every((p) => p.includes('would both read'))).toBe(true);
          accepted = false;
        }
        expect(accepted).toBe(distinctKeys);
      }),
    );
  });

  it('reads a client without a tenant (an operator client, e.g. for metrics:read) and refuses a malformed tenant', () => {
    const { tenant: _, ...operator } = { ...ccClient, client_id: 'ops', scopes: ['metrics:read'] };
    const [client] = parseClients([operator]);
    expect(client?.clientId).toBe('ops');
    expect(client?.tenant).toBeUndefined();
    expect(() => parseClients([{ ...ccClient, tenant: 'Not A Tenant' }])).toThrow(
      /HUB_CLIENTS\[0\]\.tenant must match/,
    );
    expect(() => parseClients([{ ...ccClient, tenant: '' }])).toThrow(/HUB_CLIENTS\[0\]\.tenant must match/);
  });

  it('refuses a client without scopes: every token request of it would fail', () => {
    expect(() => parseClients([{ ...ccClient, scopes: [] }])).toThrow(
      /HUB_CLIENTS\[0\]\.scopes must list at least one scope/,
    );
  });

  it('requires a redirect URI for the code flow and refuses one without it', () => {
    expect(() => parseClients([{ ...ccClient, grant_types: ['authorization_code'] }])).toThrow(/at least one URI/);
    expect(() => parseClients([{ ...ccClient, redirect_uris: ['https://app.example.com/cb'] }])).toThrow(
      /only allowed with authorization_code/,
    );
  });
});

describe('parseResources', () => {
  it('reads resource servers and refuses bad indicators or scopes', () => {
    expect(parseResources({ 'https://api.example.com': { scopes: ['a:read'] } })).toEqual([
      { resource: 'https://api.example.com', scopes: ['a:read'] },
    ]);
    expect(() => parseResources({ 'https://api.example.com#x': { scopes: ['a b'] } })).toThrow(
      /fragment[\s\S]*scope tokens/,
    );
  });
});

describe('parseRegistrations', () => {
  const resources = { 'https://issues.example.com': { scopes: ['issues:read', 'issues:write'] } };

  it('reads clients whose every scope a resource server serves', () => {
    const { clients, resources: servers } = parseRegistrations(
      [ccClient, { ...ccClient, client_id: 'oidc', scopes: ['openid', 'issues:write'] }],
      resources,
    );
    expect(clients.map((c) => c.scopes)).toEqual([['issues:read'], ['openid', 'issues:write']]);
    expect(servers.map((r) => r.resource)).toEqual(['https://issues.example.com']);
  });

  it('refuses a client without scopes and every client scope no resource server serves, all at once', () => {
    let error: unknown;
    try {
      parseRegistrations(
        [
          { ...ccClient, scopes: [] },
          { ...ccClient, client_id: 'typo', scopes: ['issues:read', 'isues:write', 'metrics:read'] },
          { ...ccClient, client_id: 'bad-grant', grant_types: ['password'] },
        ],
        resources,
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as RegistrationError).problems).toEqual([
      'HUB_CLIENTS[0].scopes must list at least one scope',
      'HUB_CLIENTS[1].scopes[1] "isues:write" is served by no HUB_RESOURCES entry: add it to a resource server\'s scopes or remove it',
      'HUB_CLIENTS[1].scopes[2] "metrics:read" is served by no HUB_RESOURCES entry: add it to a resource server\'s scopes or remove it',
      'HUB_CLIENTS[2].grant_types must list client_credentials and/or authorization_code',
    ]);
  });

  it('lists the problems of both documents at once', () => {
    let error: unknown;
    try {
      parseRegistrations([{ ...ccClient, scopes: [] }], { 'http://api.example.com': { scopes: ['issues:read'] } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RegistrationError);
    const problems = (error as RegistrationError).problems.join('\n');
    expect(problems).toContain('HUB_CLIENTS[0].scopes must list at least one scope');
    expect(problems).toContain('the resource indicator must use https');
  });
});

describe('clientSecretVariable', () => {
  it('names one configuration key per client', () => {
    expect(clientSecretVariable('issues-admin')).toBe('HUB_CLIENT_SECRET_ISSUES_ADMIN');
  });
});
