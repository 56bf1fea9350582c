import { describe, expect, it } from 'vitest';
import { protectedResourceMetadata } from './resource-metadata.ts';

describe('protectedResourceMetadata', () => {
  it('builds the RFC 9728 document', () => {
    expect(
      protectedResourceMetadata({
        resource: 'https://orders.example.com',
        authorizationServers: ['https://id.example.com'],
        scopesSupported: ['orders:read'],
      }),
    ).toEqual({
      resource: 'https://orders.example.com',
      authorization_servers: ['https://id.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['orders:read'],
    });
  });

  it('lists every problem at once', () => {
    expect(() =>
      protectedResourceMetadata({ resource: 'http://x', authorizationServers: [], scopesSupported: ['a b'] }),
    ).toThrow(/resource.*authorizationServers.*scopesSupported/);
  });
});
