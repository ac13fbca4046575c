/** IPv4 CIDR arithmetic: just what subnet planning and config validation need. */

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  readonly prefix: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "a.b.c.d/n"; returns undefined when malformed or when host bits are set. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const match = CIDR_PATTERN.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const network = (address & prefixMask(prefix)) >>> 0;
  return network === address ? { network, prefix } : undefined;
}

/** CIDR notation of a parsed block, e.g. `10.20.0.0/16`. */
export function formatCidr(cidr: Ipv4Cidr): string {
  const n = cidr.network;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${cidr.prefix}`;
}

/** Whether two IPv4 blocks share any address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const mask = prefixMask(Math.min(a.prefix, b.prefix));
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

/** Whether every address of `inner` is in `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return outer.prefix <= inner.prefix && cidrsOverlap(outer, inner);
}

/** The index-th subnet of `newPrefix` length inside `parent` (like Terraform's cidrsubnet). */
export function subnetOf(parent: Ipv4Cidr, newPrefix: number, index: number): Ipv4Cidr {
  const count = 2 ** (newPrefix - parent.prefix);
  if (newPrefix < parent.prefix || newPrefix > 32 || index < 0 || index >= count) {
    throw new Error(`cannot carve subnet #${index} of /${newPrefix} from ${formatCidr(parent)}`);
  }
  return { network: (parent.network + index * 2 ** (32 - newPrefix)) >>> 0, prefix: newPrefix };
}

function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
