/**
 * The hub's own Kubernetes objects beside the chart's, as typed data (pure; hub.ts registers them):
 * its namespace, the hub database's local volume, and the pool-side network policy that lets
 * Dask workers (HTCondor jobs in startd pods) and users' schedulers reach each other.
 */
import * as k8s from "@pulumi/kubernetes";
import { PART_OF } from "../htcondor/types";
import { HUB_DB, JUPYTERHUB_NAMESPACE, DASK_PORTS, USER_PODS } from "./values";

type Metadata = k8s.types.input.meta.v1.ObjectMeta;

/** Pod Security baseline enforced (user servers run unprivileged, as their own uid), restricted warned. */
export function hubNamespace(): { metadata: Metadata } {
    return {
        metadata: {
            name: JUPYTERHUB_NAMESPACE,
            labels: {
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                ...PART_OF,
            },
        },
    };
}

/** The local PV of the hub's database on `node`, reserved for the chart's claim. */
export function hubDbVolume(node: string): { metadata: Metadata; spec: k8s.types.input.core.v1.PersistentVolumeSpec } {
    return {
        metadata: { name: `${JUPYTERHUB_NAMESPACE}-${HUB_DB.claim}`, labels: PART_OF },
        spec: {
            capacity: { storage: HUB_DB.capacity },
            accessModes: ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: "",
            volumeMode: "Filesystem",
            local: { path: HUB_DB.hostPath },
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] }] } },
            claimRef: { namespace: JUPYTERHUB_NAMESPACE, name: HUB_DB.claim },
        },
    };
}

/**
 * In the pool's namespace (its policies deny everything else): workers reach users' Dask
 * schedulers, and users' schedulers and clients reach the workers (Dask's worker and nanny
 * ports are random, so any TCP port; HTCondor still authenticates its own).
 */
export function daskPoolPolicy(poolNamespace: string): { metadata: Metadata; spec: k8s.types.input.networking.v1.NetworkPolicySpec } {
    return {
        metadata: { name: "dask-with-notebooks", namespace: poolNamespace, labels: PART_OF },
        spec: {
            podSelector: { matchLabels: { "app.kubernetes.io/component": "worker" } },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [USER_PODS] }],
            egress: [{ to: [USER_PODS], ports: [{ protocol: "TCP", port: DASK_PORTS.scheduler }] }],
        },
    };
}
