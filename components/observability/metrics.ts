/**
 * HTCondor and squid metrics in the cluster's Prometheus (issue 17), as data.
 *
 *   central manager pod: condor_master runs condor-exporter.py --pool  (:9620)  slots, startds,
 *                        negotiator, submitters' priority and CPU-seconds
 *   scheduler pod:       condor_master runs condor-exporter.py --queue (:9620)  jobs by owner/status
 *   squid pod:           sidecar condor-exporter.py --squid            (:9621)  squid's counters
 *   -> Services labelled incant/metrics -> ServiceMonitors (label release: kube-prometheus-stack,
 *      which the chart's Prometheus selects) -> dashboards (ConfigMaps with grafana_dashboard: "1",
 *      read by the chart's Grafana sidecar) and a PrometheusRule (alerts).
 *
 * Why an exporter of ours: HTCondor 24.0 has no Prometheus endpoint, and the exporters published for
 * it use the Python bindings (absent from the images' base and from this build) or Elasticsearch
 * (condor_adstash); a standard-library script over HTCondor's own `-json` output runs in the images
 * as they are and, run by condor_master, authenticates with FS like an operator in the pod. The
 * schedd answers only local tools (FS) and users (SciTokens), so the queue is read in its pod.
 */
import type { ConfigEntry } from "../htcondor/config";
import { SUBMIT_HOST_JOB } from "../kubernetes/monitoring";
import { ARCHIVE_CLIENT } from "../storage/archive";

/** Where the pods mount the exporter (a ConfigMap item, 0555). */
export const METRICS_DIR = "/etc/condor/incant-metrics";
export const EXPORTER_SCRIPT = "condor-exporter.py";
/** The exporters' ports (inside the pods; not published). */
export const CONDOR_METRICS_PORT = 9620;
export const SQUID_METRICS_PORT = 9621;
/** The label the metrics Services carry and the ServiceMonitors select. */
export const METRICS_LABEL = "incant/metrics";
/** The kube-prometheus-stack release name (its Prometheus selects ServiceMonitors and rules with release: <name>). */
export const PROMETHEUS_RELEASE = "kube-prometheus-stack";

/**
 * The master's extra daemon: the exporter, restarted by the master when it dies. Not a DaemonCore
 * daemon (it is not in DC_DAEMON_LIST), so the master starts it with its own arguments only.
 */
export function exporterDaemon(mode: "--pool" | "--queue"): ConfigEntry[] {
    return [
        { comment: "Metrics for Prometheus (components/observability/metrics.ts), run and restarted by the master." },
        { key: "DAEMON_LIST", value: "$(DAEMON_LIST) INCANT_EXPORTER" },
        { key: "INCANT_EXPORTER", value: `${METRICS_DIR}/${EXPORTER_SCRIPT}` },
        // On the pod's own address (the pods' POD_IP, as PRIVATE_NETWORK_INTERFACE): the loopback pool's pods
        // share one network namespace, where two exporters on all addresses would take each other's port.
        { key: "INCANT_EXPORTER_ARGS", value: `${mode} --port ${CONDOR_METRICS_PORT} --address $ENV(POD_IP)` },
    ];
}

/** An alert of the PrometheusRule. */
export interface Alert { alert: string; expr: string; for: string; severity: "warning" | "critical"; summary: string }

