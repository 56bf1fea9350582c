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

  it('keys an address written with a port, in brackets or quoted as its bare address', () => {
    for (const [forms, bare] of [
      [
        ['203.0.113.7:51234', '203.0.113.7:0', '203.0.113.7:65535', '"203.0.113.7:443"', '"203.0.113.7"'],
        '203.0.113.7',
      ],
      [
        ['[2001:db8::1]:443', '[2001:db8::1]', '"[2001:db8::1]:443"', '"[2001:db8::1]"', '[2001:DB8::1]:1'],
        '2001:db8::1',
      ],
      [['[::ffff:203.0.113.7]:80', '"[64:ff9b::cb00:7107]:8080"'], '203.0.113.7'],
      [['[fe80::1%eth0]:443', '[fe80::1%25eth0]'], 'fe80::1'],
    ] as const) {
      for (const form of forms) expect([form, ipSubject(form)]).toEqual([form, ipSubject(bare)]);
    }
    // RFC 7239 obfuscated ports.
    expect(ipSubject('"203.0.113.7:_port1"')).toBe('ip:203.0.113.7');
    expect(ipSubject('"[2001:db8::1]:_x.y-z"')).toBe(ipSubject('2001:db8::1'));
  });

  it('returns undefined for a malformed port, bracket or quote, and for unknown or obfuscated nodes', () => {
    for (const bad of [
      '203.0.113.7:',
      '203.0.113.7:65536',
      '203.0.113.7:99999',
      '203.0.113.7:123456',
      '203.0.113.7:abc',
      '203.0.113.7:-1',
      '203.0.113.7: 80',
      '203.0.113.7:_',
      '203.0.113.7%eth0:80',
      '203.0.113:80',
      'localhost:80',
      ':80',
      '[203.0.113.7]:80',
      '[2001:db8::1',
      '[2001:db8::1]:',
      '[2001:db8::1]443',
      '[2001:db8::1]:443:1',
      '[2001:db8::g]:443',
      '[]:80',
      '[[2001:db8::1]]',
      '"[2001:db8::1]:443',
      '[2001:db8::1]:443"',
      '"',
      '""',
      'unknown',
      '"unknown"',
      '_hidden',
      '"_hidden:_port"',
      '2001:db8:1:2:3:4:5:6:443',
    ]) {
      expect([bad, ipSubject(bad)]).toEqual([bad, undefined]);
    }
  });

  it('gives every port of an address, in any accepted form, the bucket of the bare address and nothing else', () => {
    const v4 = fc.tuple(...[0, 1, 2, 3].map(() => fc.integer({ min: 0, max: 255 }))).map((b) => b.join('.'));
    const port = fc.integer({ min: 0, max: 65_535 });
    fc.assert(
      fc.property(v4, port, fc.boolean(), (a, p, quoted) => {
        const q = (x: string) => (quoted ? `"${x}"` : x);
        expect(ipSubject(q(`${a}:${p}`))).toBe(`ip:${a}`);
      }),
    );
    fc.assert(
      fc.property(groups, port, fc.boolean(), (g, p, quoted) => {
        const q = (x: string) => (quoted ? `"${x}"` : x);
        expect(ipSubject(q(`[${toV6(g)}]:${p}`))).toBe(ipSubject(toV6(g)));
        expect(ipSubject(q(`[${toV6(g)}]`))).toBe(ipSubject(toV6(g)));
      }),
    );
    // Whatever follows the address, the answer is its bucket or no key: never a bucket of its own.
    fc.assert(
      fc.property(v4, groups, fc.string({ maxLength: 12 }), (a, g, suffix) => {
        const four = ipSubject(`${a}:${suffix}`);
        expect(four === undefined || four === `ip:${a}`).toBe(true);
        const six = ipSubject(`[${toV6(g)}]${suffix}`);
        expect(six === undefined || six === ipSubject(toV6(g))).toBe(true);
      }),
    );
  });

  it('never throws and answers only a canonical address subject, whatever the text', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEF:.[]"%_-xyz, '.split(''));
    const canonical = /^(?:ip:(?:\d{1,3}\.){3}\d{1,3}|ip6:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\/56)$/;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.array(chars, { maxLength: 48 }).map((c) => c.join('')),
        ),
        (text) => {
          const subject = ipSubject(text);
          if (subject !== undefined) expect(subject).toMatch(canonical);
        },
      ),
      { numRuns: 2_000 },
    );
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
