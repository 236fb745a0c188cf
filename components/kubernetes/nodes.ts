/**
 * The cloud-init of Kubernetes nodes: pure functions from typed inputs to CloudConfig parts
 * that extend the base VM config (components/compute/base.ts).
 *
 * Boot order on every node (cloud-init final stage, output in /var/log/cloud-init-output.log):
 *   1. packages (curl, gpg, ...) from the Ubuntu archive;
 *   2. /usr/local/sbin/incant-node-setup: modules, sysctls, containerd, pinned kube packages;
 *   3. /usr/local/sbin/incant-kubeadm: kubeadm init (first control plane) or join, with retries
 *      (join tokens: join-tokens.ts; extra control planes mint theirs with the CA they hold);
 *   4. control planes: the daily incant-renew-certificates.timer (kubeadm's certificates last a year).
 * Both scripts read /etc/incant/kubernetes.env (every path they share with this file is in it)
 * and log lines tagged "incant-kubernetes".
 */
import * as path from "path";
import { baseCloudConfig, extendCloudConfig } from "../compute/base";
import { CloudConfig, VmIdentity, WriteFile, readScript, renderCloudConfig, renderEnvFile } from "../compute/cloudinit";
import { IniSection, renderIni, systemdCommand } from "../compute/ini";
import {
    ClusterSettings, KERNEL_MODULES, NodeSettings, PATHS, SYSCTLS, admissionConfiguration, auditPolicy,
    encryptionConfiguration, renderDocuments, renderInitConfig, renderJoinConfig, renderSysctls,
} from "./kubeadm";
import { EXEMPT_NAMESPACES } from "./podsecurity";
import { KEEPALIVED_PATHS, keepalivedConf } from "./keepalived";
import { API_SERVER_PORT } from "../network/ports";
import { METADATA_SERVICE_CIDR } from "./calico";
import { containerdConfig, kubernetesMinor } from "./versions";
import { INIT_TOKEN_TTL, MINTED_TOKEN_PLACEHOLDER, REGISTER_TOKEN_PATH } from "./join-tokens";
import YAML from "yaml";

/** The signing key of pkgs.k8s.io (isv:kubernetes OBS Project), checked before it is trusted. */
export const KUBERNETES_APT_KEY_FINGERPRINT = "DE15B14486CD377B9E876E1A234654DA9A296436";

/** How long a node keeps trying to init or join before it reports failure. */
export const JOIN_DEADLINE_SECONDS = 3600;
export const JOIN_RETRY_SECONDS = 20;
/**
 * kubeadm's leaf certificates last a year: control planes renew them once fewer than this many
 * days are left (checked daily), long before expiry and with time to notice a failed renewal.
 */
export const CERT_RENEW_BEFORE_DAYS = 60;
/** How long the renewal waits for a static pod to stop, then to run again. */
export const CERT_RESTART_TIMEOUT_SECONDS = 180;

export const NODE_PATHS = {
    env: "/etc/incant/kubernetes.env",
    setup: "/usr/local/sbin/incant-node-setup",
    bootstrap: "/usr/local/sbin/incant-kubeadm",
    renewCertificates: "/usr/local/sbin/incant-renew-certificates",
    metadataGuard: "/usr/local/sbin/incant-metadata-guard",
    /** A first control plane's control-plane join: used instead of init when it replaces a lost one (3 control planes). */
    rejoinConfig: "/etc/kubernetes/incant/kubeadm-rejoin.yaml",
    containerdConfig: "/etc/incant/containerd-config.toml",
    modulesFile: "/etc/modules-load.d/incant-kubernetes.conf",
    /** The scripts' markers: node-prepared (setup done), kubernetes-joined (init or join done). */
    stateDir: "/var/lib/incant",
    /** kubeadm's own directory: kubelet.conf there means the node has joined; pki/ is restored before each attempt. */
    k8sDir: "/etc/kubernetes",
    kubeadmConfig: "/etc/kubernetes/incant/kubeadm.yaml",
    /** The program's PKI, copied into /etc/kubernetes/pki before each kubeadm attempt. */
    pkiSource: "/etc/kubernetes/incant/pki",
    /** tmpfs: a control plane's join config with the token it minted, and the short-lived admin credential. */
    runDir: "/run/incant",
} as const;

const SCRIPTS = path.join(__dirname, "scripts");

export type NodeRole = "init" | "control-plane" | "worker";

