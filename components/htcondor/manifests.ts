/**
 * The pool's Kubernetes objects, as typed data (pure functions; pool.ts registers them).
 *
 * Pods follow Pod Security "baseline" (the namespace enforces it; "restricted" is only warned
 * about, because HTCondor's master must run as root to start jobs as their owners): not
 * privileged, every capability dropped and only the baseline-permitted ones the daemons need
 * added back, RuntimeDefault seccomp, no privilege escalation, no service-account token,
 * requests = limits for the workers (Guaranteed QoS: the slot is exactly the request).
 * Shared storage is mounted by the kubelet (NFS PersistentVolumes, the CVMFS CSI driver), never
 * by a privileged container.
 */
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FlavorSize } from "../config/schema";
import { METADATA_SERVICE_CIDR } from "../kubernetes/calico";
import { vmAddress } from "../network/addressing";
import { SUBMIT_TOOL_PORTS } from "../network/ports";
import { NfsShare } from "../storage/types";
import { NFS_CLIENT_OPTIONS } from "../storage/nfs";
import { archivePodVolume } from "../storage/archive-csi";
import { DRAIN, PATHS, WORKER_EXECUTE_SIZE_LIMIT_GIB, WORKER_PORT } from "./config";
import { cvmfsVolumeMounts, CVMFS_CLAIM } from "./cvmfs";
import { HEALTH_DIR, HEALTH_SCRIPTS, workerProbes } from "./health";
import { EXPORTER_SCRIPT, METRICS_DIR } from "../observability/metrics";
import { COLLECTOR_SERVICE, PART_OF, SCHEDD_SERVICE } from "./types";
import { CREDMON_DIR, CREDMON_SCRIPT } from "./credentials";
import { USERS_CONFIGMAP, USERS_PATHS, USERS_SCRIPT, usersVolumeItems } from "./users";

type Input<T> = pulumi.Input<T>;
type PodSpec = k8s.types.input.core.v1.PodSpec;
type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;
type Metadata = k8s.types.input.meta.v1.ObjectMeta;
type PvSpec = k8s.types.input.core.v1.PersistentVolumeSpec;

/** The three daemons of the pool. */
export type PoolRole = "central-manager" | "scheduler" | "worker";

/** Kubernetes object names of the pool's Secrets. */
export const SECRETS = {
    signingKey: "htcondor-pool-signing-key",
    startdToken: "htcondor-startd-token",
    scheddToken: "htcondor-schedd-token",
    autoscalerToken: "htcondor-autoscaler-token",
    centralManagerTls: "htcondor-central-manager-tls",
    schedulerTls: "htcondor-scheduler-tls",
} as const;

/** Key of the role's HTCondor configuration inside its ConfigMap (copied to config.d by the image). */
export const CONFIG_KEY = "50-incant.conf";
/** The annotation whose change restarts a role's pods (configuration files, TLS certificates; not the tokens nor the key: pool.ts podChecksum). */
export const CHECKSUM_ANNOTATION = "incant.cloud.infn.it/config-checksum";

const selectorLabels = (role: PoolRole) => ({ "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": role });

export function labels(role: PoolRole): Record<string, string> {
    return { ...selectorLabels(role), ...PART_OF };
}

/**
 * The pool's namespace: the cluster's Pod Security defaults (baseline enforced, restricted
 * warned and audited; components/kubernetes/podsecurity.ts), stated on the namespace too.
 */
export function poolNamespace(name: string): { metadata: Metadata } {
    return {
        metadata: {
            name,
            labels: {
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                ...PART_OF,
            },
        },
    };
}

/** cpu/memory requests (= limits for workers). */
export type Resources = {
    cpu: string;
    memory: string;
};

/**
 * A worker pod's size on a node of `size`: one core and 2.5 GiB stay for the kubelet, Calico, the
 * CVMFS node plugin and the central manager or scheduler pod that may share the node. Whole cores,
 * because the downward API rounds a fractional CPU request up when it hands NUM_CPUS to the slot.
 */
