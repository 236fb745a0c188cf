/**
 * The autoscaler's HTCondor client configuration (its pod's CONDOR_CONFIG): the collector only,
 * IDTOKENS only (its own token, scope READ: components/htcondor/tokens.ts), authentication,
 * encryption and integrity required as everywhere in the pool (components/htcondor/config.ts).
 */
import { ConfigEntry, PoolSettings, renderCondorConfig } from "../htcondor/config";

/** Where the token Secret is mounted, and where main.ts copies it for HTCondor (SEC_TOKEN_DIRECTORY, on its emptyDir; tokens.ts). */
export const TOKEN_SOURCE_DIR = "/etc/incant/autoscaler/tokens-orig.d";
export const TOKEN_DIR = "/tmp/tokens.d";

export function autoscalerCondorConfig(s: Pick<PoolSettings, "trustDomain" | "collectorHostName" | "collectorPort">, tokenDir = TOKEN_DIR): string {
    const entries: ConfigEntry[] = [
        { comment: "INCANT autoscaler: condor_status against the pool's collector (components/autoscaler/condor.ts)." },
        { key: "TRUST_DOMAIN", value: s.trustDomain },
        { key: "COLLECTOR_HOST", value: `${s.collectorHostName}:${s.collectorPort}` },
        { key: "SEC_CLIENT_AUTHENTICATION", value: "REQUIRED" },
        { key: "SEC_CLIENT_ENCRYPTION", value: "REQUIRED" },
        { key: "SEC_CLIENT_INTEGRITY", value: "REQUIRED" },
        // Its own token and nothing else: no FS (it would map the pod's uid), no SSL without a client certificate.
        { key: "SEC_CLIENT_AUTHENTICATION_METHODS", value: ["IDTOKENS"] },
        { key: "SEC_TOKEN_DIRECTORY", value: tokenDir },
    ];
    return renderCondorConfig(entries);
}