/** With 3 control planes: the API's virtual address, held by keepalived (keepalived.ts). */
export interface HighAvailability {
    vip: string;
    /** The subnet's prefix length (the address is added to the node's interface with it). */
    prefixLength: number;
    /** The other control planes' addresses. */
    peers: string[];
    /** keepalived priority of this node (first election only). */
    priority: number;
}

export interface NodeCommon {
    node: NodeSettings;
    role: NodeRole;
    /** "22.04" | "24.04": checked on the node against /etc/os-release. */
    ubuntuRelease: string;
    /** Minor (repository) and exact package version. */
    kubernetesMinor: string;
    kubernetesVersion: string;
    /** host:port of the API: the virtual address with 3 control planes, else the first control plane's. */
    apiEndpoint: string;
    /** "sha256:<hex>" of the cluster CA's public key, pinned by every join. */
    caCertHash: string;
    /**
     * "https://<address>:6443" of the control plane this one joins after (extra control planes):
     * etcd refuses concurrent member additions, so they join one at a time, on readiness.
     */
    joinAfter?: string;
}

/** The pause image of a minor that config validation accepted (components/kubernetes/versions.ts). */
function pauseImageFor(minor: string): string {
    const m = kubernetesMinor(minor);
    if (!m) throw new Error(`Kubernetes ${minor} is not in components/kubernetes/versions.ts (config validation lets none through)`);
    return m.pauseImage;
}

/** Files and commands every Kubernetes node has. */
export function nodeBase(c: NodeCommon, extraEnv: Record<string, string> = {}): CloudConfig {
    const env = renderEnvFile({
        NODE_ROLE: c.role,
        NODE_NAME: c.node.name,
        UBUNTU_RELEASE: c.ubuntuRelease,
        KUBERNETES_MINOR: c.kubernetesMinor,
        KUBERNETES_VERSION: c.kubernetesVersion,
        KUBERNETES_APT_KEY_FINGERPRINT,
        API_ENDPOINT: c.apiEndpoint,
        KUBEADM_CONFIG: NODE_PATHS.kubeadmConfig,
        PKI_SOURCE: NODE_PATHS.pkiSource,
        MODULES_FILE: NODE_PATHS.modulesFile,
        CONTAINERD_CONFIG: NODE_PATHS.containerdConfig,
        STATE_DIR: NODE_PATHS.stateDir,
        K8S_DIR: NODE_PATHS.k8sDir,
        DEADLINE_SECONDS: JOIN_DEADLINE_SECONDS,
        RETRY_SECONDS: JOIN_RETRY_SECONDS,
        JOIN_AFTER: c.joinAfter ?? "",
        NODE_ADDRESS: c.node.address,
        API_SERVER_PORT,
        CERT_RENEW_BEFORE_DAYS,
        CERT_RESTART_TIMEOUT_SECONDS,
        // Read by the bootstrap script on every node; set only on a first control plane with 3.
        REJOIN_CONFIG: "",
        METADATA_ADDRESS: METADATA_SERVICE_CIDR.replace(/\/32$/, ""),
        // Control-plane joins: a config holding the placeholder gets a token minted at join time.
        MINTED_TOKEN_PLACEHOLDER,
        RUN_DIR: NODE_PATHS.runDir,
        // The first control plane deletes its init token once init succeeded.
        INIT_TOKEN_ID: "",
        ...extraEnv,
    });
    return {
        packages: ["ca-certificates", "curl", "gpg", "apt-transport-https", "iptables"],
        write_files: [
            { path: NODE_PATHS.env, content: env, permissions: "0644" },
            { path: NODE_PATHS.modulesFile, content: KERNEL_MODULES.join("\n") + "\n", permissions: "0644" },
            { path: "/etc/sysctl.d/90-incant-kubernetes.conf", content: renderSysctls(SYSCTLS), permissions: "0644" },
            { path: NODE_PATHS.containerdConfig, content: containerdConfig(pauseImageFor(c.kubernetesMinor)), permissions: "0644" },
            // crictl talks to containerd without flags: handy when debugging a node.
            { path: "/etc/crictl.yaml", content: YAML.stringify({ "runtime-endpoint": PATHS.criSocket, "image-endpoint": PATHS.criSocket }), permissions: "0644" },
            { path: NODE_PATHS.setup, content: readScript(SCRIPTS, "node-setup.sh"), permissions: "0755" },
            { path: NODE_PATHS.bootstrap, content: readScript(SCRIPTS, "kubeadm-bootstrap.sh"), permissions: "0755" },
            { path: NODE_PATHS.metadataGuard, content: readScript(SCRIPTS, "metadata-guard.sh"), permissions: "0755" },
            { path: `/etc/systemd/system/${METADATA_GUARD_UNIT}`, content: renderIni(metadataGuardUnit(), { separator: "=" }), permissions: "0644" },
        ],
        runcmd: [["systemctl", "enable", "--now", METADATA_GUARD_UNIT], [NODE_PATHS.setup], [NODE_PATHS.bootstrap]],
    };
}