export function workerResources(size: FlavorSize): Resources {
    const cpu = Math.max(1, size.vcpus - 1);
    const memoryMi = Math.max(1024, size.ramGb * 1024 - 2560);
    return { cpu: String(cpu), memory: `${memoryMi}Mi` };
}

/** Requests and limits of the central manager and scheduler (small requests: they share workers' nodes). */
export const SERVICE_RESOURCES: Record<Exclude<PoolRole, "worker">, { requests: Resources; limits: Resources }> = {
    "central-manager": { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
    scheduler: { requests: { cpu: "200m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
};

/**
 * Capabilities added back after dropping ALL (all in the baseline set): the root master and
 * starter switch to condor and to job owners (SETUID, SETGID), install secrets and sandboxes for
 * them (CHOWN, FOWNER) and manage files they own (DAC_OVERRIDE); schedd and startd signal
 * processes of other users (KILL). To be confirmed on a real pool (README.md, "Not verified").
 */
export function capabilities(role: PoolRole): string[] {
    const base = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"];
    return role === "central-manager" ? base : [...base, "KILL"];
}

/** NFS PersistentVolumes of the pool, bound one-to-one to claims in the namespace. */
export interface NfsVolume {
    /** Claim name (and PV name suffix). */
    name: "home" | "scratch";
    /** Mount path inside the pods. */
    mountPath: string;
    server: string;
    path: string;
    readOnly: boolean;
    /** Nominal: NFS does not enforce it, but a PV needs a capacity. */
    capacity: string;
}

export function nfsVolumes(share: NfsShare, dataVolumeGb: number): NfsVolume[] {
    return [
        { name: "home", mountPath: "/home", server: share.server, path: share.home, readOnly: false, capacity: `${dataVolumeGb}Gi` },
        { name: "scratch", mountPath: "/scratch", server: share.server, path: share.scratch, readOnly: false, capacity: `${dataVolumeGb}Gi` },
        // No archive over NFS: the storage controller does not serve the S3 bucket (stale handles,
        // issue 15). Workers mount it through the rclone CSI driver instead (DeploymentInputs.archive).
    ];
}

/** A PersistentVolume reserved for one claim, and that claim. */
export interface ReservedVolume {
    pv: { metadata: Metadata; spec: PvSpec };
    pvc: { metadata: Metadata; spec: k8s.types.input.core.v1.PersistentVolumeClaimSpec };
}

/** What sets one reserved volume apart from another. */
interface ReservedVolumeArgs {
    capacity: string;
    accessModes: string[];
    /** The volume source (nfs, or local with its volumeMode). */
    source: Pick<PvSpec, "nfs" | "local" | "volumeMode">;
    /** Nodes the volume is reachable on (a local volume must name its node). */
    nodes?: string[];
    mountOptions?: string[];
}

/**
 * A cluster-scoped PV `<namespace>-<claim>`, reserved for the claim (claimRef, no storage class)
 * and never deleted with it (Retain), and the claim in `namespace`, bound to it by name.
 */
function reservedVolume(namespace: string, claim: string, a: ReservedVolumeArgs): ReservedVolume {
    const pvName = `${namespace}-${claim}`;
    return {
        pv: {
            metadata: { name: pvName, labels: PART_OF },
            spec: {
                capacity: { storage: a.capacity },
                accessModes: a.accessModes,
                persistentVolumeReclaimPolicy: "Retain",
                storageClassName: "",
                ...(a.mountOptions ? { mountOptions: a.mountOptions } : {}),
                ...a.source,
                // Pods using the volume are scheduled on these nodes.
                ...(a.nodes ? { nodeAffinity: { required: { nodeSelectorTerms: [hostnameIn(a.nodes)] } } } : {}),
                claimRef: { namespace, name: claim },
            },
        },
        pvc: {
            metadata: { name: claim, namespace, labels: PART_OF },
            spec: {
                accessModes: a.accessModes,
                storageClassName: "",
                volumeName: pvName,
                resources: { requests: { storage: a.capacity } },
            },
        },
    };
}

/** The node selector term `kubernetes.io/hostname In nodes`. */
function hostnameIn(nodes: string[]): k8s.types.input.core.v1.NodeSelectorTerm {
    return { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: nodes }] };
}

/** The PV of one export and its claim `v.name`. */
export function nfsReservedVolume(v: NfsVolume, namespace: string): ReservedVolume {
    return reservedVolume(namespace, v.name, {
        capacity: v.capacity,
        accessModes: [v.readOnly ? "ReadOnlyMany" : "ReadWriteMany"],
        // The facility's one NFS client option list (NFSv4.2 over TCP 2049 only, hard mounts so a
        // storage-controller reboot pauses jobs instead of failing their I/O, nosuid/nodev).
        mountOptions: [...NFS_CLIENT_OPTIONS, ...(v.readOnly ? ["ro"] : [])],
        source: { nfs: { server: v.server, path: v.path, readOnly: v.readOnly } },
    });
}

/** Everything a role's Deployment is built from. */
export interface DeploymentInputs {
    role: PoolRole;
    namespace: string;
    image: Input<string>;
    replicas: number;
    /** Changes whenever the role's configuration files or TLS certificate change (never with tokens or the key, which apply live). */
    checksum: Input<string>;
    collectorPort: number;
    schedulerPort: number;
    /** NFS volumes the role mounts (scheduler: home, scratch; workers: all). */
    nfs: NfsVolume[];
    /** Worker pods only: requests = limits. */
    workerResources?: Resources;
    /** CVMFS repositories (workers). */
    cvmfsRepositories?: string[];
    /** Workers: the S3 archive at /s3/archive, read-only (components/storage/archive-csi.ts). */
    archive?: boolean;
    /** Scheduler: mount the credential monitor (incant:iam.jobTokens, credentials.ts). */
    credmon?: boolean;
}

const secretVolume = (name: string, secretName: string, items?: { key: string; path: string }[]): Volume =>
    ({ name, secret: { secretName, defaultMode: 0o400, items } });

/** The pod spec of one role. */
export function podSpec(d: DeploymentInputs): PodSpec {
    const role = d.role;
    const port = role === "central-manager" ? d.collectorPort : role === "scheduler" ? d.schedulerPort : WORKER_PORT;
    const volumes: Volume[] = [
        // The official images copy /root/config/*.conf into config.d and run /root/config/pre-exec.sh.
        { name: "config", configMap: { name: `htcondor-${role}`, items: [{ key: CONFIG_KEY, path: CONFIG_KEY }, { key: "pre-exec.sh", path: "pre-exec.sh" }] } },
        // The users script, which the master executes (users.ts): outside /root (0700), which the
        // master cannot traverse when it starts a daemon (errno 13 on the loopback pool).
        { name: "users-script", configMap: { name: `htcondor-${role}`, defaultMode: 0o555, items: [{ key: USERS_SCRIPT, path: USERS_SCRIPT, mode: 0o555 }] } },
        // The users (and the map file): the whole volume, never a subPath, so that the kubelet
        // updates the files in the running pod (https://kubernetes.io/docs/concepts/configuration/configmap/#mounted-configmaps-are-updated-automatically).
        { name: "users", configMap: { name: USERS_CONFIGMAP, items: usersVolumeItems(role) } },
    ];
    const mounts: VolumeMount[] = [
        { name: "config", mountPath: "/root/config", readOnly: true },
        { name: "users", mountPath: USERS_PATHS.dir, readOnly: true },
        { name: "users-script", mountPath: path.posix.dirname(USERS_PATHS.script), readOnly: true },
    ];
    const env: k8s.types.input.core.v1.EnvVar[] = [];
    if (role !== "worker") {
        volumes.push(secretVolume("tls", role === "central-manager" ? SECRETS.centralManagerTls : SECRETS.schedulerTls,
            [{ key: "tls.crt", path: "hostcert.pem" }, { key: "tls.key", path: "hostkey.pem" }]));
        mounts.push({ name: "tls", mountPath: PATHS.tlsDir, readOnly: true });
        // The metrics exporter the master runs (components/observability/metrics.ts).
        volumes.push({ name: "metrics", configMap: { name: `htcondor-${role}`, defaultMode: 0o555, items: [{ key: EXPORTER_SCRIPT, path: EXPORTER_SCRIPT, mode: 0o555 }] } });
        mounts.push({ name: "metrics", mountPath: METRICS_DIR, readOnly: true });
        // PRIVATE_NETWORK_INTERFACE: the pod address, advertised to pods next to the node's.
        env.push({ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
    }
    if (role === "central-manager") {
        // The POOL key, here and nowhere else (update-secrets installs it as passwords.d/POOL at start,
        // pool-users.sh again whenever the kubelet updates it: a whole volume, never a subPath).
        volumes.push(secretVolume("signing-key", SECRETS.signingKey, [{ key: "POOL", path: "POOL" }]));
        mounts.push({ name: "signing-key", mountPath: "/etc/condor/passwords-orig.d", readOnly: true });
    } else {
        // The daemon's token: into tokens.d at start (update-secrets) and after every renewal or re-keying
        // (pool-users.sh), so a whole volume the kubelet updates in place, never a subPath.
        const token = role === "scheduler" ? SECRETS.scheddToken : SECRETS.startdToken;
        volumes.push(secretVolume("token", token, [{ key: "token", path: role === "scheduler" ? "schedd" : "startd" }]));
        mounts.push({ name: "token", mountPath: "/etc/condor/tokens-orig.d", readOnly: true });
    }
    for (const v of d.nfs) {
        volumes.push({ name: v.name, persistentVolumeClaim: { claimName: v.name, readOnly: v.readOnly } });
        mounts.push({ name: v.name, mountPath: v.mountPath, readOnly: v.readOnly });
    }
    if (role === "scheduler") {
        // The job queue and spooled sandboxes, kept across pod restarts (SCHEDD_SPOOL).
        volumes.push({ name: "spool", persistentVolumeClaim: { claimName: SCHEDD_SPOOL.claim } });
        mounts.push({ name: "spool", mountPath: SCHEDD_SPOOL.mountPath });
    }
    if (role === "scheduler" && d.credmon) {
        // The credential monitor the master runs as root (credentials.ts), outside /root like the exporter.
        volumes.push({ name: "credmon", configMap: { name: `htcondor-${role}`, defaultMode: 0o555, items: [{ key: CREDMON_SCRIPT, path: CREDMON_SCRIPT, mode: 0o555 }] } });
        mounts.push({ name: "credmon", mountPath: CREDMON_DIR, readOnly: true });
    }
    if (role === "central-manager") {
        // Users' accumulated usage and priorities, kept across pod restarts (CENTRAL_MANAGER_SPOOL).
        volumes.push({ name: "spool", persistentVolumeClaim: { claimName: CENTRAL_MANAGER_SPOOL.claim } });
        mounts.push({ name: "spool", mountPath: CENTRAL_MANAGER_SPOOL.mountPath });
    }
    if (role === "worker") {
        volumes.push({ name: "execute", emptyDir: { sizeLimit: `${WORKER_EXECUTE_SIZE_LIMIT_GIB}Gi` } });
        mounts.push({ name: "execute", mountPath: "/var/lib/condor/execute" });
        volumes.push({ name: "cvmfs", persistentVolumeClaim: { claimName: CVMFS_CLAIM, readOnly: true } });
        mounts.push(...cvmfsVolumeMounts("cvmfs", d.cvmfsRepositories ?? []));
        if (d.archive) {
            // The S3 archive through the rclone CSI driver, at the submit container's path.
            const archive = archivePodVolume();
            volumes.push(archive.volume);
            mounts.push(archive.mount);
        }
        // The startd cron's CVMFS check and the probes (health.ts): executable by the condor user.
        volumes.push({ name: "health", configMap: { name: `htcondor-${role}`, defaultMode: 0o555,
            items: Object.values(HEALTH_SCRIPTS).map((s) => ({ key: s, path: s, mode: 0o555 })) } });
        mounts.push({ name: "health", mountPath: HEALTH_DIR, readOnly: true });
        // The autoscaler's drain flag: the pod's own annotation, which the kubelet keeps up to date (config.ts DRAIN).
        volumes.push({ name: "drain", downwardAPI: { items: [{ path: DRAIN.file, fieldRef: { fieldPath: `metadata.annotations['${DRAIN.annotation}']` } }] } });
        mounts.push({ name: "drain", mountPath: DRAIN.dir, readOnly: true });
        // The slot is the container's request (downward API), not the node.
        env.push(
            { name: "NUM_CPUS", valueFrom: { resourceFieldRef: { containerName: "startd", resource: "requests.cpu", divisor: "1" } } },
            { name: "MEMORY", valueFrom: { resourceFieldRef: { containerName: "startd", resource: "requests.memory", divisor: "1Mi" } } },
        );
    }
    const resources = role === "worker"
        ? { requests: { ...d.workerResources! }, limits: { ...d.workerResources! } }
        : SERVICE_RESOURCES[role];
    const container: Container = {
        name: role === "central-manager" ? "central-manager" : role === "scheduler" ? "schedd" : "startd",
        image: d.image,
        imagePullPolicy: "IfNotPresent",
        env,
        ports: [{ name: "condor", containerPort: port, protocol: "TCP" }],
        resources,
        securityContext: {
            privileged: false,
            allowPrivilegeEscalation: false,
            // The image writes config.d, passwd entries and secrets at start.
            readOnlyRootFilesystem: false,
            capabilities: { drop: ["ALL"], add: capabilities(role) },
        },
        volumeMounts: mounts,
        // The shared port answers once the master has started its daemons.
        startupProbe: { tcpSocket: { port }, periodSeconds: 10, failureThreshold: 30 },
        // Workers: probes that mean "the startd answers" and "this worker can run jobs" (health.ts).
        ...(role === "worker" ? workerProbes() : { livenessProbe: { tcpSocket: { port }, periodSeconds: 30, failureThreshold: 4 } }),
    };
    return {
        automountServiceAccountToken: false,
        enableServiceLinks: true,
        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
        // Jobs get time to be vacated (the master shuts the startd down gracefully on SIGTERM).
        terminationGracePeriodSeconds: role === "worker" ? 120 : 60,
        affinity: affinity(role),
        containers: [container],
        volumes,
    };
}

/**
 * The Kubernetes workers: every node but the control planes (kubeadm labels those
 * node-role.kubernetes.io/control-plane, and their NoSchedule taint keeps pods off anyway). Not a
 * list of node names: then adding or removing a worker VM would change every pool pod template and
 * restart the central manager and the schedd (the VM runner's guard found it: docs/elasticity.md).
 */
export const ON_WORKERS: k8s.types.input.core.v1.NodeSelectorTerm = {
    matchExpressions: [{ key: "node-role.kubernetes.io/control-plane", operator: "DoesNotExist" }],
};

/** Workers: exactly one per node. Central manager and scheduler: on workers, preferably apart. */
function affinity(role: PoolRole): k8s.types.input.core.v1.Affinity {
    const onWorkers: k8s.types.input.core.v1.NodeAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [ON_WORKERS] },
    };
    if (role === "worker") {
        return {
            nodeAffinity: onWorkers,
            podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selectorLabels("worker") } }],
            },
        };
    }
    const other: PoolRole = role === "central-manager" ? "scheduler" : "central-manager";
    return {
        nodeAffinity: onWorkers,
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{
                weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selectorLabels(other) } },
            }],
        },
    };
}

