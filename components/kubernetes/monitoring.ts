/**
 * Cluster monitoring, as the paper's cluster template provided: Prometheus, Alertmanager and
 * Grafana from the kube-prometheus-stack chart (prometheus-community), pinned.
 *
 * Reachable only through the API server: every Service is ClusterIP, no Ingress, no NodePort,
 * so only someone holding a kubeconfig (the operators, from the admin CIDRs that reach 6443)
 * can open Grafana:
 *
 *     kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80
 *     # user admin, password: pulumi stack output grafanaAdminPassword --show-secrets
 *     #   (or kubectl -n monitoring get secret kube-prometheus-stack-grafana -o jsonpath='{.data.admin-password}' | base64 -d)
 *
 * The controller manager, scheduler, etcd and kube-proxy are scraped with the chart's own jobs
 * and alerts: kubeadm.ts opens their metrics listeners, ports.ts admits the cluster's nodes.
 * No storage class exists in this cluster: Prometheus keeps its data on the node (emptyDir),
 * bounded in age and size, with the volume capped above that so a full disk evicts nothing else.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { NODE_EXPORTER_NAMESPACE, privilegedNamespaceLabels } from "./podsecurity";
import { METRICS_PORTS } from "../network/ports";

export const MONITORING_CHART_REPO = "https://prometheus-community.github.io/helm-charts";
export const MONITORING_NAMESPACE = "monitoring";
export const MONITORING_RELEASE = "kube-prometheus-stack";

export interface MonitoringArgs {
    /** kube-prometheus-stack chart version. */
    version: string;
    /** The submit host's fixed address: its node exporter is scraped (the S3 archive's health). */
    submitHostAddress?: string;
}

/** The scrape job of the submit host's node exporter (the IncantArchiveDown alert names it). */
export const SUBMIT_HOST_JOB = "incant-submit-host";

/** Prometheus's extra scrape of the submit host, outside the cluster (additionalScrapeConfigs). */
export function submitHostScrape(address: string) {
    return { job_name: SUBMIT_HOST_JOB, static_configs: [{ targets: [`${address}:${METRICS_PORTS.submitNodeExporter}`], labels: { role: "submit" } }] };
}

/** How much Prometheus keeps: whichever limit is hit first (prometheus --storage.tsdb.retention.*). */
export const PROMETHEUS_RETENTION = { time: "15d", size: "8GB", volumeSizeLimit: "10Gi" } as const;

/** A control-plane component's scrape: its port, and HTTPS for the two that serve only that. */
function scrape(port: number, https: boolean) {
    return {
        enabled: true,
        service: { port, targetPort: port },
        // Controller manager and scheduler serve a self-signed certificate made at start (no
        // --tls-cert-file from kubeadm): the scrape authenticates with Prometheus's token and
        // cannot verify the server. Metrics only; the security groups admit only the nodes.
        serviceMonitor: https ? { https: true, insecureSkipVerify: true } : { https: false },
    };
}

export function monitoringValues(grafanaAdminPassword: pulumi.Input<string>, submitHostAddress?: string) {
    const clusterIp = { type: "ClusterIP" };
    return {
        grafana: { adminPassword: grafanaAdminPassword, service: clusterIp },
        prometheus: {
            service: clusterIp,
            prometheusSpec: {
                retention: PROMETHEUS_RETENTION.time,
                retentionSize: PROMETHEUS_RETENTION.size,
                storageSpec: { emptyDir: { sizeLimit: PROMETHEUS_RETENTION.volumeSizeLimit } },
                ...(submitHostAddress ? { additionalScrapeConfigs: [submitHostScrape(submitHostAddress)] } : {}),
            },
        },
        alertmanager: { service: clusterIp },
        // The one part that needs the host's namespaces goes to its own privileged namespace,
        // so the rest of the stack stays under the baseline Pod Security level.
        "prometheus-node-exporter": { namespaceOverride: NODE_EXPORTER_NAMESPACE },
        kubeControllerManager: scrape(METRICS_PORTS.controllerManager, true),
        kubeScheduler: scrape(METRICS_PORTS.scheduler, true),
        kubeEtcd: scrape(METRICS_PORTS.etcd, false),
        kubeProxy: scrape(METRICS_PORTS.kubeProxy, false),
    };
}

export interface Monitoring {
    release: k8s.helm.v3.Release;
    grafanaAdminPassword: pulumi.Output<string>;
}

export function installMonitoring(name: string, a: MonitoringArgs,
    opts: { parent: pulumi.Resource; provider: k8s.Provider; dependsOn: pulumi.Resource[] }): Monitoring {
    const { parent, provider } = opts;
    const password = new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, { parent });
    const namespaces = [
        new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: MONITORING_NAMESPACE } }, { parent, provider }),
        new k8s.core.v1.Namespace(`${name}-node-exporter-namespace`, {
            metadata: { name: NODE_EXPORTER_NAMESPACE, labels: privilegedNamespaceLabels(NODE_EXPORTER_NAMESPACE) },
        }, { parent, provider }),
    ];
    const adminPassword = pulumi.secret(password.result);
    const release = new k8s.helm.v3.Release(name, {
        name: MONITORING_RELEASE,
        chart: "kube-prometheus-stack",
        version: a.version,
        repositoryOpts: { repo: MONITORING_CHART_REPO },
        namespace: MONITORING_NAMESPACE,
        createNamespace: false,
        values: monitoringValues(adminPassword, a.submitHostAddress),
        // Fresh nodes pull a dozen images.
        timeout: 1200,
    }, { parent, provider, dependsOn: [...namespaces, ...opts.dependsOn] });
    return { release, grafanaAdminPassword: adminPassword };
}
