import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';

/**
 * What outbound calls may reach beyond the public internet: host names (exact, or `*.example.com` for subdomains),
 * IP addresses and CIDRs (`10.0.0.0/8`, `fd00::/8`) from TARMAC_OUTBOUND_ALLOW.
 */
export interface OutboundPolicy {
  allow: readonly string[];
}

/** One resolved address of a checked destination. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** A destination that passed the check: the parsed URL and every address its host resolved to (all allowed). */
export interface CheckedDestination {
  url: URL;
  addresses: ResolvedAddress[];
}

/** Resolves a host name to every address (dns.lookup with `all: true` by default; tests pass their own). */
export type HostLookup = (host: string) => Promise<ResolvedAddress[]>;

/** Options of a check: the field to name in a refusal and the resolver. */
export interface OutboundCheckOptions {
  /** The JSON pointer of the setting being checked, named in the refusal (default `/url`). */
  field?: string;
  lookup?: HostLookup;
}

/** Special-purpose ranges (RFC 6890 and friends) an outbound call must not reach unless allowed. */
const BLOCKED_V4 = [
  ['0.0.0.0', 8, 'unspecified'], ['10.0.0.0', 8, 'private'], ['100.64.0.0', 10, 'CGNAT'], ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'], ['172.16.0.0', 12, 'private'], ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'], ['192.88.99.0', 24, '6to4 relay'], ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'], ['198.51.100.0', 24, 'documentation'], ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'], ['240.0.0.0', 4, 'reserved'],
] as const;
const BLOCKED_V6 = [
  ['::', 128, 'unspecified'], ['::1', 128, 'loopback'], ['64:ff9b:1::', 48, 'local NAT64'], ['100::', 64, 'discard'],
  ['2001::', 23, 'IETF protocol assignments'], ['2001:db8::', 32, 'documentation'], ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'], ['fec0::', 10, 'site-local'], ['ff00::', 8, 'multicast'],
] as const;

const blocked = (() => {
  const lists = new Map<string, BlockList>();
  for (const [net, prefix, kind] of BLOCKED_V4) {
    if (!lists.has(kind)) lists.set(kind, new BlockList());
    lists.get(kind)!.addSubnet(net, prefix, 'ipv4');
  }
  for (const [net, prefix, kind] of BLOCKED_V6) {
    if (!lists.has(kind)) lists.set(kind, new BlockList());
    lists.get(kind)!.addSubnet(net, prefix, 'ipv6');
  }
  return [...lists.entries()];
})();

/**
 * The IPv4 address an IPv6 address carries (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`), so that a private IPv4 cannot hide inside an IPv6 literal; undefined for other addresses.
 */
export function embeddedIpv4(address: string): string | undefined {
  const words = expandIpv6(address);
  if (!words) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (n: number) => words.slice(0, n).every((w) => w === 0);
  if (zeros(5) && words[5] === 0xffff) return v4(words[6]!, words[7]!);
  if (zeros(6) && (words[6] !== 0 || words[7]! > 1)) return v4(words[6]!, words[7]!);
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)) return v4(words[6]!, words[7]!);
  if (words[0] === 0x2002) return v4(words[1]!, words[2]!);
  return undefined;
}

/** The eight 16-bit words of an IPv6 address, or undefined when it is not one. */
function expandIpv6(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = tail === undefined ? [] : Array<number>(8 - left.length - right.length).fill(0);
  const words = [...left, ...fill, ...right];
  return words.length === 8 ? words : undefined;
}

/** Why an address is internal (`loopback`, `private`, `link-local`, …), or undefined for a public address. */
export function internalAddressKind(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const inner = embeddedIpv4(address);
    if (inner !== undefined) return internalAddressKind(inner);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [kind, list] of blocked) if (list.check(address.split('%')[0]!, type)) return kind;
  return undefined;
}

/** The allow-list compiled once: exact hosts, `*.` suffixes and address ranges. */
class CompiledAllow {
  readonly hosts = new Set<string>();
  readonly suffixes: string[] = [];
  readonly ranges = new BlockList();

  constructor(allow: readonly string[]) {
    for (const raw of allow) {
      const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
      if (entry === '') continue;
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]!)) this.ranges.addSubnet(cidr[1]!, Number(cidr[2]), isIP(cidr[1]!) === 4 ? 'ipv4' : 'ipv6');
      else if (isIP(entry)) this.ranges.addAddress(entry, isIP(entry) === 4 ? 'ipv4' : 'ipv6');
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else this.hosts.add(entry);
    }
  }

  allowsHost(host: string): boolean {
    return this.hosts.has(host) || this.suffixes.some((s) => host.endsWith(s));
  }

  allowsAddress(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    const plain = address.split('%')[0]!;
    if (this.ranges.check(plain, family === 4 ? 'ipv4' : 'ipv6')) return true;
    const inner = family === 6 ? embeddedIpv4(plain) : undefined;
    return inner !== undefined && this.ranges.check(inner, 'ipv4');
  }
}

