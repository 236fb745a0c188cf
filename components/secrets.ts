/**
 * Strings derived from secrets inside the program (minted tokens, encoded keys, files that embed
 * them) are passed through `sensitive` where they are made. At deploy time it only returns its
 * argument; the offline render reads the same list to redact those values from every rendered
 * file, so a review artifact never carries a credential unless `--show-secrets` is asked for.
 */
const derivedSecrets = new Set<string>();

export function sensitive(value: string): string {
    if (value.length >= 8) derivedSecrets.add(value);
    return value;
}

/** Every value passed to `sensitive` in this process (offline render only). */
export function sensitiveValues(): ReadonlySet<string> {
    return derivedSecrets;
}
