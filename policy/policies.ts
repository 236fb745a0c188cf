/**
 * The INCANT guardrails as CrossGuard resource policies. Each policy is a plain object whose
 * `validateResource` is a pure function of the args CrossGuard passes (type, name, props, opts),
 * so tests call it with hand-built args (the pulumi/compliance-policies pattern) and the offline
 * render calls it on every mocked resource (offline/policy.ts). policy/index.ts serves them to
 * `pulumi preview --policy-pack policy`.
 *
 * What CrossGuard (@pulumi/policy 1.21) shows a policy, and what it hides:
 * - `props` are the resource's inputs with secrets already unwrapped (deserialize.ts), so a
 *   policy cannot tell a secret from a plain value; unknown values throw when read in preview.
 * - `opts.protect` is there; `retainOnDelete` is not (PolicyResourceOptions).
 * The offline engine knows both, and passes them as `offline` (OfflineFacts); the policies that
 * need them check them only when present and say so.
 */
import { EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { PRIVILEGED_NAMESPACES as CLUSTER_PRIVILEGED_NAMESPACES } from "../components/kubernetes/podsecurity";
import { unpinnedReason } from "./images";
import {
    containersOf, describe, DOCKER_CONTAINER, DOCKER_IMAGE, DOCKER_REMOTE_IMAGE, DockerContainer, K8sContainer, workloadOf,
} from "./workloads";

export const PACK_NAME = "incant";
/** Level of every policy that does not set its own. */
export const PACK_ENFORCEMENT: EnforcementLevel = "mandatory";

/** Facts only the offline engine has (see the header). */
export interface OfflineFacts {
    /** Input paths whose value is a Pulumi secret, in the engine's `a.b[0].c` form. */
    secretPaths: string[];
    /** The resource's retainOnDelete option. */
    retainOnDelete: boolean;
    /** Strings the program derived from secrets (components/secrets.ts `sensitive`). */
    sensitive: string[];
}

/** CrossGuard's args, plus what the offline engine adds. */
export type IncantValidationArgs = ResourceValidationArgs & { offline?: OfflineFacts };

type Props = Record<string, unknown>;

export const SEC_GROUP = "openstack:networking/secGroup:SecGroup";
export const SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule";
export const INSTANCE = "openstack:compute/instance:Instance";
export const VOLUME_TYPES = [
    "openstack:blockstorage/volume:Volume",
    "openstack:blockstorage/volumeV1:VolumeV1",
    "openstack:blockstorage/volumeV2:VolumeV2",
    "openstack:blockstorage/volumeV3:VolumeV3",
];
export const K8S_SECRET = "kubernetes:core/v1:Secret";
export const K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
export const HELM_TYPES = ["kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"];

/**
 * Namespaces allowed privileged pods and host namespaces: the cluster's own registry, where each
 * has its reason (CVMFS CSI node plugin, Calico, node-exporter), so Pod Security labels and this
 * policy never disagree.
 */
export const PRIVILEGED_NAMESPACES = Object.keys(CLUSTER_PRIVILEGED_NAMESPACES);

const isStorageVm = (args: ResourceValidationArgs): boolean =>
    args.type === INSTANCE && (args.props.metadata as Props | undefined)?.role === "storage";

// --- Network ------------------------------------------------------------------------------

/**
 * How many source addresses one ingress rule may admit, by default: a /8 (16,777,216). Openness is
 * measured by address count, not by spelling: 0.0.0.0/1 and 128.0.0.0/1 are as open as 0.0.0.0/0.
 * The configuration is stricter (components/config/cidr.ts CIDR_LIMITS: /15 per entry, 2^20 per
 * list, with a reviewed override); this is the backstop no stack setting lifts.
 */
export const MAX_RULE_ADDRESSES = 2 ** 24;
/** The same for IPv6 sources: a /48 (one site's allocation). */
export const MAX_RULE_ADDRESSES_V6 = 2 ** 80;

/** How many addresses a remoteIpPrefix admits, or undefined when it is not a CIDR. */
export function prefixAddresses(prefix: string): { count: number; family: "IPv4" | "IPv6" } | undefined {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(prefix.trim());
    if (!m) return undefined;
    const bits = Number(m[2]);
    if (m[1].includes(":")) return bits <= 128 ? { count: 2 ** (128 - bits), family: "IPv6" } : undefined;
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(m[1]) && bits <= 32 ? { count: 2 ** (32 - bits), family: "IPv4" } : undefined;
}

/**
 * Ingress comes from the operators' and users' CIDRs or from other roles' groups
 * (components/network/ports.ts). Egress to 0.0.0.0/0 is intended (ports.ts EGRESS) and allowed.
 * A rule that must be world-open is named in the policy config `allowedRules` with its reason.
 */
export const noWorldIngress: ResourceValidationPolicy = {
    name: "no-world-ingress",
    description: "Security groups admit ingress only from named networks or groups: no rule admits more than a /8 of IPv4 (or a /48 of IPv6) by address count, no rule without a remote, no Neutron default rules.",
    configSchema: {
        properties: {
            allowedRules: { type: "array", items: { type: "string" }, default: [], description: "SecGroupRule resource names allowed to be world-open (document why in docs/security.md)." },
            maxAddresses: { type: "number", default: MAX_RULE_ADDRESSES, description: "Most IPv4 source addresses one ingress rule may admit." },
        },
    },
    validateResource: (args, report) => {
        const p = args.props;
        if (args.type === SEC_GROUP && p.deleteDefaultRules !== true) {
            report(`security group "${p.name ?? args.name}" keeps Neutron's default rules: set deleteDefaultRules: true and write every rule explicitly`);
        }
        if (args.type !== SEC_GROUP_RULE || p.direction !== "ingress") return;
        const config = args.getConfig<{ allowedRules?: string[]; maxAddresses?: number }>();
        if ((config.allowedRules ?? []).includes(args.name)) return;
        const rule = `ingress rule "${p.description ?? args.name}"`;
        const prefix = typeof p.remoteIpPrefix === "string" ? p.remoteIpPrefix : undefined;
        const fix = "name the networks (incant:network.adminCidrs or userCidrs) or list the rule in allowedRules";
        if (prefix) {
            const size = prefixAddresses(prefix);
            const max = size?.family === "IPv6" ? MAX_RULE_ADDRESSES_V6 : config.maxAddresses ?? MAX_RULE_ADDRESSES;
            const n = (x: number) => x.toLocaleString("en-US");
            if (!size) report(`${rule} has remoteIpPrefix ${JSON.stringify(prefix)}, which is not a CIDR`);
            else if (size.count > max) report(`${rule} is open to ${prefix} (${n(size.count)} addresses, over the ${n(max)} one rule may admit): ${fix}`);
        } else if (!p.remoteGroupId) {
            report(`${rule} has neither remoteIpPrefix nor remoteGroupId, which Neutron reads as any source`);
        }
    },
};

// --- Stateful storage -----------------------------------------------------------------------

/**
 * The data volume holds homes, scratch and the rclone cache: `protect` stops any update or
 * destroy from deleting it, `retainOnDelete` keeps it in OpenStack if it leaves the program.
 */
export const dataVolumesProtected: ResourceValidationPolicy = {
    name: "data-volumes-protected",
    description: "Cinder data volumes are protected and retained on delete; the storage VM never deletes a data disk with itself.",
    validateResource: (args: IncantValidationArgs, report) => {
        if (VOLUME_TYPES.includes(args.type)) {
            const volume = `data volume "${args.props.name ?? args.name}"`;
            if (!args.opts.protect) report(`${volume} is not protected: set protect: true`);
            // Not visible to CrossGuard 1.21: checked by the offline render only.
            if (args.offline && !args.offline.retainOnDelete) report(`${volume} is not retainOnDelete: set retainOnDelete: true`);
        }
        if (isStorageVm(args)) {
            const devices = (args.props.blockDevices ?? []) as { bootIndex?: number; deleteOnTermination?: boolean }[];
            devices.forEach((d, i) => {
                if (d.bootIndex !== 0 && d.deleteOnTermination) {
                    report(`storage VM "${args.props.name}" deletes block device ${i} with the server: keep data on a separate protected volume`);
                }
            });
        }
    },
};

/**
 * Replacing the storage VM (any user-data change does) interrupts every NFS client: protecting
 * it turns an accidental replacement into an explicit `pulumi state unprotect`.
 */
export const storageVmProtected: ResourceValidationPolicy = {
    name: "storage-vm-protected",
    description: "The storage controller VM is protected, so replacing it is a deliberate step.",
    validateResource: (args, report) => {
        if (isStorageVm(args) && !args.opts.protect) {
            report(`storage VM "${args.props.name}" is not protected: a replacement interrupts every NFS client; protect it and unprotect deliberately to replace it`);
        }
    },
};

/**
 * A control plane holds an etcd member (with one control plane: the whole cluster state); a
 * replacement (a new image, a new Kubernetes version, any user-data change) re-bootstraps it.
 * Protected, that takes the deliberate path of docs/operations.md instead of a plain `pulumi up`.
 */
export const controlPlanesProtected: ResourceValidationPolicy = {
    name: "control-planes-protected",
    description: "Control-plane VMs are protected, so replacing one (and its etcd member) is a deliberate step.",
    validateResource: (args, report) => {
        if (args.type === INSTANCE && (args.props.metadata as Props | undefined)?.role === "control-plane" && !args.opts.protect) {
            report(`control plane "${args.props.name}" is not protected: a replacement re-bootstraps its etcd member; protect it and unprotect deliberately to replace it`);
        }
    },
};

// --- Workloads ----------------------------------------------------------------------------

const HOST_NAMESPACES = ["hostNetwork", "hostPID", "hostIPC"] as const;
const ROOT_CAPABILITIES = ["ALL", "SYS_ADMIN", "CAP_SYS_ADMIN"];

/**
 * No privileged container, no host namespace, no SYS_ADMIN in pods outside the allowlist (e.g.
 * the CVMFS CSI node plugin must mount FUSE on the host). On the submit host, Docker containers are
 * never privileged nor share the host's PID/IPC namespaces; the CVMFS service container's
 * SYS_ADMIN + /dev/fuse and host networking are the documented design there (FACTS.md).
 */
export const noPrivilegedWorkloads: ResourceValidationPolicy = {
    name: "no-privileged-workloads",
    description: "No privileged container, host namespace or SYS_ADMIN outside the namespaces of components/kubernetes/podsecurity.ts (cvmfs-csi, Calico, node-exporter).",
    configSchema: {
        properties: {
            namespaces: { type: "array", items: { type: "string" }, default: PRIVILEGED_NAMESPACES, description: "Namespaces exempt from this policy." },
        },
    },
    validateResource: (args, report) => {
        if (args.type === DOCKER_CONTAINER) {
            const c = args.props as DockerContainer;
            const name = `container "${c.name ?? args.name}"`;
            if (c.privileged) report(`${name} is privileged`);
            if (c.pidMode === "host") report(`${name} shares the host PID namespace (pidMode host)`);
            if (c.ipcMode === "host") report(`${name} shares the host IPC namespace (ipcMode host)`);
            return;
        }
        const w = workloadOf(args.type, args.props, args.name);
        if (!w) return;
        const allowed = args.getConfig<{ namespaces?: string[] }>().namespaces ?? PRIVILEGED_NAMESPACES;
        if (allowed.includes(w.namespace)) return;
        for (const field of HOST_NAMESPACES) {
            if (w.spec[field]) report(`${describe(w)} sets ${field}`);
        }
        for (const c of containersOf(w.spec)) {
            if (c.securityContext?.privileged) report(`${describe(w)}: container "${c.name}" is privileged`);
            const root = (c.securityContext?.capabilities?.add ?? []).filter((cap) => ROOT_CAPABILITIES.includes(cap));
            if (root.length) report(`${describe(w)}: container "${c.name}" adds capability ${root.join(", ")}`);
        }
    },
};

const RESOURCE_FIELDS = [["requests", "cpu"], ["requests", "memory"], ["limits", "cpu"], ["limits", "memory"]] as const;

/** Every Kubernetes container states its requests and limits (slots are sized from them). */
export const containerResources: ResourceValidationPolicy = {
    name: "container-resources",
    description: "Every Kubernetes container sets requests and limits for cpu and memory.",
    validateResource: (args, report) => {
        const w = workloadOf(args.type, args.props, args.name);
        if (!w) return;
        for (const c of containersOf(w.spec)) {
            const missing = RESOURCE_FIELDS.filter(([kind, res]) => c.resources?.[kind]?.[res] === undefined).map(([k, r]) => `${k}.${r}`);
            if (missing.length) report(`${describe(w)}: container "${c.name}" has no resources ${missing.join(", ")}`);
        }
    },
};

/** Images carry a version tag or a digest, never `latest` or nothing. */
export const imagesPinned: ResourceValidationPolicy = {
    name: "images-pinned",
    description: "Every container image (Kubernetes workloads, docker.Container, docker.RemoteImage, docker.Image) is pinned by tag or digest, never latest or untagged.",
    validateResource: (args, report) => {
        const check = (what: string, image: unknown) => {
            if (typeof image !== "string" || image === "") return;
            const reason = unpinnedReason(image);
            if (reason) report(`${what} image "${image}" ${reason}`);
        };
        if (args.type === DOCKER_CONTAINER) check(`container "${args.props.name ?? args.name}"`, args.props.image);
        if (args.type === DOCKER_REMOTE_IMAGE) check("remote", args.props.name);
        if (args.type === DOCKER_IMAGE) check("built", args.props.imageName);
        const w = workloadOf(args.type, args.props, args.name);
        for (const c of w ? containersOf(w.spec) : []) check(`${describe(w!)}: container "${c.name}"`, c.image);
    },
};

/** A chart without an exact version follows the repository's newest release. */
export const chartsPinned: ResourceValidationPolicy = {
    name: "charts-pinned",
    description: "Every Helm release names an exact chart version.",
    validateResource: (args, report) => {
        if (!HELM_TYPES.includes(args.type)) return;
        const version = args.props.version;
        if (typeof version !== "string" || !/^v?\d+\.\d+\.\d+([-+][\w.-]+)?$/.test(version)) {
            report(`Helm release "${args.props.name ?? args.name}" of chart "${args.props.chart}" has no exact version (got ${JSON.stringify(version ?? null)})`);
        }
    },
};

// --- Secrets ------------------------------------------------------------------------------

/** Env names that hold credentials; a suffix like _FILE or _DIR (a path) does not match. */
const SECRET_ENV_RE = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_?KEY|ACCESS_?KEY|API_?KEY)(_ID)?$/i;
/** ConfigMap keys that name a credential file ("pool-token", "admin_password"). */
const SECRET_KEY_NAME_RE = /^(.*[-_.])?(password|passwd|secret|token|private[-_.]?key)$/i;
/** Private keys and JWTs (IDTOKENs, SciTokens). */
const SECRET_MATERIAL_RE = /-----BEGIN [A-Z ]*PRIVATE KEY-----|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/;

