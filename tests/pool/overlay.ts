/**
 * What the loopback pool adds to the rendered HTCondor configuration: one overlay file per daemon
 * (config.d/99-loopback.conf, read after the rendered 50-incant.conf), every line with its reason.
 *
 * Everything else the rendered files name is made true instead of edited: each "pod" runs in a
 * private mount and UTS namespace (its own /etc with the hosts the cluster's DNS would answer,
 * /var/lib, /var/log, /run, /tmp), all pods share one private network namespace whose loopback
 * carries the node address (TCP_FORWARDING_HOST) and one address per pod, so the rendered ports,
 * host names, paths and the IAM issuer URL (https://iam.cloud.infn.it/, served by the loopback
 * issuer) stay as rendered. What is left, below, is what an image or a pod network gives a daemon
 * and this machine does not.
 */
import { ConfigEntry, renderCondorConfig } from "../../components/htcondor/config";
import { PoolRole } from "../../components/htcondor/manifests";

/** A "pod" of the loopback pool: the pool's three daemons and the submit host's container. */
export type LoopbackRole = PoolRole | "submit";

/** Where the harness bind-mounts the HTCondor installation inside every pod. */
export const RELEASE_MOUNT = "/var/lib/htcondor-release";

/** The pod's own /etc/condor/condor_config, like the image's: it only points at config.d. */
export const IMAGE_CONDOR_CONFIG = renderCondorConfig([
    { comment: "The official images' /etc/condor/condor_config reads config.d in lexical order: 50-incant.conf\n(rendered, unchanged), then 99-loopback.conf (tests/pool/overlay.ts)." },
    { key: "LOCAL_CONFIG_DIR", value: "/etc/condor/config.d" },
    { key: "REQUIRE_LOCAL_CONFIG_FILE", value: false },
]);

/** One setting of the overlay and why the loopback run needs it. */
export type OverlayLine = ({ key: string; value: string | number | boolean } | { use: string }) & { why: string };

/** The daemons the official image of each role starts (`use ROLE:` metaknobs, HTCondor 24.0 config templates). */
const IMAGE_ROLE: Record<LoopbackRole, string | undefined> = {
    "central-manager": "CentralManager",
    scheduler: "Submit",
    worker: "Execute",
    // The rendered submit-host configuration sets DAEMON_LIST itself (tools only).
    submit: undefined,
};

export interface LoopbackPod {
    role: LoopbackRole;
    /** The pod's address on the shared loopback (what status.podIP would be). */
    podIp: string;
}

/** The overlay of one pod: a pure function of its role and address. */
export function loopbackOverlay(pod: LoopbackPod): OverlayLine[] {
    const role = IMAGE_ROLE[pod.role];
    const image = "the image's /etc/condor/condor_config (RPM layout)";
    return [
        { key: "RELEASE_DIR", value: RELEASE_MOUNT, why: "HTCondor comes from HTCONDOR_HOME, bind-mounted here; the image has it under /usr" },
        { key: "BIN", value: "$(RELEASE_DIR)/bin", why: "tools of that installation" },
        { key: "SBIN", value: "$(RELEASE_DIR)/sbin", why: "daemons of that installation" },
        { key: "LIB", value: "$(RELEASE_DIR)/lib", why: "libraries of that installation" },
        { key: "LIBEXEC", value: "$(RELEASE_DIR)/libexec", why: "helpers (shared port, gpu discovery) of that installation" },
        { key: "LOCAL_DIR", value: "/var", why: image },
        { key: "ETC", value: "/etc/condor", why: `${image}: tokens.d and passwords.d, where the image installs the mounted secrets` },
        { key: "LOG", value: "/var/log/condor", why: image },
        { key: "SPOOL", value: "/var/lib/condor/spool", why: `${image}; the scheduler's is its spool volume (manifests.ts SCHEDD_SPOOL)` },
        { key: "EXECUTE", value: "/var/lib/condor/execute", why: `${image}; the worker's is its emptyDir` },
        { key: "LOCK", value: "/var/lock/condor", why: image },
        { key: "RUN", value: "/var/run/condor", why: image },
        ...(role ? [{ use: `ROLE:${role}`, why: "the daemons the official image of this role starts (DAEMON_LIST)" }] : []),
        { key: "NETWORK_INTERFACE", value: pod.podIp, why: "a pod's only interface is its pod address; here every pod's address sits on the one shared loopback" },
        // The collector and the schedd keep listening on every address: the node address stands in for their NodePorts.
        ...(pod.role === "worker" || pod.role === "submit" ? [{
            key: "BIND_ALL_INTERFACES", value: false,
            why: "connections leave a pod from its pod address; on the shared loopback the kernel would use the destination's, and the shadow admits the starter by the startd's address",
        }] : []),
    ];
}

/** The overlay file: each setting preceded by its reason. */
export function renderOverlay(role: LoopbackRole, lines: OverlayLine[]): string {
    const entries: ConfigEntry[] = [{ comment: `Loopback pool overlay for ${role} (tests/pool/overlay.ts), read after the rendered configuration.` }];
    for (const line of lines) {
        if (!line.why.trim()) throw new Error(`overlay line without a reason: ${JSON.stringify(line)}`);
        entries.push({ comment: line.why });
        entries.push("use" in line ? { use: line.use } : { key: line.key, value: line.value });
    }
    return renderCondorConfig(entries);
}
