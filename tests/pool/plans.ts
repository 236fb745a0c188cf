/**
 * The loopback pool's pods, derived from what the program rendered: each Deployment's pod spec
 * (ConfigMap and Secret items at their mount paths with their modes, emptyDirs, claims, env from
 * the downward API, capabilities, allowPrivilegeEscalation) and the submit container of
 * docker/compose.yaml (its bind-mounted files, extra_hosts, no-new-privileges). Pure functions.
 */
import * as fs from "fs";
import * as path from "path";
import { ATLAS_SETUP_SCRIPT } from "../../components/htcondor/config";
import { PoolRole } from "../../components/htcondor/manifests";
import { COLLECTOR_SERVICE, SCHEDD_SERVICE } from "../../components/htcondor/types";
import { POOL_NAMESPACE } from "../../components/htcondor/pool";
import { IMAGE_CONDOR_CONFIG, loopbackOverlay, LoopbackRole, renderOverlay } from "./overlay";
import { PodFile, PodPlan } from "./pod";
import { downwardResource, K8sPodSpec, RenderedStack } from "./rendered";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Addresses on the pool's shared loopback: pods in the pod CIDR, the submit container, the submit
 * VM's own address (the dev stack's .21, components/network/addressing.ts: where the rendered
 * tools tell the starter to connect back, TOOL.TCP_FORWARDING_HOST, and Docker publishes the
 * container's ports), "the Internet".
 */
export const ADDRESSES = {
    "central-manager": "10.244.1.10",
    scheduler: "10.244.2.10",
    worker: "10.244.3.10",
    submit: "192.168.100.30",
    submitHost: "192.168.100.21",
    issuer: "198.51.100.7",
} as const;

/** Directories of the harness standing in for the cluster's volumes, by claim name (and the submit host's paths). */
export type VolumeDirs = Record<string, string>;

export interface PlanContext {
    rendered: RenderedStack;
    volumes: VolumeDirs;
    /** The IAM issuer's host name (the rendered issuer URL's). */
    issuerHost: string;
    /** The test CA the loopback issuer's certificate chains to. */
    caPem: string;
}

/** What the cluster DNS answers in a pod: the pool's Services (ClusterIP ~ the pod) and the issuer. */
function clusterHosts(ctx: PlanContext): string[] {
    return [
        `${ADDRESSES["central-manager"]} ${COLLECTOR_SERVICE}.${POOL_NAMESPACE}.svc`,
        `${ADDRESSES.scheduler} ${SCHEDD_SERVICE}.${POOL_NAMESPACE}.svc`,
        `${ADDRESSES.issuer} ${ctx.issuerHost}`,
    ];
}

const overlayFiles = (role: LoopbackRole, podIp: string): PodFile[] => [
    { path: "/etc/condor/condor_config", content: IMAGE_CONDOR_CONFIG, mode: 0o644 },
    { path: "/etc/condor/config.d/99-loopback.conf", content: renderOverlay(role, loopbackOverlay({ role, podIp })), mode: 0o644 },
];