function literalSecretEnv(env: K8sContainer["env"]): string[] {
    return (env ?? []).filter((e) => e.name && SECRET_ENV_RE.test(e.name) && typeof e.value === "string" && e.value !== "").map((e) => e.name!);
}

/**
 * What CrossGuard can see of secrets in clear: credentials in ConfigMaps (readable by anyone
 * who may read ConfigMaps), and credentials as literal env values (visible in the pod spec or
 * `docker inspect`). Messages never quote the value.
 */
export const noPlaintextSecrets: ResourceValidationPolicy = {
    name: "no-plaintext-secrets",
    description: "No credential in a ConfigMap or as a literal environment value: use Secrets (secretKeyRef) or mounted files.",
    validateResource: (args, report) => {
        if (args.type === K8S_CONFIG_MAP) {
            const meta = (args.props.metadata ?? {}) as Props;
            const where = `ConfigMap ${meta.namespace ?? "default"}/${meta.name ?? args.name}`;
            for (const [key, value] of Object.entries((args.props.data ?? {}) as Record<string, unknown>)) {
                if (SECRET_KEY_NAME_RE.test(key)) report(`${where} key "${key}" is named like a credential: put it in a Secret`);
                else if (typeof value === "string" && SECRET_MATERIAL_RE.test(value)) report(`${where} key "${key}" holds a private key or token: put it in a Secret`);
            }
        }
        if (args.type === DOCKER_CONTAINER) {
            const c = args.props as DockerContainer;
            const names = (c.envs ?? []).map((e) => e.split("=", 2)).filter(([n, v]) => SECRET_ENV_RE.test(n) && v).map(([n]) => n);
            for (const n of names) report(`container "${c.name ?? args.name}" env ${n} is a literal value: mount it as a file readable only by its user`);
        }
        const w = workloadOf(args.type, args.props, args.name);
        for (const c of w ? containersOf(w.spec) : []) {
            for (const n of literalSecretEnv(c.env)) report(`${describe(w!)}: container "${c.name}" env ${n} is a literal value: use valueFrom.secretKeyRef`);
        }
    },
};

