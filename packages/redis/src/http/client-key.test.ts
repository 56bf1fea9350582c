import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientSubject, ipSubject } from './client-key.ts';

const hex4 = fc.integer({ min: 0, max: 0xffff });
const groups = fc.array(hex4, { minLength: 8, maxLength: 8 });
const toV6 = (g: number[]): string => g.map((x) => x.toString(16)).join(':');

describe('ipSubject', () => {
  it('keys IPv4 addresses and IPv4-mapped IPv6 addresses the same way', () => {
    expect(ipSubject('203.0.113.7')).toBe('ip:203.0.113.7');
    expect(ipSubject('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
    expect(ipSubject('::ffff:cb00:7107')).toBe('ip:203.0.113.7');
  });

  it('groups IPv6 addresses by /56 by default', () => {
    expect(ipSubject('2001:db8:abcd:12ff::1')).toBe('ip6:2001:db8:abcd:1200:0:0:0:0/56');
    expect(ipSubject('2001:db8:abcd:1234:5678::1')).toBe(ipSubject('2001:db8:abcd:12aa::ffff'));
    expect(ipSubject('fe80::1%eth0')).toBe('ip6:fe80:0:0:0:0:0:0:0/56');
  });

  it('keys the IPv4 client of a NAT64 or SIIT address as that client, not as one shared /56', () => {
    expect(ipSubject('64:ff9b::203.0.113.7')).toBe('ip:203.0.113.7');
    expect(ipSubject('64:ff9b::cb00:7108')).toBe('ip:203.0.113.8');
    expect(ipSubject('::ffff:0:198.51.100.1')).toBe('ip:198.51.100.1');
    // Not IPv4 carriers: loopback, the IPv4-compatible form, a NAT64 local-use /48.
    expect(ipSubject('::1')).toBe('ip6:0:0:0:0:0:0:0:0/56');
    expect(ipSubject('64:ff9b:1::1')).toBe('ip6:64:ff9b:1:0:0:0:0:0/56');
  });

  it('takes a zone id only on an IPv6 address, and refuses an ipv6Subnet that is not 1 to 128', () => {
    expect(ipSubject('1.2.3.4%eth0')).toBeUndefined();
    expect(ipSubject('fe80::1%eth0')).toBe(ipSubject('fe80::1'));
    for (const ipv6Subnet of [0, -5, 129, 200, 56.5, Number.NaN]) {
      expect(() => ipSubject('2001:db8::1', { ipv6Subnet })).toThrow(RangeError);
    }
    expect(ipSubject('2001:db8:ffff::1', { ipv6Subnet: 128 })).toBe('ip6:2001:db8:ffff:0:0:0:0:1/128');
  });

  it('returns undefined for anything that is not an IP address', () => {
    for (const bad of [undefined, '', 'localhost', '1.2.3', '::g', '1:2:3:4:5:6:7:8:9', 'x'.repeat(200)]) {
      expect(ipSubject(bad)).toBeUndefined();
    }
  });

  it('maps two IPv6 addresses to the same subject exactly when their first n bits match', () => {
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 1, max: 128 }), (a, b, bits) => {
        // IPv4 carriers (mapped, SIIT, NAT64) are keyed as IPv4.
        const v4 = (g: number[]) =>
          [
            [0, 0, 0, 0, 0, 0xffff],
            [0, 0, 0, 0, 0xffff, 0],
            [0x64, 0xff9b, 0, 0, 0, 0],
          ].some((p) => p.every((x, i) => g[i] === x));
        if (v4(a) || v4(b)) return;
        const bitsOf = (g: number[]) => g.map((x) => x.toString(2).padStart(16, '0')).join('');
        const same = bitsOf(a).slice(0, bits) === bitsOf(b).slice(0, bits);
        expect(ipSubject(toV6(a), { ipv6Subnet: bits }) === ipSubject(toV6(b), { ipv6Subnet: bits })).toBe(same);
      }),
    );
  });

  it('gives the same subject for every spelling of one address', () => {
    fc.assert(
      fc.property(groups, (g) => {
        const full = g
          .map((x) => x.toString(16).padStart(4, '0'))
          .join(':')
          .toUpperCase();
        expect(ipSubject(full)).toBe(ipSubject(toV6(g)));
      }),
    );
  });
});

describe('clientSubject', () => {
  it('prefixes a client id and refuses an empty one', () => {
    expect(clientSubject('billing')).toBe('client:billing');
    expect(clientSubject('')).toBeUndefined();
    expect(clientSubject(undefined)).toBeUndefined();
  });
});
