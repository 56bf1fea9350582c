import { isIPv4, isIPv6 } from 'node:net';

/** Options of {@link ipSubject}. */
export interface IpSubjectOptions {
  /**
   * Prefix length that groups IPv6 clients: one subscriber usually holds a whole /56 (or /48), so
   * limiting single /128 addresses lets one client rotate through 2^72 of them. Default 56.
   */
  readonly ipv6Subnet?: number;
}

function parseIPv6(address: string): number[] | undefined {
  let text = address;
  const groups: number[] = [];
  // An embedded IPv4 tail (::ffff:192.0.2.1, 64:ff9b::192.0.2.1) is two 16-bit groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let v4: number[] = [];
  if (tail.includes('.')) {
    const parts = tail.split('.').map(Number);
    v4 = [((parts[0] ?? 0) << 8) | (parts[1] ?? 0), ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  if (rest === undefined && missing !== 0) return undefined;
  for (const g of headGroups) groups.push(Number.parseInt(g, 16));
  for (let i = 0; i < missing; i++) groups.push(0);
  for (const g of restGroups) groups.push(Number.parseInt(g, 16));
  if (v4.length === 2) {
    groups[6] = v4[0]!;
    groups[7] = v4[1]!;
  }
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * IPv6 forms that carry an IPv4 client in their last 32 bits, so they are keyed as that client:
 * IPv4-mapped `::ffff:0:0/96`, SIIT's IPv4-translated `::ffff:0:0:0/96` (RFC 2765) and the NAT64
 * well-known prefix `64:ff9b::/96` (RFC 6052), behind which every IPv4 client would otherwise share
 * one /56.
 */
function embedsIPv4(groups: readonly number[]): boolean {
  const [a, b, c, d, e, f] = groups;
  if (c !== 0 || d !== 0) return false;
  if (a === 0 && b === 0) return (e === 0 && f === 0xffff) || (e === 0xffff && f === 0);
  return a === 0x64 && b === 0xff9b && e === 0 && f === 0;
}

/** `:port` (0–65535) or an RFC 7239 obfuscated port (`:_abc`), after the address of a node. */
const PORT = /^:(?:(\d{1,5})|_[A-Za-z0-9._-]+)$/;

function isPort(text: string): boolean {
  const m = PORT.exec(text);
  return m !== null && (m[1] === undefined || Number(m[1]) <= 65_535);
}

/**
 * The address in the forms proxies write, without its port: `203.0.113.7:51234` and
 * `[2001:db8::1]:443` (X-Forwarded-For from proxies that append the source port), `[2001:db8::1]`,
 * and any of them as an RFC 7239 quoted string (`Forwarded: for="[2001:db8::1]:443"`). Dropping
 * the port keeps every connection of a client in one bucket. Text in none of these forms is
 * returned as is (a bare address, or something that is not one); undefined for a malformed port
 * or bracket.
 */
function withoutPort(text: string): string | undefined {
  const node = text.length > 1 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    if (close < 0) return undefined;
    const rest = node.slice(close + 1);
    if (rest !== '' && !isPort(rest)) return undefined;
    // Brackets hold an IPv6 address only (RFC 3986 IP-literal): `[203.0.113.7]` is not an address.
    const inner = node.slice(1, close);
    return inner.includes(':') ? inner : undefined;
  }
  const colon = node.indexOf(':');
  // One colon: IPv4 with a port. More: an IPv6 address, which only carries a port in brackets.
  if (colon < 0 || colon !== node.lastIndexOf(':')) return node;
  const host = node.slice(0, colon);
  return isIPv4(host) && isPort(node.slice(colon)) ? host : undefined;
}

/**
 * Turns a client address into a rate-limit subject: `ip:<v4>` for IPv4 (IPv4-mapped, SIIT and
 * NAT64 `64:ff9b::/96` IPv6 included) and `ip6:<network>/<bits>` for IPv6, grouped by
 * `ipv6Subnet` (an integer from 1 to 128, default /56; anything else throws a RangeError).
 * A port is dropped, so every source port of a client keys one bucket: `203.0.113.7:51234`,
 * `[2001:db8::1]:443`, `[2001:db8::1]` and the RFC 7239 quoted forms (`"[2001:db8::1]:443"`) key
 * their bare address. Returns undefined when `ip` is not an IP address in one of these forms
 * (including a port outside 0–65535, `unknown` and obfuscated `Forwarded` identifiers).
 *
 * @example
 * ```ts
 * import { ipSubject } from '@rampart/redis';
 * ipSubject('2001:db8:abcd:12ff::1'); // 'ip6:2001:db8:abcd:1200:0:0:0:0/56'
 * ipSubject('::ffff:203.0.113.7');    // 'ip:203.0.113.7'
 * ipSubject('203.0.113.7:51234');     // 'ip:203.0.113.7'
 * ```
 */
export function ipSubject(ip: string | undefined, options: IpSubjectOptions = {}): string | undefined {
  const bits = options.ipv6Subnet ?? 56;
  if (!Number.isInteger(bits) || bits < 1 || bits > 128) {
    throw new RangeError(`ipSubject: ipv6Subnet must be an integer from 1 to 128 (got ${String(bits)}).`);
  }
  if (typeof ip !== 'string' || ip.length === 0 || ip.length > 100) return undefined;
  if (isIPv4(ip)) return `ip:${ip}`;
  const host = withoutPort(ip);
  if (host === undefined) return undefined;
  if (isIPv4(host)) return `ip:${host}`;
  // A zone id (`fe80::1%eth0`) belongs to IPv6 only.
  const address = host.replace(/%[^%]*$/, '');
  if (!isIPv6(address)) return undefined;
  const groups = parseIPv6(address.toLowerCase());
  if (groups === undefined) return undefined;
  if (embedsIPv4(groups)) {
    return `ip:${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `ip6:${masked.map((g) => g.toString(16)).join(':')}/${bits}`;
}

/**
 * A subject from an authenticated client id (e.g. the `client_id` or `sub` of a verified token).
 * Returns undefined for a missing or empty id, so the request is refused rather than pooled.
 *
 * @example
 * ```ts
 * import { clientSubject } from '@rampart/redis';
 * clientSubject('billing-service'); // 'client:billing-service'
 * ```
 */
export function clientSubject(clientId: string | undefined): string | undefined {
  return typeof clientId === 'string' && clientId.length > 0 ? `client:${clientId}` : undefined;
}