/** Input keys that are credentials wherever they appear (provider passwords, Helm values...). */
const SENSITIVE_KEY_RE = /(password|passwd|secret|privatekey|private_key|token|kubeconfig)$/i;

/** Every string leaf of a property bag with its path in the engine's `a.b[0].c` form. */
export function stringLeaves(value: unknown, at = ""): [string, string][] {
    if (typeof value === "string") return [[at, value]];
    if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, `${at}[${i}]`));
    if (value && typeof value === "object") {
        return Object.entries(value as Props).flatMap(([k, v]) => stringLeaves(v, at ? `${at}.${k}` : k));
    }
    return [];
}

/** True when `path` is a secret path or lies inside one. */
export function isSecretPath(path: string, secretPaths: string[]): boolean {
    return secretPaths.some((s) => path === s || path.startsWith(`${s}.`) || path.startsWith(`${s}[`));
}

/**
 * Values that must be Pulumi secrets are secrets, so the state and previews never hold them in
 * clear: a Kubernetes Secret's data, inputs named like credentials, and anything embedding a
 * value the program derived from a secret. CrossGuard unwraps secrets before policies run, so
 * under the engine this is not applicable; the offline render enforces it.
 */
export const secretInputsAreSecret: ResourceValidationPolicy = {
    name: "secret-inputs-are-secret",
    description: "Kubernetes Secret data, credential-named inputs and values derived from secrets are Pulumi secrets (checked offline: CrossGuard does not show secrecy).",
    validateResource: (args: IncantValidationArgs, report: ReportViolation) => {
        const facts = args.offline;
        if (!facts) args.notApplicable("CrossGuard unwraps secrets before policies run; `npm run render` checks this offline");
        for (const [path, value] of stringLeaves(args.props)) {
            if (value === "" || isSecretPath(path, facts.secretPaths)) continue;
            const key = path.replace(/\[\d+\]$/, "").split(".").pop() ?? "";
            const why = args.type === K8S_SECRET && /^(data|stringData)\./.test(path) ? "holds a Kubernetes Secret's data"
                : SENSITIVE_KEY_RE.test(key) ? "is named like a credential"
                    : facts.sensitive.some((s) => value.includes(s)) ? "embeds a value derived from a secret"
                        : undefined;
            if (why) report(`input ${path} ${why} but is not a Pulumi secret: use pulumi.secret or config.requireSecret`);
        }
    },
};

/** The pack, in the order reports list them. */
export const POLICIES: ResourceValidationPolicy[] = [
    noWorldIngress,
    dataVolumesProtected,
    storageVmProtected,
    controlPlanesProtected,
    noPrivilegedWorkloads,
    containerResources,
    imagesPinned,
    chartsPinned,
    noPlaintextSecrets,
    secretInputsAreSecret,
];
