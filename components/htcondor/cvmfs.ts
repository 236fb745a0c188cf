/**
 * CVMFS for the pool through the CVMFS CSI driver (github.com/cvmfs-contrib/cvmfs-csi,
 * docs/how-to-use.md): the chart's node plugin mounts repositories with autofs on each node; the
 * pods get them through one ReadOnlyMany claim of the automount storage class, mounted with
 * HostToContainer propagation and one subPath per configured repository. The node plugin is
 * privileged (FUSE mounts on the host): its namespace is the one Pod Security exemption, and no
 * pool pod is privileged.
 */
import * as k8s from "@pulumi/kubernetes";
import { CvmfsConfig } from "../config/schema";
import { CVMFS_CSI_NAMESPACE, privilegedNamespaceLabels } from "../kubernetes/podsecurity";
import { PART_OF } from "./types";

/** The chart, from CERN's OCI registry; pinned by `incant:versions.cvmfsCsi`. */
export const CVMFS_CSI_CHART = "oci://registry.cern.ch/kubernetes/charts/cvmfs-csi";
/**
 * The driver's namespace, labelled Pod Security `privileged`: listed, with the reason, in the
 * cluster's PRIVILEGED_NAMESPACES (components/kubernetes/podsecurity.ts).
 */
export const CVMFS_NAMESPACE = CVMFS_CSI_NAMESPACE;
/** The automount StorageClass the chart creates. */
export const CVMFS_STORAGE_CLASS = "cvmfs";
/** The pool's claim on it. */
export const CVMFS_CLAIM = "cvmfs";
/** Client cache per node, MiB (the boot disk also holds images and job sandboxes). */
export const CVMFS_CACHE_MB = 20_000;

/** `KEY=value` lines of a CVMFS client configuration (values quoted when not plain). */
export function renderCvmfsParameters(params: Record<string, string | number>): string {
    return Object.entries(params).map(([k, v]) => {
        if (!/^CVMFS_[A-Z0-9_]+$/.test(k)) throw new Error(`not a CVMFS parameter: ${k}`);
        const s = String(v);
        if (/["\n\\$`]/.test(s)) throw new Error(`invalid value for ${k}`);
        return /^[\w.,:/-]+$/.test(s) ? `${k}=${s}` : `${k}="${s}"`;
    }).join("\n") + "\n";
}

/**
 * /etc/cvmfs/default.local of the node plugin. Replaces the chart's default, whose proxy is
 * CERN's (only reachable inside CERN), so it restates the cache settings the chart templates.
 */
/**
 * `httpProxy`: the nodes' CVMFS_HTTP_PROXY, the facility's squid at its Service address unless
 * configured otherwise (components/cache/squid.ts cvmfsHttpProxy).
 */
export function cvmfsDefaultLocal(cvmfs: Pick<CvmfsConfig, "repositories">, httpProxy: string): string {
    return renderCvmfsParameters({
        CVMFS_REPOSITORIES: cvmfs.repositories.join(","),
        CVMFS_HTTP_PROXY: httpProxy,
        CVMFS_USE_GEOAPI: "yes",
        CVMFS_QUOTA_LIMIT: CVMFS_CACHE_MB,
        CVMFS_CACHE_BASE: "/cvmfs-localcache",
    });
}

/** Helm values of the cvmfs-csi chart (deployments/helm/cvmfs-csi/values.yaml of the pinned version). */
export function cvmfsCsiValues(cvmfs: Pick<CvmfsConfig, "repositories">, httpProxy: string): Record<string, unknown> {
    return {
        extraConfigMaps: {
            "cvmfs-csi-default-local": { "default.local": cvmfsDefaultLocal(cvmfs, httpProxy) },
        },
        cache: { local: { cvmfsQuotaLimit: CVMFS_CACHE_MB } },
        automountStorageClass: { create: true, name: CVMFS_STORAGE_CLASS },
    };
}

/** The driver's namespace: Pod Security privileged (the node plugin), the cluster's way. */
export function cvmfsNamespace(): { metadata: k8s.types.input.meta.v1.ObjectMeta } {
    return {
        metadata: {
            name: CVMFS_NAMESPACE,
            labels: { ...privilegedNamespaceLabels(CVMFS_NAMESPACE), ...PART_OF },
        },
    };
}

/** The pool's ReadOnlyMany automount claim (the driver ignores the size, which must be non-zero). */
export function cvmfsClaim(namespace: string): { metadata: k8s.types.input.meta.v1.ObjectMeta; spec: k8s.types.input.core.v1.PersistentVolumeClaimSpec } {
    return {
        metadata: { name: CVMFS_CLAIM, namespace, labels: PART_OF },
        spec: { accessModes: ["ReadOnlyMany"], storageClassName: CVMFS_STORAGE_CLASS, resources: { requests: { storage: "1" } } },
    };
}

/** One read-only mount per repository at /cvmfs/<repo>, with the propagation autofs needs. */
export function cvmfsVolumeMounts(volume: string, repositories: string[]): k8s.types.input.core.v1.VolumeMount[] {
    return repositories.map((repo) => ({
        name: volume, mountPath: `/cvmfs/${repo}`, subPath: repo, readOnly: true, mountPropagation: "HostToContainer",
    }));
}
