/**
 * Reads the `incant:*` stack configuration from the Pulumi runtime and validates it.
 * The only module of `components/config` that touches the Pulumi runtime.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { FacilityConfig, FacilitySecrets } from "./schema";
import { ConfigValidationError, NAMESPACE, RawConfig, SECRET_KEYS, validateConfig } from "./validate";

// Exported by the SDK's runtime but missing from its typings.
const isConfigSecret = (runtimeConfig as unknown as { isConfigSecret(key: string): boolean }).isConfigSecret;

/** Parses a config value as Pulumi stores it: objects and lists as JSON text, scalars as strings. */
function parseValue(text: string): unknown {
    const t = text.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
        try {
            return JSON.parse(t);
        } catch {
            return text;
        }
    }
    return text;
}

/**
 * The raw `incant:*` values of a config map as the engine passes it (full key -> text), secret
 * ones replaced by `true`: validation only needs to know they exist. Pure: the render and the
 * tests validate the same map the program got.
 */
export function rawConfig(config: Record<string, string>, isSecret: (fullKey: string) => boolean): { raw: RawConfig; secretKeys: Set<string> } {
    const raw: RawConfig = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(config)) {
        const [ns, key] = fullKey.split(":", 2);
        if (ns !== NAMESPACE || key === undefined) continue;
        if (isSecret(fullKey)) {
            secretKeys.add(key);
            raw[key] = true;
        } else {
            raw[key] = parseValue(value);
        }
    }
    return { raw, secretKeys };
}

/** The raw `incant:*` values the Pulumi runtime holds. */
export function readRawConfig(): { raw: RawConfig; secretKeys: Set<string> } {
    return rawConfig(pulumi.runtime.allConfig(), isConfigSecret);
}

export interface LoadedConfig {
    config: FacilityConfig;
    secrets: FacilitySecrets;
}

/**
 * Loads and validates the stack configuration. On bad input throws a `pulumi.RunError` listing
 * every problem (key and stack file named, no secret value printed), before any resource exists.
 */
export function loadConfig(): LoadedConfig {
    const stack = pulumi.getStack();
    const { raw, secretKeys } = readRawConfig();
    let config: FacilityConfig;
    try {
        config = validateConfig(raw, { stack, secretKeys });
    } catch (e) {
        if (e instanceof ConfigValidationError) throw new pulumi.RunError(e.message);
        throw e;
    }
    const cfg = new pulumi.Config(NAMESPACE);
    const secrets: FacilitySecrets = {};
    for (const key of SECRET_KEYS) {
        if (secretKeys.has(key)) secrets[key] = cfg.requireSecret(key);
    }
    return { config, secrets };
}