/**
 * The schedd's SPOOL (job queue, spooled sandboxes) on a Kubernetes local volume: a directory on
 * the first worker's disk that every worker creates at first boot (KubernetesClusterArgs
 * `workerDirectories`). It outlives the scheduler pod, which restarts whenever its configuration
 * changes (an image bumped; not a user added, users.ts, nor tokens renewed or keys rotated, pool.ts); it does not outlive that worker's VM.
 * NFS with root_squash cannot hold it (the schedd chowns sandboxes to their owners). With the
 * Cinder CSI driver (openstack.cloudProvider) the spools are Cinder claims instead
 * (spoolCinderClaim). https://kubernetes.io/docs/concepts/storage/volumes/#local
 */
export const SCHEDD_SPOOL = {
    hostPath: "/var/lib/incant/htcondor-spool",
    claim: "schedd-spool",
    mountPath: "/var/lib/condor/spool",
    /** Nominal: a local volume is not size-limited; it shares the node's boot disk. */
    capacity: "20Gi",
} as const;

/**
 * The central manager's SPOOL: the negotiator's accountant (Accountantnew.log: every user's
 * accumulated usage, hence their priorities) and the collector's saved ads. In the container it
 * would be lost with every new pod (a configuration change, an image bumped); on a local volume of
 * the second worker (the first holds the schedd's spool: the two pods prefer different nodes) it
 * is kept. Same limits as SCHEDD_SPOOL.
 */
