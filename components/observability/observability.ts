/**
 * PoolObservability: the pool's and the squid's metrics in the cluster's Prometheus and Grafana
 * (issue 17; metrics.ts has the data and the reasons). Created after the monitoring chart (its CRDs),
 * the pool and the squid (their namespaces).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MONITORING_NAMESPACE } from "../kubernetes/monitoring";
import { CACHE_NAMESPACE, SQUID_NAME } from "../cache/manifests";
import {
    CONDOR_METRICS_PORT, dashboardConfigMaps, metricsNetworkPolicy, metricsService, prometheusRule, serviceMonitor, SQUID_METRICS_PORT,
} from "./metrics";

export interface PoolObservabilityArgs {
    /** The pool's namespace. */
    poolNamespace: string;
    /** Whether the site squid runs (its metrics sidecar). */
    squid: boolean;
}

export class PoolObservability extends pulumi.ComponentResource {
    constructor(name: string, args: PoolObservabilityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:observability:PoolObservability", name, {}, opts);
        const p = { parent: this };
        const ns = args.poolNamespace;
        for (const role of ["central-manager", "scheduler"]) {
            new k8s.core.v1.Service(`${name}-${role}-metrics`, metricsService(`htcondor-${role}-metrics`, ns,
                { "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": role }, CONDOR_METRICS_PORT, "htcondor"), p);
        }
        new k8s.networking.v1.NetworkPolicy(`${name}-metrics-policy`, metricsNetworkPolicy(ns, MONITORING_NAMESPACE, ["central-manager", "scheduler"], CONDOR_METRICS_PORT), p);
        new k8s.apiextensions.CustomResource(`${name}-htcondor-monitor`, serviceMonitor("htcondor", ns, "htcondor") as k8s.apiextensions.CustomResourceArgs, p);
        if (args.squid) {
            new k8s.core.v1.Service(`${name}-squid-metrics`, metricsService("squid-metrics", CACHE_NAMESPACE,
                { "app.kubernetes.io/name": SQUID_NAME, "app.kubernetes.io/part-of": "incant" }, SQUID_METRICS_PORT, "squid"), p);
            new k8s.apiextensions.CustomResource(`${name}-squid-monitor`, serviceMonitor("squid", CACHE_NAMESPACE, "squid") as k8s.apiextensions.CustomResourceArgs, p);
        }
        for (const cm of dashboardConfigMaps(MONITORING_NAMESPACE)) new k8s.core.v1.ConfigMap(`${name}-${cm.metadata.name}`, cm, p);
        new k8s.apiextensions.CustomResource(`${name}-alerts`, prometheusRule(MONITORING_NAMESPACE) as k8s.apiextensions.CustomResourceArgs, p);
        this.registerOutputs({});
    }
}
