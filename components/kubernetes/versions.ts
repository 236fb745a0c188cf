/**
 * The Kubernetes minors this program's node setup is known to work with, from
 * https://kubernetes.io/releases/ (end-of-life dates) and kubeadm's constants (the pause image
 * each minor's kubeadm expects; a different one only costs a preflight warning and a second pull).
 *
 * Nodes run Ubuntu's own containerd (1.7 on 22.04): Kubernetes 1.35 is the last minor that
 * supports containerd 1.x (KEP-4033), so 1.36 on needs containerd 2 from another source first.
 */
export interface KubernetesMinor {
    minor: string;
    /** The upstream end of life (no more patches, security fixes included), ISO date. */
    endOfLife: string;
    pauseImage: string;
    /**
     * kubernetes/cloud-provider-openstack's chart version for this minor (the cloud controller and
     * Cinder CSI charts share it: tags openstack-cloud-controller-manager-X, openstack-cinder-csi-X),
     * for `openstack.cloudProvider`; unset: not checked for this minor.
     */
    cloudProviderCharts?: string;
}

export const KUBERNETES_MINORS: readonly KubernetesMinor[] = [
    { minor: "1.30", endOfLife: "2025-06-28", pauseImage: "registry.k8s.io/pause:3.9" },
    { minor: "1.31", endOfLife: "2025-10-28", pauseImage: "registry.k8s.io/pause:3.10" },
    { minor: "1.32", endOfLife: "2026-02-28", pauseImage: "registry.k8s.io/pause:3.10" },
    { minor: "1.33", endOfLife: "2026-06-28", pauseImage: "registry.k8s.io/pause:3.10" },
    { minor: "1.34", endOfLife: "2026-10-27", pauseImage: "registry.k8s.io/pause:3.10.1" },
    { minor: "1.35", endOfLife: "2027-02-28", pauseImage: "registry.k8s.io/pause:3.10.1", cloudProviderCharts: "2.35.0" },
];

export function kubernetesMinor(minor: string): KubernetesMinor | undefined {
    return KUBERNETES_MINORS.find((m) => m.minor === minor);
}

/** Why a configured minor cannot be used, or undefined. */
export function unsupportedMinorReason(minor: string): string | undefined {
    if (kubernetesMinor(minor)) return undefined;
    const known = KUBERNETES_MINORS.map((m) => m.minor);
    return `is not a minor this program's node setup knows (${known[0]} to ${known[known.length - 1]}, ` +
        "listed with their pause images in components/kubernetes/versions.ts); 1.36 on needs containerd 2, " +
        "which Ubuntu's archive does not ship for the nodes";
}

/** A warning for a minor past (or within 60 days of) its end of life on `today`, or undefined. */
export function endOfLifeWarning(minor: string, today: Date): string | undefined {
    const m = kubernetesMinor(minor);
    if (!m) return undefined;
    const eol = Date.parse(`${m.endOfLife}T00:00:00Z`);
    const days = Math.floor((eol - today.getTime()) / 86_400_000);
    if (days < 0) return `Kubernetes ${minor} reached its end of life on ${m.endOfLife}: it gets no security fixes; ` +
        "set a supported minor and rebuild the cluster (docs/operations.md, \"Upgrade Kubernetes\")";
    if (days <= 60) return `Kubernetes ${minor} reaches its end of life on ${m.endOfLife} (${days} days): plan the upgrade`;
    return undefined;
}

/** containerd's /etc/containerd/config.toml: only what differs from containerd's defaults. */
export function containerdConfig(pauseImage: string): string {
    return [
        "# containerd configuration for Kubernetes nodes (INCANT). Only what differs from containerd's",
        "# built-in defaults: the systemd cgroup driver (the kubelet's cgroupDriver: systemd must match it)",
        "# and the pause image kubeadm expects for this Kubernetes minor. Config version 2 is what Ubuntu's",
        "# containerd 1.7 reads; containerd 2.x migrates version 2 files on load.",
        "version = 2",
        "",
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${pauseImage}"`,
        "",
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '  runtime_type = "io.containerd.runc.v2"',
        "",
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "  SystemdCgroup = true",
        "",
    ].join("\n");
}
