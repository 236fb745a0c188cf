/**
 * The squid's Kubernetes objects, as data (pure builders; cache.ts creates them):
 * Namespace `cache` (baseline enforced, like the pool's), ConfigMap with squid.conf, Deployment
 * (one replica on a control plane: the workers' memory goes to HTCondor slots), Service with the
 * fixed ClusterIP (in-cluster clients, the nodes' CVMFS) and a NodePort (the submit host).
 *
 * The image is OSG's frontier-squid; its own entrypoint generates squid.conf from environment
 * variables, so the pod runs squid itself on the rendered configuration instead (`squid -z` in an
 * init container makes the cache directories, then `squid -N` in the foreground). squid starts
 * as root and switches to its unprivileged user (cache_effective_user, `squid` in that build): the
 * container keeps only the capabilities that switch needs.
 */
import * as k8s from "@pulumi/kubernetes";
import { SQUID_NODE_PORT, SQUID_PORT, SquidSettings } from "./squid";
import { EXPORTER_SCRIPT, SQUID_METRICS_PORT } from "../observability/metrics";

export const CACHE_NAMESPACE = "cache";
export const SQUID_NAME = "squid";
const CONFIG_DIR = "/etc/incant-squid";
const CONFIG_FILE = `${CONFIG_DIR}/squid.conf`;
const LABELS = { "app.kubernetes.io/name": SQUID_NAME, "app.kubernetes.io/part-of": "incant" };

type Metadata = k8s.types.input.meta.v1.ObjectMeta;

/** Paths inside the pod: the cache (a Cinder claim or an emptyDir), squid's log and PID file on an emptyDir. */
export const SQUID_PATHS = { cacheDir: "/var/cache/squid", cacheLog: "/var/log/squid/cache.log", pidFile: "/var/log/squid/squid.pid" } as const;

/** The namespace, Pod Security baseline enforced (the cluster's default, stated). */
export function cacheNamespace(): { metadata: Metadata } {
    return {
        metadata: {
            name: CACHE_NAMESPACE,
            labels: {
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "app.kubernetes.io/part-of": "incant",
            },
        },
    };
}

/** The cache volume's size: a tenth more than squid's cache_dir (squid overshoots a little). */
export function cacheVolumeMi(settings: Pick<SquidSettings, "diskCacheMb">): number {
    return Math.ceil(settings.diskCacheMb * 1.1);
}

/**
 * The cache on a Cinder volume (`openstack.cloudProvider`): a warm cache survives a new squid pod
 * (a configuration change, a node drain) instead of refetching CVMFS and Frontier from CERN.
 */
export function squidCacheClaim(settings: Pick<SquidSettings, "diskCacheMb">, storageClassName: string) {
    return {
        metadata: { name: `${SQUID_NAME}-cache`, namespace: CACHE_NAMESPACE, labels: LABELS },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName, resources: { requests: { storage: `${cacheVolumeMi(settings)}Mi` } } },
    };
}

/** squid.conf and the metrics sidecar's script (components/observability/condor-exporter.py). */
export function squidConfigMap(squidConf: string, exporter: string): { metadata: Metadata; data: Record<string, string> } {
    return { metadata: { name: SQUID_NAME, namespace: CACHE_NAMESPACE, labels: LABELS }, data: { "squid.conf": squidConf, [EXPORTER_SCRIPT]: exporter } };
}

/**
 * The Deployment; `checksum` changes with squid.conf, so a new configuration restarts squid.
 * `metricsImage`: an image with python3 for the metrics sidecar (the HTCondor central manager's).
 */
