/**
 * Kubelet serving certificates from the cluster CA (CIS 1.2.5 and 4.2.10/4.2.11 — unchecked
 * self-signed kubelet certificates otherwise). With `serverTLSBootstrap: true` (kubeadm.ts) each
 * kubelet asks for its serving certificate with a `kubernetes.io/kubelet-serving`
 * CertificateSigningRequest; the controller manager signs such requests with the cluster CA but
 * never approves them on its own (kubernetes.io/docs, "Certificate Signing Requests", kubelet
 * serving certs). The API server then checks kubelets against that CA
 * (`--kubelet-certificate-authority`), so `kubectl logs/exec` and metrics reach the real node.
 *
 * The approver: postfinance/kubelet-csr-approver (maintained, follows the three newest Kubernetes
 * minors, MIT). It approves only requests whose user is `system:node:<name>`, whose common name
 * matches it, whose DNS names match our node names and whose IP addresses lie in the cluster's own
 * subnet. Our VMs have no DNS records, so the name-to-address check is bypassed and the subnet
 * check carries it (`bypassDnsResolution`, its README "Parameters"). Hand-writing this controller
 * would repeat its checks; a rubber stamp would let any node claim any address.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const CSR_APPROVER_CHART = {
    repo: "https://postfinance.github.io/kubelet-csr-approver",
    chart: "kubelet-csr-approver",
    // v1.2.15 (2026-09-02): pkg.go.dev/github.com/postfinance/kubelet-csr-approver.
    version: "1.2.15",
} as const;

/** kubeadm's own control-plane taint: the approver may run there before any worker joins. */
const CONTROL_PLANE_TOLERATION = { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" };

export interface CsrApproverArgs {
    /** The VMs' name prefix (config namePrefix): node names are `<prefix>-control-plane-N`, `<prefix>-worker-N`. */
    namePrefix: string;
    /** The cluster's subnet: every kubelet's address is in it. */
    subnetCidr: string;
}

/** A regular expression for exactly our node names (what a kubelet-serving CSR may name). */
export function nodeNameRegex(namePrefix: string): string {
    const escaped = namePrefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return `^${escaped}-(control-plane|worker)-[0-9]+$`;
}

export function csrApproverValues(a: CsrApproverArgs) {
    return {
        providerRegex: nodeNameRegex(a.namePrefix),
        providerIpPrefixes: [a.subnetCidr],
        bypassDnsResolution: true,
        // A year and a day at most; the kubelet renews at 70-90% of the lifetime (rotateCertificates).
        maxExpirationSeconds: "31622400",
        replicas: 2,
        leaderElection: true,
        tolerations: [CONTROL_PLANE_TOLERATION],
    };
}

export function installCsrApprover(name: string, a: CsrApproverArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(name, {
        name: "kubelet-csr-approver",
        chart: CSR_APPROVER_CHART.chart,
        version: CSR_APPROVER_CHART.version,
        repositoryOpts: { repo: CSR_APPROVER_CHART.repo },
        // kube-system: exempt from Pod Security by the API server's own configuration (podsecurity.ts).
        namespace: "kube-system",
        values: csrApproverValues(a),
    }, opts);
}
