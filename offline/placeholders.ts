/**
 * Deterministic stand-ins for values only a cloud can assign (ids, addresses) or a provider
 * would generate (random strings). Every placeholder is recognisable as one: ids start with
 * "offline-", floating IPs come from TEST-NET-3 (203.0.113.0/24, RFC 5737).
 */
import * as crypto from "crypto";

/** Deterministic bytes for a resource, so two renders of the same config agree. */
export function seededBytes(seed: string, length: number): Buffer {
    const out: Buffer[] = [];
    for (let i = 0; Buffer.concat(out).length < length; i++) {
        out.push(crypto.createHash("sha256").update(`${seed}#${i}`).digest());
    }
    return Buffer.concat(out).subarray(0, length);
}

export function offlineId(kind: string, name: string): string {
    return `offline-${kind}-${crypto.createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
}

/** A floating IP from TEST-NET-3, stable per resource name. */
export function placeholderFloatingIp(name: string): string {
    return `203.0.113.${(seededBytes(name, 1)[0] % 250) + 2}`;
}

export interface RandomStringSpec {
    length: number;
    lower?: boolean;
    upper?: boolean;
    numeric?: boolean;
    special?: boolean;
    overrideSpecial?: string;
    minLower?: number;
    minUpper?: number;
    minNumeric?: number;
    minSpecial?: number;
}

/** A string honouring random.RandomString's character-class flags, derived from a seed. */
export function seededString(seed: string, spec: RandomStringSpec): string {
    const classes: string[] = [];
    if (spec.lower !== false) classes.push("abcdefghijklmnopqrstuvwxyz");
    if (spec.upper !== false) classes.push("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (spec.numeric !== false) classes.push("0123456789");
    if (spec.special !== false) classes.push(spec.overrideSpecial ?? "!@#$%&*()-_=+[]{}<>:?");
    const alphabet = classes.join("");
    const bytes = seededBytes(seed, spec.length);
    const chars = Array.from(bytes, (b) => alphabet[b % alphabet.length]);
    // Honour the minimum counts by overwriting the first positions.
    const mins: [number | undefined, number][] = [[spec.minLower, 0], [spec.minUpper, 1], [spec.minNumeric, 2], [spec.minSpecial, 3]];
    let pos = 0;
    for (const [min, cls] of mins) {
        const set = classes[cls];
        for (let k = 0; set && k < (min ?? 0) && pos < chars.length; k++, pos++) chars[pos] = set[bytes[pos] % set.length];
    }
    return chars.join("");
}