export function squidDeployment(a: { image: string; metricsImage: string; settings: SquidSettings; checksum: string; cacheClaim?: string }): {
    metadata: Metadata; spec: k8s.types.input.apps.v1.DeploymentSpec;
} {
    const volumeMounts = [
        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
        { name: "cache", mountPath: SQUID_PATHS.cacheDir },
        { name: "logs", mountPath: "/var/log/squid" },
    ];
    const securityContext: k8s.types.input.core.v1.SecurityContext = {
        allowPrivilegeEscalation: false,
        // Root only long enough to open the port and switch to the squid user.
        capabilities: { drop: ["ALL"], add: ["SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE", "FOWNER"] },
    };
    const memoryMi = a.settings.memoryCacheMb + 256;
    return {
        metadata: { name: SQUID_NAME, namespace: CACHE_NAMESPACE, labels: LABELS },
        spec: {
            replicas: 1,
            // One cache directory, one squid: never two pods on it.
            strategy: { type: "Recreate" },
            selector: { matchLabels: LABELS },
            template: {
                metadata: { labels: LABELS, annotations: { "incant/squid-conf-checksum": a.checksum } },
                spec: {
                    automountServiceAccountToken: false,
                    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                    nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
                    tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
                    initContainers: [{
                        name: "cache-dirs", image: a.image, imagePullPolicy: "IfNotPresent",
                        command: ["squid", "-z", "-N", "-f", CONFIG_FILE], volumeMounts, securityContext,
                        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                    }],
                    containers: [{
                        name: SQUID_NAME, image: a.image, imagePullPolicy: "IfNotPresent",
                        command: ["squid", "-N", "-f", CONFIG_FILE],
                        ports: [{ name: "http-proxy", containerPort: a.settings.port, protocol: "TCP" }],
                        volumeMounts, securityContext,
                        resources: { requests: { cpu: "200m", memory: `${memoryMi}Mi` }, limits: { cpu: "2", memory: `${memoryMi * 2}Mi` } },
                        readinessProbe: { tcpSocket: { port: a.settings.port }, periodSeconds: 10 },
                        livenessProbe: { tcpSocket: { port: a.settings.port }, periodSeconds: 30, failureThreshold: 4 },
                    }, {
                        // squid's cache manager counters for Prometheus (allowed from localhost only: squid.ts).
                        name: "metrics", image: a.metricsImage, imagePullPolicy: "IfNotPresent",
                        command: ["python3", `${CONFIG_DIR}/${EXPORTER_SCRIPT}`, "--squid", `http://127.0.0.1:${a.settings.port}`, "--port", String(SQUID_METRICS_PORT)],
                        ports: [{ name: "metrics", containerPort: SQUID_METRICS_PORT, protocol: "TCP" }],
                        volumeMounts: [{ name: "config", mountPath: CONFIG_DIR, readOnly: true }],
                        securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 65534, capabilities: { drop: ["ALL"] } },
                        resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                    }],
                    volumes: [
                        { name: "config", configMap: { name: SQUID_NAME } },
                        // The disk cache: a Cinder volume that outlives the pod when the cluster has one
                        // (squidCacheClaim), else an emptyDir; a tenth more than squid's cache_dir (squid overshoots a little).
                        a.cacheClaim
                            ? { name: "cache", persistentVolumeClaim: { claimName: a.cacheClaim } }
                            : { name: "cache", emptyDir: { sizeLimit: `${cacheVolumeMi(a.settings)}Mi` } },
                        { name: "logs", emptyDir: { sizeLimit: "1Gi" } },
                    ],
                },
            },
        },
    };
}

/** The Service: a fixed ClusterIP for the cluster, a NodePort for the submit host. */
export function squidService(clusterIp: string): { metadata: Metadata; spec: k8s.types.input.core.v1.ServiceSpec } {
    return {
        metadata: { name: SQUID_NAME, namespace: CACHE_NAMESPACE, labels: LABELS },
        spec: {
            type: "NodePort",
            clusterIP: clusterIp,
            selector: LABELS,
            ports: [{ name: "http-proxy", port: SQUID_PORT, targetPort: SQUID_PORT, nodePort: SQUID_NODE_PORT, protocol: "TCP" }],
        },
    };
}
