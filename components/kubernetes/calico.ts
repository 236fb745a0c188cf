/**
 * Calico through the tigera-operator Helm chart (docs.tigera.io, "Install Calico with Helm"),
 * with VXLAN encapsulation and BGP off: the nodes then need exactly UDP 4789 (VXLAN) and
 * TCP 5473 (Typha) between them, which is what components/network/ports.ts opens.
 *
 * The Calico API server (projectcalico.org/v3) is requested as our own APIServer resource
 * rather than through the chart, so Pulumi can wait for it (`pulumi.com/waitFor`) before it
 * creates the policy tier that keeps pods away from the OpenStack metadata service.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { privilegedNamespaceLabels } from "./podsecurity";
import { NFS_PORT } from "../network/ports";

export const CALICO_CHART_REPO = "https://docs.tigera.io/calico/charts";
export const TIGERA_NAMESPACE = "tigera-operator";
/** The OpenStack metadata service: it serves every node's user-data. */
export const METADATA_SERVICE_CIDR = "169.254.169.254/32";
/** A tier before the default one, owned by the platform: its policies cannot be overridden by namespaces. */
export const PLATFORM_TIER = "incant-platform";

export interface CalicoArgs {
    /** tigera-operator chart version (= Calico version), e.g. "v3.32.3". */
    version: string;
    /** Pod network; must equal kubeadm's podSubnet. */
    podCidr: string;
    /** The storage controller's address: only kubelets (host network) may speak NFS to it. */
    storageAddress: string;
}


/** Helm values: the Installation resource the chart renders, nothing else. */
export function calicoValues(a: CalicoArgs) {
    return {
        installation: {
            enabled: true,
            cni: { type: "Calico" },
            calicoNetwork: {
                // VXLAN everywhere, no BGP: no TCP 179 between nodes, works on any Neutron network.
                bgp: "Disabled",
                ipPools: [{ cidr: a.podCidr, encapsulation: "VXLAN", natOutgoing: "Enabled", nodeSelector: "all()", blockSize: 26 }],
            },
        },
        apiServer: { enabled: false },
    };
}

/**
 * Egress from every pod to the metadata service is denied. The tier's default action is Pass,
 * so all other traffic continues to the default tier, where Kubernetes NetworkPolicies apply
 * exactly as if this tier did not exist (a Deny-only policy in the default tier would instead
 * deny everything else for every pod: Calico drops what a tier's policies select but do not match).
 * Host-network pods are not covered: Pod Security baseline forbids them outside the namespaces
 * listed in podsecurity.ts.
 */
export function platformTier() {
    return { apiVersion: "projectcalico.org/v3", kind: "Tier", metadata: { name: PLATFORM_TIER }, spec: { order: 100, defaultAction: "Pass" } };
}

/**
 * The name of a policy in a tier other than the default: Calico up to 3.29 requires the tier name
 * as its prefix; 3.30 dropped that rule and 3.32 stores the plain name ("calicoctl datastore
 * migrate-policy-names", docs.tigera.io), so from 3.30 on the name is used as it is.
 */
export function tierPolicyName(calicoVersion: string, tier: string, name: string): string {
    const m = /^v?(\d+)\.(\d+)/.exec(calicoVersion);
    const needsPrefix = !m || Number(m[1]) < 3 || (Number(m[1]) === 3 && Number(m[2]) < 30);
    return needsPrefix ? `${tier}.${name}` : name;
}

/** A policy of the platform tier that denies every pod one kind of egress. */
function platformEgressDeny(calicoVersion: string, name: string, order: number, rule: Record<string, unknown>) {
    return {
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: tierPolicyName(calicoVersion, PLATFORM_TIER, name) },
        spec: { tier: PLATFORM_TIER, order, selector: "all()", types: ["Egress"], egress: [{ action: "Deny", ...rule }] },
    };
}

export function denyMetadataPolicy(calicoVersion: string) {
    return platformEgressDeny(calicoVersion, "deny-instance-metadata", 10, { destination: { nets: [METADATA_SERVICE_CIDR] } });
}

/**
 * Pods never speak NFS to the storage controller: kubelets mount the shares (host network, the
 * node's own address) and hand them to pods. A pod would reach the server as its node (Calico
 * NATs pod egress) and the exports trust the nodes; with AUTH_SYS any uid it claimed would be
 * believed, so a user-space NFS client in a pod could read and write every home.
 */
export function denyPodNfsPolicy(calicoVersion: string, storageAddress: string) {
    return platformEgressDeny(calicoVersion, "deny-pod-nfs", 20, { protocol: "TCP", destination: { nets: [`${storageAddress}/32`], ports: [NFS_PORT] } });
}

export interface Calico {
    release: k8s.helm.v3.Release;
    /** The platform policies (metadata service, NFS): once they exist, pods are safe to schedule. */
    policies: k8s.apiextensions.CustomResource[];
}

export function installCalico(name: string, a: CalicoArgs, opts: { parent: pulumi.Resource; provider: k8s.Provider }): Calico {
    const ns = new k8s.core.v1.Namespace(`${name}-namespace`, {
        metadata: { name: TIGERA_NAMESPACE, labels: privilegedNamespaceLabels(TIGERA_NAMESPACE) },
    }, opts);
    const release = new k8s.helm.v3.Release(name, {
        name: "calico",
        chart: "tigera-operator",
        version: a.version,
        repositoryOpts: { repo: CALICO_CHART_REPO },
        namespace: TIGERA_NAMESPACE,
        createNamespace: false,
        values: calicoValues(a),
        timeout: 900,
    }, { ...opts, dependsOn: [ns] });
    // Ready when the operator reports it: then projectcalico.org/v3 is served.
    const apiServer = new k8s.apiextensions.CustomResource(`${name}-apiserver`, {
        apiVersion: "operator.tigera.io/v1",
        kind: "APIServer",
        metadata: { name: "default", annotations: { "pulumi.com/waitFor": "jsonpath={.status.state}=Ready", "pulumi.com/timeoutSeconds": "1200" } },
        spec: {},
    }, { ...opts, dependsOn: [release] });
    const tier = new k8s.apiextensions.CustomResource(`${name}-platform-tier`, platformTier(), { ...opts, dependsOn: [apiServer] });
    const policies = [
        new k8s.apiextensions.CustomResource(`${name}-deny-metadata`, denyMetadataPolicy(a.version), { ...opts, dependsOn: [tier] }),
        new k8s.apiextensions.CustomResource(`${name}-deny-pod-nfs`, denyPodNfsPolicy(a.version, a.storageAddress), { ...opts, dependsOn: [tier] }),
    ];
    return { release, policies };
}