const compiled = new WeakMap<OutboundPolicy, CompiledAllow>();

function allowOf(policy: OutboundPolicy): CompiledAllow {
  let c = compiled.get(policy);
  if (!c) {
    c = new CompiledAllow(policy.allow);
    compiled.set(policy, c);
  }
  return c;
}

/** Throws CONFIG_INVALID naming TARMAC_OUTBOUND_ALLOW when an entry is neither a host name, an IP nor a CIDR. */
export function checkOutboundPolicy(policy: OutboundPolicy): void {
  for (const raw of policy.allow) {
    const entry = raw.trim().replace(/^\[|\]$/g, '');
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    const ok = cidr
      ? isIP(cidr[1]!) !== 0 && Number(cidr[2]) <= (isIP(cidr[1]!) === 4 ? 32 : 128)
      : isIP(entry) !== 0 || /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(entry);
    if (!ok) {
      throw new TarmacError('CONFIG_INVALID', `TARMAC_OUTBOUND_ALLOW: "${raw}" is not a host name, an IP address or a CIDR`, {
        details: { variable: 'TARMAC_OUTBOUND_ALLOW' },
      });
    }
  }
}

const systemLookup: HostLookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

function refuse(field: string, rule: string, message: string, details: Record<string, unknown> = {}): TarmacError {
  const issue: FieldIssue = { field, rule, message };
  return new TarmacError('OUTBOUND_REFUSED', `${field}: ${message}`, { issues: [issue], details });
}

/**
 * Checks that an outbound destination is public: the host (a name or an IP literal) resolves, and every address it
 * resolves to is outside loopback, private, link-local (169.254.169.254 included), CGNAT, unique-local, multicast,
 * unspecified and other special ranges, unless the host or the address is in `policy.allow`. Call it when a
 * destination is configured and again right before each connection (DNS answers change: rebinding). Returns the
 * resolved addresses. Throws OUTBOUND_REFUSED naming `options.field` and the rule (`scheme`, `resolve`, `address`);
 * error messages never contain the URL's path, query or credentials.
 */
export async function checkOutboundHost(host: string, policy: OutboundPolicy, options: OutboundCheckOptions = {}): Promise<ResolvedAddress[]> {
  const field = options.field ?? '/url';
  const allow = allowOf(policy);
  const name = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (name === '') throw refuse(field, 'required', 'a host is required');
  const hostAllowed = allow.allowsHost(name);
  let addresses: ResolvedAddress[];
  const literal = isIP(name);
  if (literal !== 0) addresses = [{ address: name, family: literal === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await (options.lookup ?? systemLookup)(name);
    } catch (err) {
      // A host listed by name is trusted as such: it need not resolve now (a delivery to it resolves it again).
      if (hostAllowed) return [];
      throw refuse(field, 'resolve', `host "${name}" does not resolve (${(err as { code?: string }).code ?? 'lookup failed'})`, { host: name });
    }
    if (addresses.length === 0) throw refuse(field, 'resolve', `host "${name}" has no address`, { host: name });
  }
  if (hostAllowed) return addresses;
  for (const { address } of addresses) {
    const kind = internalAddressKind(address);
    if (kind !== undefined && !allow.allowsAddress(address)) {
      throw refuse(field, 'address', `host "${name}" resolves to ${address}, a ${kind} address; list the host or a CIDR in TARMAC_OUTBOUND_ALLOW to allow it`, {
        host: name, address, kind,
      });
    }
  }
  return addresses;
}

/**
 * Checks an outbound URL: http or https only, then the host as checkOutboundHost. Throws OUTBOUND_REFUSED naming the
 * field (`scheme` for another scheme or an unparsable URL).
 */
export async function checkOutboundUrl(url: string | URL, policy: OutboundPolicy, options: OutboundCheckOptions = {}): Promise<CheckedDestination> {
  const field = options.field ?? '/url';
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw refuse(field, 'scheme', 'is not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw refuse(field, 'scheme', `must be an http or https URL, not ${parsed.protocol.replace(/:$/, '')}`);
  }
  return { url: parsed, addresses: await checkOutboundHost(parsed.hostname, policy, options) };
}