export const CENTRAL_MANAGER_SPOOL = {
    hostPath: "/var/lib/incant/htcondor-cm-spool",
    claim: "central-manager-spool",
    mountPath: "/var/lib/condor/spool",
    capacity: "1Gi",
} as const;

/**
 * A spool on a Cinder volume instead (`openstack.cloudProvider`: the Cinder CSI driver is in the
 * cluster): a claim of the given class, which provisions the volume and attaches it wherever the
 * pod runs, so the queue and the accountant survive the loss of a worker VM and their pods may
 * move. Real sizes now (Cinder volumes count against the project's block-storage quota).
 */
export function spoolCinderClaim(namespace: string, spool: typeof SCHEDD_SPOOL | typeof CENTRAL_MANAGER_SPOOL, storageClassName: string) {
    return {
        metadata: { name: spool.claim, namespace, labels: PART_OF },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName, resources: { requests: { storage: spool.capacity } } },
    };
}

/** Directories every worker VM makes at first boot for the pool's local volumes (KubernetesClusterArgs.workerDirectories). */
export const NODE_DIRECTORIES = [SCHEDD_SPOOL.hostPath, CENTRAL_MANAGER_SPOOL.hostPath];

/** A spool's local PV on `node` and its claim (the schedd's by default). */
export function spoolReservedVolume(namespace: string, node: string,
    spool: typeof SCHEDD_SPOOL | typeof CENTRAL_MANAGER_SPOOL = SCHEDD_SPOOL): ReservedVolume {
    return reservedVolume(namespace, spool.claim, {
        capacity: spool.capacity,
        accessModes: ["ReadWriteOnce"],
        source: { volumeMode: "Filesystem", local: { path: spool.hostPath } },
        nodes: [node],
    });
}