/** What only control planes carry: the shared PKI, the API server's policy files, the init or join config. */
interface ControlPlaneCommon extends NodeCommon {
    /** Files for /etc/kubernetes/pki, path relative to it -> PEM. */
    pki: Record<string, string>;
    encryptionKey: string;
    /** 3 control planes: keepalived and, on the first, a join to use when it replaces a lost one. */
    ha?: HighAvailability;
}

/**
 * Only the first control plane (init) writes the ClusterConfiguration. Its version and endpoint
 * are the node's own (`kubernetesVersion`, `apiEndpoint`), so they are not repeated here.
 */
export type InitClusterSettings = Omit<ClusterSettings, "kubernetesVersion" | "controlPlaneEndpoint">;

export type ControlPlaneArgs =
    | ControlPlaneCommon & { role: "init"; cluster: InitClusterSettings; initToken: { id: string; token: string } }
    | ControlPlaneCommon & { role: "control-plane" };

export interface WorkerArgs extends NodeCommon {
    role: "worker";
    /** This worker's own token (join-tokens.ts workerJoinToken), or the template's stand-in. */
    joinToken: string;
    /** Directories for Kubernetes local volumes (root-only), made before the node joins. */
    directories?: string[];
}

const secretFile = (p: string, content: string): WriteFile => ({ path: p, content, permissions: "0600" });

const RENEWAL_UNIT = "incant-renew-certificates";
const METADATA_GUARD_UNIT = "incant-metadata-guard.service";

/**
 * The metadata service for root only (scripts/metadata-guard.sh), at every boot before containerd
 * and kubelet start any host-network pod.
 */
export function metadataGuardUnit(): IniSection[] {
    return [
        { name: "Unit", entries: {
            Description: "Keep the OpenStack metadata service to root (INCANT)",
            After: "network-pre.target", Before: "containerd.service kubelet.service",
        } },
        { name: "Service", entries: { Type: "oneshot", RemainAfterExit: "yes", ExecStart: systemdCommand([NODE_PATHS.metadataGuard]) } },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ];
}

/**
 * The daily renewal of kubeadm's certificates on a control plane (scripts/renew-certificates.sh):
 * a oneshot service and its timer. Persistent: a run missed while the VM was off happens at boot;
 * the random delay keeps the control planes from restarting their API servers together.
 */
export function certificateRenewalUnits(): Record<string, IniSection[]> {
    return {
        [`${RENEWAL_UNIT}.service`]: [
            { name: "Unit", entries: { Description: "Renew kubeadm's certificates before they expire (INCANT)", After: "kubelet.service containerd.service" } },
            { name: "Service", entries: { Type: "oneshot", ExecStart: systemdCommand([NODE_PATHS.renewCertificates]) } },
        ],
        [`${RENEWAL_UNIT}.timer`]: [
            { name: "Unit", entries: { Description: "Daily check of kubeadm's certificates (INCANT)" } },
            { name: "Timer", entries: { OnCalendar: "daily", RandomizedDelaySec: "6h", Persistent: "true" } },
            { name: "Install", entries: { WantedBy: "timers.target" } },
        ],
    };
}

/** The kubeadm config: init on the first control plane, a (control-plane or worker) join elsewhere. */
function kubeadmFile(a: ControlPlaneArgs | WorkerArgs): WriteFile {
    const content = a.role === "init"
        ? renderInitConfig({
            cluster: { ...a.cluster, kubernetesVersion: a.kubernetesVersion, controlPlaneEndpoint: a.apiEndpoint },
            node: a.node, bootstrapToken: a.initToken.token, tokenTtl: INIT_TOKEN_TTL,
        })
        : renderJoinConfig({
            node: a.node, apiServerEndpoint: a.apiEndpoint, caCertHash: a.caCertHash,
            bootstrapToken: a.role === "worker" ? a.joinToken : MINTED_TOKEN_PLACEHOLDER,
            controlPlane: a.role === "control-plane",
        });
    return secretFile(NODE_PATHS.kubeadmConfig, content);
}

