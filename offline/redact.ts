/**
 * Redaction of rendered files: every secret the run knows of is replaced by the marker, in clear
 * and base64 forms. Sources: secret config values, outputs the providers mark secret, secret
 * leaf inputs of resources, strings the program marked `sensitive`, and any PEM private key.
 */
import { OfflineRun, SECRET_MARKER } from "./engine";

const PRIVATE_KEY_RE = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;

function get(obj: unknown, path: string): unknown {
    return path.split(/\.|\[(\d+)\]/).filter(Boolean).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

/** Secret strings known to a run (deduplicated, longest first so no fragment survives). */
export function secretStrings(run: OfflineRun, configSecrets: string[]): string[] {
    const found = new Set<string>(configSecrets);
    for (const r of run.resources) {
        for (const out of r.additionalSecretOutputs) {
            const v = r.state[out];
            if (typeof v === "string") found.add(v);
        }
        for (const p of r.secretPaths) {
            const v = get(r.revealedInputs, p);
            if (typeof v === "string") found.add(v);
        }
    }
    for (const s of run.sensitive) found.add(s);
    const candidates = [...found].filter((s) => s.length >= 8);
    // A secret document (user-data embedding a token) is redacted through its atoms, so the
    // rest stays readable; a secret with no known atom inside is redacted whole (fail closed).
    const atoms = candidates.filter((s) => !candidates.some((t) => t !== s && s.includes(t)));
    const all = new Set<string>();
    for (const s of atoms) {
        all.add(s);
        all.add(Buffer.from(s).toString("base64"));
        // PEM blocks often travel with their trailing newline stripped.
        all.add(s.trimEnd());
    }
    return [...all].sort((a, b) => b.length - a.length);
}

export type Redactor = (text: string) => string;

export function makeRedactor(secrets: string[], show: boolean): Redactor {
    if (show) return (t) => t;
    return (text) => {
        let out = text;
        for (const s of secrets) {
            if (out.includes(s)) out = out.split(s).join(SECRET_MARKER);
        }
        return out.replace(PRIVATE_KEY_RE, SECRET_MARKER);
    };
}