/** A role's Deployment. */
export function deployment(d: DeploymentInputs): { metadata: Metadata; spec: k8s.types.input.apps.v1.DeploymentSpec } {
    return {
        metadata: { name: `htcondor-${d.role}`, namespace: d.namespace, labels: labels(d.role) },
        spec: {
            replicas: d.replicas,
            selector: { matchLabels: selectorLabels(d.role) },
            // One collector and one schedd at a time (same name, same queue); workers one node at a
            // time, and never a surge pod, which the one-per-node rule could not place.
            strategy: d.role === "worker"
                ? { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }
                : { type: "Recreate" },
            template: {
                metadata: { labels: labels(d.role), annotations: { [CHECKSUM_ANNOTATION]: d.checksum } },
                spec: podSpec(d),
            },
        },
    };
}

/** The collector's and the schedd's Services: NodePort = port = container port (CCB and
 *  TCP_FORWARDING_HOST advertise that one number to everybody). */
export function nodePortService(role: "central-manager" | "scheduler", namespace: string, port: number): { metadata: Metadata; spec: k8s.types.input.core.v1.ServiceSpec } {
    return {
        metadata: { name: role === "central-manager" ? COLLECTOR_SERVICE : SCHEDD_SERVICE, namespace, labels: labels(role) },
        spec: {
            type: "NodePort",
            selector: selectorLabels(role),
            ports: [{ name: "condor", protocol: "TCP", port, targetPort: port, nodePort: port }],
        },
    };
}