/** The alerts (issue 17): startds below the workers, schedd down, CVMFS failing, squid down, a user idle with free cores. */
export function alerts(): Alert[] {
    return [
        {
            alert: "HTCondorStartdsMissing", for: "10m", severity: "warning",
            // kube-state-metrics (part of the chart) knows how many worker pods the Deployment wants.
            expr: 'max(condor_startds) < sum(kube_deployment_spec_replicas{namespace="htcondor",deployment="htcondor-worker"})',
            summary: "Fewer startds in the collector than worker pods wanted: workers are not in the pool",
        },
        {
            alert: "HTCondorScheddDown", for: "5m", severity: "critical",
            expr: 'max(condor_up{daemon="schedd"}) < 1 or absent(condor_up{daemon="schedd"})',
            summary: "The schedd does not answer: nobody can submit",
        },
        {
            alert: "HTCondorCvmfsFailing", for: "10m", severity: "warning",
            expr: "condor_startd_has_cvmfs == 0",
            summary: "A worker's CVMFS check fails (CvmfsFailedRepositories in its slot ad): it takes no jobs",
        },
        {
            alert: "SquidDown", for: "5m", severity: "critical",
            expr: "max(squid_up) < 1 or absent(squid_up)",
            summary: "The site squid does not answer: CVMFS and Frontier go without their cache (or fail, without DIRECT fallback)",
        },
        {
            // The submit host's node exporter (components/kubernetes/monitoring.ts SUBMIT_HOST_JOB, submit/hostconfig.ts).
            alert: "IncantArchiveDown", for: "10m", severity: "warning",
            expr: `max(node_systemd_unit_state{job="${SUBMIT_HOST_JOB}",name="${ARCHIVE_CLIENT.unit}",state="active"}) < 1`,
            summary: "The S3 archive is not mounted on the submit host (S3 unreachable or its key refused; homes and scratch are not affected): journalctl -u incant-archive",
        },
        {
            alert: "IncantSubmitHostUnscraped", for: "10m", severity: "warning",
            expr: `max(up{job="${SUBMIT_HOST_JOB}"}) < 1 or absent(up{job="${SUBMIT_HOST_JOB}"})`,
            summary: "Prometheus cannot read the submit host's node exporter (down, or port 9100 closed): the archive alert is blind",
        },
        {
            alert: "HTCondorUserIdleWithFreeCores", for: "15m", severity: "warning",
            expr: 'max by (owner) (condor_jobs_idle_oldest_seconds) > 3600 and on() (sum(condor_slot_cpus{state="Unclaimed"}) > 0)',
            summary: "A user's jobs wait over an hour while cores are free: their requirements match no slot (condor_q -better-analyze)",
        },
    ];
}

/** The PrometheusRule object. */
export function prometheusRule(namespace: string): Record<string, unknown> {
    return {
        apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule",
        metadata: { name: "incant-htcondor", namespace, labels: { release: PROMETHEUS_RELEASE, "app.kubernetes.io/part-of": "incant" } },
        spec: {
            groups: [{
                name: "incant-htcondor",
                rules: alerts().map((a) => ({ alert: a.alert, expr: a.expr, for: a.for, labels: { severity: a.severity }, annotations: { summary: a.summary } })),
            }],
        },
    };
}

/** A ServiceMonitor for the Services of one namespace labelled METRICS_LABEL=<value>. */
export function serviceMonitor(name: string, namespace: string, value: string): Record<string, unknown> {
    return {
        apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor",
        metadata: { name, namespace, labels: { release: PROMETHEUS_RELEASE, "app.kubernetes.io/part-of": "incant" } },
        spec: {
            selector: { matchLabels: { [METRICS_LABEL]: value } },
            namespaceSelector: { matchNames: [namespace] },
            endpoints: [{ port: "metrics", interval: "60s", scrapeTimeout: "50s" }],
        },
    };
}

/** One Grafana panel: a time series of PromQL targets. */
interface Panel { title: string; targets: { expr: string; legend: string }[]; unit?: string }

/** The dashboards (issue 17): pool, users, squid. */
export function dashboardPanels(): Record<string, Panel[]> {
    return {
        "incant-htcondor-pool": [
            { title: "Cores by slot state", targets: [{ expr: "sum by (state) (condor_slot_cpus)", legend: "{{state}}" }] },
            { title: "Startds in the pool", targets: [{ expr: "max(condor_startds)", legend: "startds" }] },
            { title: "Workers without CVMFS", targets: [{ expr: "condor_startd_has_cvmfs == 0", legend: "{{machine}}" }] },
            { title: "Daemons answering", targets: [{ expr: "condor_up", legend: "{{daemon}}" }] },
            { title: "Negotiation cycle", unit: "s", targets: [
                { expr: "max(condor_negotiator_cycle_duration_seconds)", legend: "duration" },
                { expr: "time() - max(condor_negotiator_last_cycle_end_timestamp_seconds)", legend: "since the last" },
            ] },
            { title: "Schedd", targets: [{ expr: 'max(condor_up{daemon="schedd"})', legend: "up" }, { expr: "max(condor_schedds)", legend: "advertised" }] },
        ],
        "incant-htcondor-users": [
            { title: "Jobs by user and status", targets: [{ expr: "sum by (owner, status) (condor_jobs)", legend: "{{owner}} {{status}}" }] },
            { title: "Oldest idle job per user", unit: "s", targets: [{ expr: "max by (owner) (condor_jobs_idle_oldest_seconds)", legend: "{{owner}}" }] },
            { title: "CPU-hours per user (last 24 h)", unit: "h", targets: [{ expr: "increase(condor_submitter_cpu_seconds_total[24h]) / 3600", legend: "{{submitter}}" }] },
            { title: "Cores held per user", targets: [{ expr: "condor_submitter_resources_used", legend: "{{submitter}}" }] },
            { title: "Effective priority (lower is better)", targets: [{ expr: "condor_submitter_priority", legend: "{{submitter}}" }] },
        ],
        "incant-squid": [
            { title: "Hit ratio (requests)", unit: "percentunit", targets: [{ expr: "sum(rate(squid_client_http_hits_total[5m])) / sum(rate(squid_client_http_requests_total[5m]))", legend: "hits" }] },
            { title: "Hit ratio (bytes)", unit: "percentunit", targets: [{ expr: "sum(rate(squid_client_http_hit_kbytes_out_total[5m])) / sum(rate(squid_client_http_kbytes_out_total[5m]))", legend: "bytes" }] },
            { title: "Requests per second", targets: [{ expr: "sum(rate(squid_client_http_requests_total[5m]))", legend: "requests" }] },
            { title: "Squid up", targets: [{ expr: "max(squid_up)", legend: "up" }] },
        ],
    };
}

