/** IPv4 CIDR arithmetic for validation and addressing: small, pure and exact. */

export interface Ipv4Cidr {
    /** Network address as an unsigned 32-bit integer. */
    network: number;
    prefix: number;
}

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "a.b.c.d/n"; returns undefined for anything else, including host bits set. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
    const m = CIDR_RE.exec(text.trim());
    if (!m) return undefined;
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32) return undefined;
    const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((address & ~mask) >>> 0 !== 0) return undefined;
    return { network: address, prefix };
}

export function cidrSize(c: Ipv4Cidr): number {
    return 2 ** (32 - c.prefix);
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
    const aEnd = a.network + cidrSize(a) - 1;
    const bEnd = b.network + cidrSize(b) - 1;
    return a.network <= bEnd && b.network <= aEnd;
}

export function formatIpv4(address: number): string {
    return [24, 16, 8, 0].map((shift) => (address >>> shift) & 255).join(".");
}

/** The n-th address of a CIDR (0 is the network address). Throws when outside the block. */
export function hostAddress(cidr: string, n: number): string {
    const c = parseCidr(cidr);
    if (!c) throw new Error(`not a CIDR: ${cidr}`);
    if (n < 0 || n >= cidrSize(c)) throw new Error(`address #${n} is outside ${cidr}`);
    return formatIpv4(c.network + n);
}

/**
 * The smallest list of CIDR blocks that covers exactly `count` consecutive addresses starting at
 * `first` (e.g. an NFS export for a contiguous range of worker addresses). At most ~2*32 blocks.
 */
export function rangeToCidrs(first: string, count: number): string[] {
    const start = parseCidr(`${first}/32`);
    if (!start) throw new Error(`not an IPv4 address: ${first}`);
    const out: string[] = [];
    let address = start.network;
    let left = count;
    while (left > 0) {
        // Largest aligned block at `address` that does not overrun the range.
        let size = address === 0 ? 2 ** 32 : (address & -address) >>> 0 || 2 ** 32;
        while (size > left) size /= 2;
        out.push(`${formatIpv4(address)}/${32 - Math.log2(size)}`);
        address += size;
        left -= size;
    }
    return out;
}

/** How many distinct addresses a list of CIDRs covers together (overlaps counted once). */
export function cidrUnionSize(cidrs: Ipv4Cidr[]): number {
    const ranges = cidrs.map((c) => [c.network, c.network + cidrSize(c)] as const).sort((a, b) => a[0] - b[0]);
    let total = 0;
    let end = -1;
    for (const [start, stop] of ranges) {
        if (stop <= end) continue;
        total += stop - Math.max(start, end);
        end = stop;
    }
    return total;
}

/**
 * How wide the operators' and users' networks may be (docs/security.md, "Who can connect"):
 * one entry at most a /15 (131,072 addresses: CERN's 188.184.0.0/15 is the widest site network
 * the stacks name), all entries of one list together at most 2^20 addresses (1,048,576, 1/4096
 * of IPv4). Wider needs `incant:network.allowWideCidrs` with a reason. Half of IPv4 or more is
 * "the internet" and is refused even then.
 */
export const CIDR_LIMITS = {
    maxPrefixWidth: 15,
    maxAddressesPerEntry: 2 ** 17,
    maxAddressesPerList: 2 ** 20,
    internet: 2 ** 31,
} as const;

/**
 * Address space a facility's own ranges (the VMs' subnet, pods, services) may take: private
 * (RFC 1918) and shared (RFC 6598) space. A public range there would shadow the real hosts of
 * that range from every VM and pod (their replies would never leave the cluster).
 */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"] as const;

/** True when `c` lies wholly inside one of PRIVATE_RANGES. */
export function isPrivateCidr(c: Ipv4Cidr): boolean {
    return PRIVATE_RANGES.some((range) => {
        const r = parseCidr(range)!;
        return c.prefix >= r.prefix && cidrsOverlap(c, r);
    });
}

/**
 * Docker's default bridge (docker0) on the submit host, where the CVMFS and submit containers
 * run with `network_mode: bridge` (components/submit): a VM subnet overlapping it would be
 * routed into docker0, and the submit container could not reach the pool.
 */
export const DOCKER_DEFAULT_BRIDGE = "172.17.0.0/16";
