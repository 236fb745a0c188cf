/**
 * Reads a stack file (`Pulumi.<stack>.yaml`) into the config map the Pulumi engine would hand to
 * the program. Values under `secure:` are ciphertext only the Pulumi CLI can decrypt: offline they
 * become clearly marked placeholders, still flagged secret.
 */
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { NAMESPACE, SECRET_KEYS } from "../components/config/validate";

const ROOT = path.resolve(__dirname, "..");

export interface StackConfig {
    project: string;
    stack: string;
    /** Full key -> value as the engine passes it (objects as JSON text). */
    config: Record<string, string>;
    /** Full keys whose values are secret. */
    secretKeys: string[];
    /** Secret keys that got an offline placeholder. */
    placeholders: string[];
}

export function projectName(root: string): string {
    const doc = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name: string };
    return doc.name;
}

export function offlineSecret(key: string): string {
    return `offline-placeholder-for-${key.replace(":", "-")}`;
}

function isSecure(value: unknown): value is { secure: string } {
    return typeof value === "object" && value !== null && "secure" in value;
}

/**
 * Converts the `config:` map of a stack file. `fillSecrets` lists secret keys that get a
 * placeholder when the file does not set them (a review render needs no real credentials).
 */
export function readStackFile(file: string, project: string, fillSecrets: string[] = []): StackConfig {
    const stack = path.basename(file).replace(/^Pulumi\./, "").replace(/\.ya?ml$/, "");
    const doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    const placeholders: string[] = [];
    for (const [rawKey, value] of Object.entries(doc.config ?? {})) {
        const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
        if (isSecure(value)) {
            config[key] = offlineSecret(key);
            secretKeys.push(key);
            placeholders.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    for (const key of fillSecrets) {
        if (!(key in config)) {
            config[key] = offlineSecret(key);
            secretKeys.push(key);
            placeholders.push(key);
        }
    }
    return { project, stack, config, secretKeys, placeholders };
}

/** `Pulumi.<name>.yaml` of this repository, as the program would get it (see readStackAt). */
export function readStack(name: string, secrets: readonly string[] = SECRET_KEYS): StackConfig {
    return readStackAt(path.join(ROOT, `Pulumi.${name}.yaml`), secrets);
}

/**
 * A stack file as the program would get it: this project's name, and an offline placeholder for
 * each key of `secrets` (without namespace; default: every secret key the program knows) that the
 * file does not set. Used by the render, the benchmark and the tests' harness.
 */
export function readStackAt(file: string, secrets: readonly string[] = SECRET_KEYS): StackConfig {
    if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
    return readStackFile(file, projectName(ROOT), secrets.map((k) => `${NAMESPACE}:${k}`));
}