/** A dashboard as Grafana's JSON model (schema as Grafana 10/11 exports it), panels two per row. */
export function dashboardJson(uid: string, title: string, panels: Panel[]): string {
    return JSON.stringify({
        uid, title, schemaVersion: 39, version: 1, editable: false, time: { from: "now-24h", to: "now" }, refresh: "1m",
        tags: ["incant"],
        panels: panels.map((p, i) => ({
            id: i + 1, type: "timeseries", title: p.title, datasource: { type: "prometheus", uid: "prometheus" },
            gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
            fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
            targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), expr: t.expr, legendFormat: t.legend })),
        })),
    }, null, 2);
}

/** Every metric name (condor_*, squid_*) the dashboards and alerts query: each must be one the exporter produces. */
export function queriedMetrics(): string[] {
    const exprs = [...Object.values(dashboardPanels()).flat().flatMap((p) => p.targets.map((t) => t.expr)), ...alerts().map((a) => a.expr)];
    return [...new Set(exprs.flatMap((e) => e.match(/\b(condor|squid)_[a-z_]+\b/g) ?? []))].sort();
}

type Obj = { metadata: { name: string; namespace: string; labels?: Record<string, string> } } & Record<string, unknown>;

/** A Service in front of one exporter (port name "metrics", which the ServiceMonitors scrape). */
export function metricsService(name: string, namespace: string, selector: Record<string, string>, port: number, group: string): Obj {
    return {
        metadata: { name, namespace, labels: { [METRICS_LABEL]: group, "app.kubernetes.io/part-of": "incant" } },
        spec: { type: "ClusterIP", selector, ports: [{ name: "metrics", port, targetPort: port, protocol: "TCP" }] },
    };
}

/** The pool's NetworkPolicies deny by default: Prometheus (namespace monitoring) may reach the exporters' port. */
export function metricsNetworkPolicy(namespace: string, monitoringNamespace: string, components: string[], port: number): Obj {
    return {
        metadata: { name: "metrics-from-prometheus", namespace, labels: { "app.kubernetes.io/part-of": "incant" } },
        spec: {
            podSelector: { matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: components }] },
            policyTypes: ["Ingress"],
            ingress: [{
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": monitoringNamespace } } }],
                ports: [{ protocol: "TCP", port }],
            }],
        },
    };
}

/** The dashboards as ConfigMaps the chart's Grafana sidecar loads (label grafana_dashboard: "1", its default). */
export function dashboardConfigMaps(namespace: string): Obj[] {
    return Object.entries(dashboardPanels()).map(([uid, panels]) => ({
        metadata: { name: uid, namespace, labels: { grafana_dashboard: "1", "app.kubernetes.io/part-of": "incant" } },
        data: { [`${uid}.json`]: dashboardJson(uid, DASHBOARD_TITLES[uid] ?? uid, panels) },
    }));
}

const DASHBOARD_TITLES: Record<string, string> = {
    "incant-htcondor-pool": "INCANT / HTCondor pool",
    "incant-htcondor-users": "INCANT / HTCondor users",
    "incant-squid": "INCANT / site squid",
};
