/**
 * The autoscaler component (issue #19, README.md here): the controller's objects in the pool's
 * namespace, built by manifests.ts from `incant:autoscaling`. Always installed: with
 * `enabled: false` (the kill switch, the default) the controller reads and reports but changes
 * nothing, and the pool's worker Deployment keeps `nodes.workers.count` replicas (pool.ts).
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { FacilityConfig } from "../config/schema";
import { poolSettings, WORKER_RESERVED_MEMORY_MB } from "../htcondor/config";
import { labels, SECRETS, workerResources } from "../htcondor/manifests";
import { API_SERVER_PORT } from "../network/ports";
import { MONITORING_NAMESPACE, MONITORING_RELEASE } from "../kubernetes/monitoring";
import { autoscalerCondorConfig } from "./condor";
import { quotaWorkers } from "../config/quota";
import * as m from "./manifests";

/** The controller's image (images/autoscaler/Dockerfile), by the HTCondor version its tools come from. */
export function autoscalerImage(config: Pick<FacilityConfig, "registry" | "versions">): string {
    const registry = config.registry.server ?? "harbor.cloud.infn.it";
    return `${registry}/${config.registry.project}/htcondor-autoscaler:${config.versions.htcondor}-1`;
}

/** settings.json: the policy and what the controller cannot learn from the pool. */
export function autoscalerSettings(config: FacilityConfig, namespace: string): m.AutoscalerSettings {
    const a = config.autoscaling;
    const r = workerResources(config.flavors[config.nodes.workers.flavor]);
    const cpus = Number(r.cpu);
    // The startd's slot: the pod's memory request (Mi) less what HTCondor keeps (components/htcondor/config.ts).
    const memoryMb = Number(String(r.memory).replace(/Mi$/, "")) - WORKER_RESERVED_MEMORY_MB;
    return {
        policy: { enabled: a.enabled, min: a.min, max: a.max, scaleUpCooldownSeconds: a.scaleUpCooldownSeconds, scaleDownCooldownSeconds: a.scaleDownCooldownSeconds, idleSeconds: a.idleSeconds },
        intervalSeconds: a.intervalSeconds,
        namespace,
        deployment: "htcondor-worker",
        selector: Object.entries(labels("worker")).filter(([k]) => k !== "app.kubernetes.io/part-of").map(([k, v]) => `${k}=${v}`).join(","),
        workerShape: { cpus, memoryMb },
        quotaWorkers: quotaWorkers(config),
        metricsPort: m.METRICS_PORT,
    };
}

export interface AutoscalerArgs {
    config: FacilityConfig;
    /** The pool's namespace (HTCondorPool.namespace). */
    namespace: string;
    /** Created after these (the pool, for its namespace and token Secret; the cluster, for monitoring's CRDs). */
    dependsOn: pulumi.Resource[];
}

export class Autoscaler extends pulumi.ComponentResource {
    constructor(name: string, args: AutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:autoscaler:Autoscaler", name, {}, opts);
        const { config, namespace } = args;
        const child = { parent: this, dependsOn: args.dependsOn };
        const settings = autoscalerSettings(config, namespace);
        const ps = poolSettings(config, namespace, "");
        const condorConfig = autoscalerCondorConfig(ps);
        const inputs: m.AutoscalerInputs = {
            namespace, settings, condorConfig, image: autoscalerImage(config), tokenSecret: SECRETS.autoscalerToken,
            collectorPodLabels: { "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": "central-manager" },
            collectorPort: config.htcondor.collectorPort,
            ranges: { vmCidr: config.network.cidr, serviceCidr: config.network.serviceCidr },
            apiServerPort: API_SERVER_PORT,
            monitoring: { namespace: MONITORING_NAMESPACE, release: MONITORING_RELEASE },
        };
        const checksum = crypto.createHash("sha256").update(JSON.stringify(settings)).update(condorConfig).digest("hex");
        const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, m.serviceAccount(namespace), child);
        const role = new k8s.rbac.v1.Role(`${name}-role`, m.role(namespace, settings.deployment), child);
        const binding = new k8s.rbac.v1.RoleBinding(`${name}-binding`, m.roleBinding(namespace), { ...child, dependsOn: [...args.dependsOn, sa, role] });
        const [policy, policyBinding] = m.admissionPolicy(namespace);
        const vap = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-pod-patches`, policy, child);
        const vapBinding = new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-pod-patches-binding`, policyBinding, { ...child, dependsOn: [...args.dependsOn, vap] });
        const cm = new k8s.core.v1.ConfigMap(`${name}-config`, m.configMap(namespace, settings, condorConfig), child);
        new k8s.networking.v1.NetworkPolicy(`${name}-policy`, m.networkPolicy(inputs), child);
        new k8s.apps.v1.Deployment(`${name}-deployment`, m.deployment(inputs, checksum), { ...child, dependsOn: [...args.dependsOn, binding, vapBinding, cm] });
        new k8s.core.v1.Service(`${name}-metrics`, m.metricsService(namespace), child);
        new k8s.apiextensions.CustomResource(`${name}-servicemonitor`, m.serviceMonitor(namespace, MONITORING_RELEASE), child);
        new k8s.apiextensions.CustomResource(`${name}-rules`, m.prometheusRule(namespace, MONITORING_RELEASE), child);
        new k8s.core.v1.ConfigMap(`${name}-dashboard`, m.dashboard(MONITORING_NAMESPACE), child);
        this.registerOutputs({});
    }
}