/** keepalived's files and its start, before kubeadm (the address follows a healthy API server). */
function keepalivedParts(a: ControlPlaneArgs, ha: HighAvailability): { files: WriteFile[]; env: Record<string, string> } {
    const files: WriteFile[] = [
        { path: KEEPALIVED_PATHS.config, permissions: "0644", content: keepalivedConf({ node: a.node, ...ha }) },
        { path: KEEPALIVED_PATHS.check, permissions: "0755", content: readScript(SCRIPTS, "apiserver-check.sh") },
        { path: KEEPALIVED_PATHS.setup, permissions: "0755", content: readScript(SCRIPTS, "keepalived-setup.sh") },
    ];
    // A replaced first control plane finds the cluster behind the address and joins it (kubeadm-bootstrap.sh).
    if (a.role === "init") {
        files.push(secretFile(NODE_PATHS.rejoinConfig, renderJoinConfig({
            node: a.node, apiServerEndpoint: a.apiEndpoint, bootstrapToken: MINTED_TOKEN_PLACEHOLDER, caCertHash: a.caCertHash, controlPlane: true,
        })));
    }
    return { files, env: { API_VIP: ha.vip, KEEPALIVED_INTERFACE_FILE: KEEPALIVED_PATHS.interfaceFile, REJOIN_CONFIG: a.role === "init" ? NODE_PATHS.rejoinConfig : "" } };
}

export function controlPlaneNode(a: ControlPlaneArgs): CloudConfig {
    const ha = a.ha ? keepalivedParts(a, a.ha) : undefined;
    const base = nodeBase(a, { ...ha?.env, ...(a.role === "init" ? { INIT_TOKEN_ID: a.initToken.id } : {}) });
    const pki = Object.entries(a.pki).map(([name, pem]): WriteFile => name.endsWith(".key")
        ? secretFile(`${NODE_PATHS.pkiSource}/${name}`, pem)
        : { path: `${NODE_PATHS.pkiSource}/${name}`, content: pem, permissions: "0644" });
    return {
        ...base,
        write_files: [
            ...base.write_files!,
            ...pki,
            kubeadmFile(a),
            secretFile(PATHS.encryptionConfig, renderDocuments([encryptionConfiguration(a.encryptionKey)])),
            secretFile(PATHS.auditPolicy, renderDocuments([auditPolicy()])),
            secretFile(PATHS.admissionConfig, renderDocuments([admissionConfiguration(EXEMPT_NAMESPACES)])),
            { path: NODE_PATHS.renewCertificates, content: readScript(SCRIPTS, "renew-certificates.sh"), permissions: "0755" },
            // The program registers each worker's token through it (over SSH, the token on stdin).
            { path: REGISTER_TOKEN_PATH, content: readScript(SCRIPTS, "register-join-token.sh"), permissions: "0755" },
            ...Object.entries(certificateRenewalUnits()).map(([unit, sections]): WriteFile => ({
                path: `/etc/systemd/system/${unit}`, content: renderIni(sections, { separator: "=" }), permissions: "0644",
            })),
            ...ha?.files ?? [],
        ],
        // openssl signs the short-lived admin certificate a joining control plane mints its token with.
        packages: [...base.packages!, "openssl", ...(a.ha ? ["keepalived"] : [])],
        runcmd: [
            // keepalived starts just before kubeadm (the address follows a healthy API server).
            ...base.runcmd!.flatMap((c) => c[0] === NODE_PATHS.bootstrap && a.ha ? [[KEEPALIVED_PATHS.setup], c] : [c]),
            // After init or join, so the first check sees kubeadm's certificates.
            ["systemctl", "enable", "--now", `${RENEWAL_UNIT}.timer`],
        ],
    };
}

export function workerNode(a: WorkerArgs): CloudConfig {
    const base = nodeBase(a);
    const directories = a.directories?.length ? [["install", "-d", "-m", "0700", ...a.directories]] : [];
    return {
        ...base,
        write_files: [...base.write_files!, kubeadmFile(a)],
        runcmd: [...directories, ...base.runcmd!],
    };
}

/**
 * A worker's whole user-data. The program renders it once, with VM_STANDIN, and gives each worker
 * a copy with its own name and address (fillVmTemplate in compute/cloudinit.ts).
 */
export function renderWorkerUserData(vm: VmIdentity, a: Omit<WorkerArgs, "node" | "role"> & { externalCloudProvider?: boolean },
    sshPublicKey: string): string {
    const { externalCloudProvider, ...rest } = a;
    return renderCloudConfig(extendCloudConfig(
        baseCloudConfig({ name: vm.name, role: "worker" }, { sshPublicKey }),
        workerNode({ ...rest, node: { ...vm, externalCloudProvider }, role: "worker" })));
}