/** A pool pod as the kubelet would run the role's Deployment; `pod` names another replica (its host name and address). */
export function poolPodPlan(role: PoolRole, ctx: PlanContext, pod?: { hostname: string; podIp: string }): PodPlan {
    const spec: K8sPodSpec = ctx.rendered.podSpec[role];
    const c = spec.containers[0];
    const podIp = pod?.podIp ?? ADDRESSES[role];
    const files: PodFile[] = [];
    const emptyDirs: string[] = [];
    const binds: PodPlan["binds"] = [];
    for (const m of c.volumeMounts) {
        const v = spec.volumes.find((x) => x.name === m.name);
        if (!v) throw new Error(`${role}: mount ${m.name} has no volume`);
        if (v.configMap) {
            const data = ctx.rendered.configMaps[v.configMap.name];
            // kubelet: an item's mode, else the volume's defaultMode, else 0644 (the API default).
            for (const item of v.configMap.items ?? []) files.push({ path: path.posix.join(m.mountPath, item.path), content: data[item.key], mode: item.mode ?? v.configMap.defaultMode ?? 0o644 });
        } else if (v.secret) {
            const data = ctx.rendered.secrets[v.secret.secretName];
            for (const item of v.secret.items ?? []) files.push({ path: path.posix.join(m.mountPath, item.path), content: data[item.key], mode: v.secret.defaultMode ?? 0o644 });
        } else if (v.emptyDir) {
            emptyDirs.push(m.mountPath);
        } else if (v.persistentVolumeClaim) {
            const dir = ctx.volumes[v.persistentVolumeClaim.claimName];
            if (!dir) throw new Error(`${role}: no loopback directory for claim ${v.persistentVolumeClaim.claimName}`);
            binds.push({ source: m.subPath ? path.join(dir, m.subPath) : dir, target: m.mountPath, readOnly: Boolean(m.readOnly || v.persistentVolumeClaim.readOnly) });
        }
    }
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.fieldRef?.fieldPath === "status.podIP") env[e.name] = podIp;
        else if (e.valueFrom?.resourceFieldRef) {
            const [kind, resource] = e.valueFrom.resourceFieldRef.resource.split(".") as ["requests" | "limits", string];
            env[e.name] = String(downwardResource(c.resources[kind][resource], e.valueFrom.resourceFieldRef.divisor));
        } else throw new Error(`${role}: env ${e.name} has a source the loopback pool does not know`);
    }
    // What images/common/install-atlas-clients.sh puts into the ATLAS images.
    if (role !== "central-manager") files.push({ path: ATLAS_SETUP_SCRIPT, content: fs.readFileSync(path.join(ROOT, "images", "common", "setup-atlas.sh")), mode: 0o644 });
    const caps = c.securityContext.capabilities;
    return {
        role, hostname: pod?.hostname ?? `htcondor-${role}-0`, podIp, env, podName: pod?.hostname,
        files: [...files, ...overlayFiles(role, podIp)],
        emptyDirs, binds,
        hosts: clusterHosts(ctx),
        capabilities: caps?.drop?.includes("ALL") ? caps.add ?? [] : undefined,
        noNewPrivs: c.securityContext.allowPrivilegeEscalation === false,
        entry: "daemons",
        extraCaPem: ctx.caPem,
    };
}

/** The submit host's ATLAS container, as compose.yaml runs it (files from /etc/incant/submit). */
export function submitPodPlan(ctx: PlanContext): PodPlan {
    const s = ctx.rendered.submit;
    const files: PodFile[] = [];
    const binds: PodPlan["binds"] = [];
    for (const v of s.volumes ?? []) {
        if (v.type !== "bind") continue;
        // A directory the host keeps up to date (the access list) is bound like a share; rendered files are copied in.
        // The host installs the tools it binds into /etc/incant/bin executable (components/submit/files.ts, mode 0755).
        if (v.source.startsWith("/etc/incant/") && !ctx.volumes[v.source]) files.push({ path: v.target, content: ctx.rendered.submitHostFile(v.source), mode: v.target.startsWith("/etc/incant/bin/") ? 0o755 : 0o644 });
        else {
            const dir = ctx.volumes[v.source];
            if (!dir) throw new Error(`submit: no loopback directory for ${v.source}`);
            binds.push({ source: dir, target: v.target, readOnly: Boolean(v.read_only) });
        }
    }
    const podIp = ADDRESSES.submit;
    return {
        role: "submit", hostname: s.hostname ?? "submit", podIp,
        env: s.environment ?? {},
        files: [...files, ...overlayFiles("submit", podIp)],
        emptyDirs: [], binds,
        hosts: [...(s.extra_hosts ?? []).map((h) => `${h.slice(h.lastIndexOf(":") + 1)} ${h.slice(0, h.lastIndexOf(":"))}`), `${ADDRESSES.issuer} ${ctx.issuerHost}`],
        noNewPrivs: true,
        entry: "idle",
        extraCaPem: ctx.caPem,
    };
}