/** Cluster ranges a pod's Internet egress must not reach (and the OpenStack metadata service). */
export interface ClusterRanges {
    /** The VMs' network (FACTS: pods could otherwise reach every node and the storage VM). */
    vmCidr: string;
    podCidr: string;
    serviceCidr: string;
}

type Policy = { metadata: Metadata; spec: k8s.types.input.networking.v1.NetworkPolicySpec };
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;
const pods = (role: PoolRole): Peer => ({ podSelector: { matchLabels: selectorLabels(role) } });
const tcp = (port: number) => ({ protocol: "TCP", port });

/**
 * Default deny, DNS, and each role's HTCondor flows. Ingress from outside the pod network (the
 * submit host) arrives at a NodePort and is source-NAT-ed by kube-proxy to the receiving node's
 * address, or to its Calico tunnel address (inside the pod CIDR) when the pod is on another node:
 * that is why the NodePort ports admit the VM and pod CIDRs; HTCondor still requires
 * authentication on every connection. The one VM address a pod reaches: the submit host's, on
 * the ports where its condor_tail and condor_ssh_to_job wait for the starter (components/submit/tools.ts).
 */
export function networkPolicies(namespace: string, ports: { collector: number; scheduler: number }, ranges: ClusterRanges): Policy[] {
    const internet: Peer = { ipBlock: { cidr: "0.0.0.0/0", except: [ranges.vmCidr, ranges.podCidr, ranges.serviceCidr, METADATA_SERVICE_CIDR] } };
    const viaNodePort: Peer[] = [{ ipBlock: { cidr: ranges.vmCidr } }, { ipBlock: { cidr: ranges.podCidr } }];
    // The submit host's fixed address (addressing.ts), inside the VM range the Internet rule excludes.
    const submitHost: Peer = { ipBlock: { cidr: `${vmAddress(ranges.vmCidr, { role: "submit", index: 0 })}/32` } };
    const policy = (name: string, spec: Policy["spec"]): Policy => ({ metadata: { name, namespace, labels: PART_OF }, spec });
    return [
        policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
        policy("dns", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [{
                to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
            }],
        }),
        policy("central-manager", {
            podSelector: { matchLabels: selectorLabels("central-manager") },
            policyTypes: ["Ingress", "Egress"],
            // Startds and the schedd advertise, register with CCB and query; the submit host queries.
            ingress: [{ from: [pods("worker"), pods("scheduler"), ...viaNodePort], ports: [tcp(ports.collector)] }],
            egress: [
                // The negotiator contacts the schedd.
                { to: [pods("scheduler")], ports: [tcp(ports.scheduler)] },
                // SciTokens: the issuer's keys (HTTPS to IAM).
                { to: [internet], ports: [tcp(443)] },
            ],
        }),
        policy("scheduler", {
            podSelector: { matchLabels: selectorLabels("scheduler") },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [pods("central-manager"), pods("worker"), ...viaNodePort], ports: [tcp(ports.scheduler)] }],
            egress: [
                { to: [pods("central-manager")], ports: [tcp(ports.collector)] },
                // Claims and shadows reach the startds' shared port.
                { to: [pods("worker")], ports: [tcp(WORKER_PORT)] },
                { to: [internet], ports: [tcp(443)] },
            ],
        }),
        policy("worker", {
            podSelector: { matchLabels: selectorLabels("worker") },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [pods("scheduler")], ports: [tcp(WORKER_PORT)] }],
            egress: [
                { to: [pods("central-manager")], ports: [tcp(ports.collector)] },
                { to: [pods("scheduler")], ports: [tcp(ports.scheduler)] },
                // Starters connect back to condor_tail and condor_ssh_to_job on the submit host (CCB).
                { to: [submitHost], ports: [{ protocol: "TCP", port: SUBMIT_TOOL_PORTS.first, endPort: SUBMIT_TOOL_PORTS.last }] },
                // The jobs' own data access (XRootD/EOS, HTTPS, Frontier...), never the cluster's
                // ranges nor the metadata service (which serves every node's user-data).
                { to: [internet] },
            ],
        }),
    ];
}
