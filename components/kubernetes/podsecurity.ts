/**
 * Pod Security Admission for the whole facility (kubernetes.io/docs/concepts/security/pod-security-admission/).
 *
 * The API server enforces `baseline` on every namespace and warns and audits against
 * `restricted` (kubeadm.ts, admissionConfiguration). A namespace may run privileged pods only
 * when it is listed in PRIVILEGED_NAMESPACES below with the reason, and labelled with
 * `privilegedNamespaceLabels(name)`; a test fails on any other privileged namespace.
 * kube-system is the one exemption in the API server's own configuration: kubeadm creates
 * kube-proxy there before anything could label the namespace.
 *
 * For other components (HTCondor helper): create your privileged namespace like this
 *
 *     new k8s.core.v1.Namespace("cvmfs-csi", { metadata: {
 *         name: CVMFS_CSI_NAMESPACE, labels: privilegedNamespaceLabels(CVMFS_CSI_NAMESPACE) } },
 *         { provider: cluster.provider });
 *
 * and keep user pods (HTCondor workers, schedulers) in namespaces with the defaults.
 */
import { PodSecurityLevel } from "./kubeadm";

/** Namespaces exempted in the API server's AdmissionConfiguration (not by label). */
export const EXEMPT_NAMESPACES = ["kube-system"];

/** The CVMFS CSI driver's namespace (FACTS.md: its node plugin is privileged). */
export const CVMFS_CSI_NAMESPACE = "cvmfs-csi";

/** The rclone CSI driver's namespace (components/storage/archive-csi.ts: the S3 archive in the pool). */
export const RCLONE_CSI_NAMESPACE = "csi-rclone";

/** The node-exporter of the monitoring stack, apart from the rest of it (which stays baseline). */
export const NODE_EXPORTER_NAMESPACE = "monitoring-node-exporter";

/** Every namespace allowed to run privileged pods, and why. */
export const PRIVILEGED_NAMESPACES: Record<string, string> = {
    "tigera-operator": "the Calico operator runs on the host network and reads /var/lib/calico from the host",
    "calico-system": "calico-node programs the host's network and loads eBPF/iptables rules (labelled by the operator itself)",
    [NODE_EXPORTER_NAMESPACE]: "node-exporter reads the host's /proc, /sys and root file system from the host's namespaces",
    [CVMFS_CSI_NAMESPACE]: "the CVMFS CSI node plugin mounts FUSE file systems and propagates them to the host",
    [RCLONE_CSI_NAMESPACE]: "the rclone CSI node plugin mounts the S3 archive (FUSE) into the kubelet's pod directories (Bidirectional propagation)",
};

/** Labels that pin a namespace's Pod Security level (enforce, and warn/audit at the same level). */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const mode of ["enforce", "audit", "warn"]) {
        labels[`pod-security.kubernetes.io/${mode}`] = level;
        labels[`pod-security.kubernetes.io/${mode}-version`] = "latest";
    }
    return labels;
}

/** Labels of a namespace listed in PRIVILEGED_NAMESPACES; throws for any other name. */
export function privilegedNamespaceLabels(namespace: string): Record<string, string> {
    if (!(namespace in PRIVILEGED_NAMESPACES)) {
        throw new Error(`namespace ${namespace} is not allowed privileged pods: add it with its reason to PRIVILEGED_NAMESPACES in components/kubernetes/podsecurity.ts`);
    }
    return podSecurityLabels("privileged");
}
