/**
 * The cluster's OpenStack integration (issue 16): the OpenStack cloud controller manager and the
 * Cinder CSI driver, both from kubernetes/cloud-provider-openstack's Helm charts, pinned to the
 * release line of the cluster's Kubernetes minor (their versions follow it: 2.35.x for 1.35).
 *
 *   cloud controller   initialises Nodes from Nova (kubelets run with --cloud-provider=external
 *                      and wait, tainted, until it has), deletes the Node of a VM that is gone,
 *                      and with Octavia makes LoadBalancer Services
 *   Cinder CSI         volumes for pods that follow them from node to node; its StorageClass
 *                      `csi-cinder-sc-retain` is the default (a deleted claim leaves the volume)
 *
 * Credentials: an application credential of the cluster's own (not the operator's login, not the
 * program's CI credential), restricted (it cannot make more credentials), made by the program and
 * kept in a Secret in kube-system only. Keystone access rules could narrow it further to the API
 * calls the two controllers make; they are not set: a missing rule breaks volume attachment at
 * run time, and the list differs between Nova/Cinder microversions (docs/security.md).
 * The route controller is off: pod traffic is Calico's VXLAN, not Neutron routes.
 */
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { renderIni } from "../compute/ini";
import { kubernetesMinor } from "./versions";

export const CLOUD_PROVIDER_CHART_REPO = "https://kubernetes.github.io/cloud-provider-openstack";

/** The Secret both charts read (`secret.name`), and its key (`cloud.conf`, the charts' file name). */
export const CLOUD_CONFIG_SECRET = { name: "cloud-config", namespace: "kube-system", key: "cloud.conf" } as const;
/** The default StorageClass the Cinder CSI chart makes. */
export const DEFAULT_STORAGE_CLASS = "csi-cinder-sc-retain";

export interface CloudConfArgs {
    authUrl: string;
    region: string;
    applicationCredentialId: string;
    applicationCredentialSecret: string;
    /** With Octavia: the external network's id (floating IPs) and the cluster subnet's id (members). */
    loadBalancer?: { floatingNetworkId: string; subnetId: string };
}

/**
 * A value as gcfg (the controllers' INI reader) reads it: bare when plain, else double-quoted with
 * `\\` and `\"` escaped (unquoted, `;` or `#` would start a comment: gcfg's "Syntax").
 */
export function gcfgValue(value: string): string {
    return /^[A-Za-z0-9._:/@+=-]*$/.test(value) ? value : `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** cloud.conf of both controllers (cloud-provider-openstack docs, "Config openstack-cloud-controller-manager"). */
export function renderCloudConf(a: CloudConfArgs): string {
    return renderIni([
        {
            name: "Global", entries: {
                "auth-url": a.authUrl,
                "application-credential-id": a.applicationCredentialId,
                "application-credential-secret": gcfgValue(a.applicationCredentialSecret),
                region: a.region,
            },
        },
        {
            name: "LoadBalancer", entries: a.loadBalancer
                ? { enabled: "true", "floating-network-id": a.loadBalancer.floatingNetworkId, "subnet-id": a.loadBalancer.subnetId }
                : { enabled: "false" },
        },
        // Nova and Cinder availability zones need not match on a research cloud.
        { name: "BlockStorage", entries: { "ignore-volume-az": "true" } },
    ], { separator: "=" });
}

/** Values of the openstack-cloud-controller-manager chart. */
export function ccmValues(a: { clusterName: string; octavia: boolean }) {
    return {
        secret: { enabled: true, create: false, name: CLOUD_CONFIG_SECRET.name },
        cluster: { name: a.clusterName },
        enabledControllers: ["cloud-node", "cloud-node-lifecycle", ...(a.octavia ? ["service"] : [])],
    };
}

/** Values of the openstack-cinder-csi chart. */
export function cinderCsiValues(a: { clusterName: string }) {
    return {
        secret: { enabled: true, create: false, name: CLOUD_CONFIG_SECRET.name, filename: CLOUD_CONFIG_SECRET.key },
        clusterID: a.clusterName,
        storageClass: {
            enabled: true,
            delete: { isDefault: false, allowVolumeExpansion: true },
            // Data first: deleting a claim keeps the volume until an operator deletes it.
            retain: { isDefault: true, allowVolumeExpansion: true },
        },
    };
}

export interface CloudProviderArgs {
    clusterName: string;
    kubernetesMinor: string;
    authUrl: string;
    region: string;
    octavia: boolean;
    externalNetwork: string;
    subnetId: pulumi.Input<string>;
}

export interface CloudProvider {
    credential: openstack.identity.ApplicationCredential;
    ccm: k8s.helm.v3.Release;
    cinderCsi: k8s.helm.v3.Release;
}

export function installCloudProvider(name: string, a: CloudProviderArgs, parent: pulumi.Resource, onCluster: pulumi.CustomResourceOptions): CloudProvider {
    const charts = kubernetesMinor(a.kubernetesMinor)?.cloudProviderCharts;
    if (!charts) throw new pulumi.ResourceError(`no cloud-provider-openstack charts listed for Kubernetes ${a.kubernetesMinor} (components/kubernetes/cloud-provider.ts)`, parent);
    const credential = new openstack.identity.ApplicationCredential(`${name}-credential`, {
        name: `${a.clusterName}-kubernetes-cloud-provider`,
        description: `Kubernetes cluster ${a.clusterName}: cloud controller manager and Cinder CSI (made by the INCANT Pulumi program)`,
        unrestricted: false,
    }, { parent });
    const floatingNetworkId = a.octavia ? openstack.networking.getNetworkOutput({ name: a.externalNetwork }, { parent }).id : undefined;
    const conf = pulumi.secret(pulumi.all([credential.id, credential.secret, floatingNetworkId, a.subnetId])
        .apply(([id, secret, fip, subnetId]) => renderCloudConf({
            authUrl: a.authUrl, region: a.region, applicationCredentialId: id, applicationCredentialSecret: secret,
            loadBalancer: fip ? { floatingNetworkId: fip, subnetId } : undefined,
        })));
    const secret = new k8s.core.v1.Secret(`${name}-cloud-config`, {
        metadata: { name: CLOUD_CONFIG_SECRET.name, namespace: CLOUD_CONFIG_SECRET.namespace },
        stringData: { [CLOUD_CONFIG_SECRET.key]: conf },
    }, onCluster);
    const release = (suffix: string, chart: string, version: string, values: object) => new k8s.helm.v3.Release(`${name}-${suffix}`, {
        name: chart, chart, version, repositoryOpts: { repo: CLOUD_PROVIDER_CHART_REPO },
        // kube-system: exempt from Pod Security (podsecurity.ts); both run privileged parts (CSI node plugin).
        namespace: "kube-system", values,
    }, { ...onCluster, dependsOn: [secret] });
    return {
        credential,
        ccm: release("ccm", "openstack-cloud-controller-manager", charts, ccmValues({ clusterName: a.clusterName, octavia: a.octavia })),
        cinderCsi: release("cinder-csi", "openstack-cinder-csi", charts, cinderCsiValues({ clusterName: a.clusterName })),
    };
}
