/**
 * The autoscaler's Kubernetes objects, as data (pure functions; index.ts creates them):
 * - a ServiceAccount and a Role in the pool's namespace allowing exactly what kube.ts calls:
 *   list/get/patch pods (drain and deletion-cost annotations), get/patch the scale subresource
 *   of the worker Deployment only, create Events; nothing cluster-wide, no Secrets, no exec;
 * - a ValidatingAdmissionPolicy that holds that service account's pod patches to the two
 *   annotations (RBAC cannot scope a patch to fields: without it the Role would let the
 *   controller change a pod's labels, and so which ReplicaSet owns it);
 * - its ConfigMap (settings.json: the policy of `incant:autoscaling`; condor_config), its
 *   Deployment (one replica, non-root, read-only root, no capabilities), a NetworkPolicy (the
 *   collector, the API server, Prometheus in), the metrics Service, a ServiceMonitor and a
 *   PrometheusRule for kube-prometheus-stack (label `release`), and a Grafana dashboard ConfigMap
 *   (the chart's dashboard sidecar reads label grafana_dashboard in its namespace).
 */
import * as k8s from "@pulumi/kubernetes";
import { AutoscalingPolicy } from "./decide";
import { DELETION_COST } from "./kube";
import { DRAIN } from "../htcondor/config";
import { METRIC_NAMES } from "./metrics";
import { TOKEN_SOURCE_DIR } from "./condor";

export const AUTOSCALER_NAME = "htcondor-autoscaler";
export const METRICS_PORT = 8080;
export const SETTINGS_DIR = "/etc/incant/autoscaler";
export const CONDOR_CONFIG_PATH = `${SETTINGS_DIR}/condor_config`;

/** What main.ts reads (settings.json). */
export interface AutoscalerSettings {
    policy: AutoscalingPolicy;
    intervalSeconds: number;
    namespace: string;
    deployment: string;
    selector: string;
    workerShape: { cpus: number; memoryMb: number };
    quotaWorkers: number;
    metricsPort: number;
}

export interface AutoscalerInputs {
    namespace: string;
    settings: AutoscalerSettings;
    condorConfig: string;
    image: string;
    /** The Secret holding the autoscaler's IDTOKEN (key `token`). */
    tokenSecret: string;
    /** Labels of the central manager's pods (its collector). */
    collectorPodLabels: Record<string, string>;
    collectorPort: number;
    ranges: { vmCidr: string; serviceCidr: string };
    /** The API server's port on the control planes (the Service's endpoints). */
    apiServerPort: number;
    monitoring: { namespace: string; release: string };
}

/** A custom resource (kube-prometheus-stack CRDs): what CustomResource takes. */
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

const LABELS = { "app.kubernetes.io/name": AUTOSCALER_NAME, "app.kubernetes.io/part-of": "incant" };
const SELECTOR = { "app.kubernetes.io/name": AUTOSCALER_NAME };

export function serviceAccountName(): string {
    return AUTOSCALER_NAME;
}

/** The Role: every rule is a call of kube.ts. */
export function role(namespace: string, workerDeployment: string): k8s.types.input.rbac.v1.Role {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role",
        metadata: { name: AUTOSCALER_NAME, namespace, labels: LABELS },
        rules: [
            // Worker pods: list them, annotate them (drain, deletion cost; the admission policy holds patches to those).
            { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "patch"] },
            // The worker Deployment's replicas, through the scale subresource only.
            { apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: [workerDeployment], verbs: ["get", "patch"] },
            // Decisions, visible with kubectl describe deployment htcondor-worker.
            { apiGroups: [""], resources: ["events"], verbs: ["create"] },
        ],
    };
}

export function roleBinding(namespace: string): k8s.types.input.rbac.v1.RoleBinding {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding",
        metadata: { name: AUTOSCALER_NAME, namespace, labels: LABELS },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: AUTOSCALER_NAME },
        subjects: [{ kind: "ServiceAccount", name: AUTOSCALER_NAME, namespace }],
    };
}

export function serviceAccount(namespace: string): k8s.types.input.core.v1.ServiceAccount {
    return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: AUTOSCALER_NAME, namespace, labels: LABELS } };
}

/** Pod patches by the autoscaler: only the two annotations may change (CEL, Kubernetes 1.30+ GA). */
export function admissionPolicy(namespace: string): [k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicy, k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicyBinding] {
    const name = `${namespace}-${AUTOSCALER_NAME}-pod-patches`;
    const keys = `['${DRAIN.annotation}', '${DELETION_COST}']`;
    const ann = (o: string) => `(has(${o}.metadata.annotations) ? ${o}.metadata.annotations : {})`;
    return [{
        apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy",
        metadata: { name, labels: LABELS },
        spec: {
            failurePolicy: "Fail",
            matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["pods"] }] },
            matchConditions: [{ name: "autoscaler", expression: `request.userInfo.username == 'system:serviceaccount:${namespace}:${AUTOSCALER_NAME}'` }],
            validations: [
                { expression: "object.spec == oldObject.spec", message: "the autoscaler may not change a pod's spec" },
                { expression: `(has(object.metadata.labels) ? object.metadata.labels : {}) == (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})`, message: "the autoscaler may not change a pod's labels" },
                {
                    expression: `${ann("object")}.all(k, k in ${keys} || (k in ${ann("oldObject")} && ${ann("oldObject")}[k] == ${ann("object")}[k])) && ${ann("oldObject")}.all(k, k in ${keys} || k in ${ann("object")})`,
                    message: `the autoscaler may change only the annotations ${DRAIN.annotation} and ${DELETION_COST}`,
                },
            ],
        },
    }, {
        apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding",
        metadata: { name, labels: LABELS },
        spec: { policyName: name, validationActions: ["Deny"], matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } } },
    }];
}

export function configMap(namespace: string, settings: AutoscalerSettings, condorConfig: string): k8s.types.input.core.v1.ConfigMap {
    return {
        apiVersion: "v1", kind: "ConfigMap",
        metadata: { name: AUTOSCALER_NAME, namespace, labels: LABELS },
        data: { "settings.json": `${JSON.stringify(settings, null, 2)}\n`, condor_config: condorConfig },
    };
}

export function deployment(a: AutoscalerInputs, checksum: string): k8s.types.input.apps.v1.Deployment {
    return {
        apiVersion: "apps/v1", kind: "Deployment",
        metadata: { name: AUTOSCALER_NAME, namespace: a.namespace, labels: LABELS },
        spec: {
            // One controller: two would each act on what they read.
            replicas: 1,
            strategy: { type: "Recreate" },
            selector: { matchLabels: SELECTOR },
            template: {
                metadata: { labels: LABELS, annotations: { "incant.cloud.infn.it/config-checksum": checksum } },
                spec: {
                    serviceAccountName: AUTOSCALER_NAME,
                    automountServiceAccountToken: true,
                    enableServiceLinks: false,
                    securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [{
                        name: "autoscaler",
                        image: a.image,
                        imagePullPolicy: "IfNotPresent",
                        args: [`${SETTINGS_DIR}/settings.json`],
                        env: [{ name: "CONDOR_CONFIG", value: CONDOR_CONFIG_PATH }, { name: "HOME", value: "/tmp" }],
                        ports: [{ name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" }],
                        resources: { requests: { cpu: "50m", memory: "96Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } },
                        livenessProbe: { httpGet: { path: "/healthz", port: METRICS_PORT }, periodSeconds: 30 },
                        volumeMounts: [
                            { name: "settings", mountPath: SETTINGS_DIR, readOnly: true },
                            { name: "token", mountPath: TOKEN_SOURCE_DIR, readOnly: true },
                            { name: "tmp", mountPath: "/tmp" },
                        ],
                    }],
                    volumes: [
                        { name: "settings", configMap: { name: AUTOSCALER_NAME, items: [{ key: "settings.json", path: "settings.json" }, { key: "condor_config", path: "condor_config" }] } },
                        // Readable by the controller's group only (fsGroup).
                        { name: "token", secret: { secretName: a.tokenSecret, defaultMode: 0o440, items: [{ key: "token", path: "autoscaler" }] } },
                        { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
                    ],
                },
            },
        },
    };
}

/** Its traffic: the collector and the API server out (DNS: the namespace's policy), Prometheus in. */
export function networkPolicy(a: AutoscalerInputs): k8s.types.input.networking.v1.NetworkPolicy {
    return {
        apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
        metadata: { name: AUTOSCALER_NAME, namespace: a.namespace, labels: LABELS },
        spec: {
            podSelector: { matchLabels: SELECTOR },
            policyTypes: ["Ingress", "Egress"],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": a.monitoring.namespace } } }], ports: [{ protocol: "TCP", port: METRICS_PORT }] }],
            egress: [
                { to: [{ podSelector: { matchLabels: a.collectorPodLabels } }], ports: [{ protocol: "TCP", port: a.collectorPort }] },
                // The kubernetes Service and, after its DNAT, the API servers on the control planes.
                { to: [{ ipBlock: { cidr: a.ranges.serviceCidr } }], ports: [{ protocol: "TCP", port: 443 }] },
                { to: [{ ipBlock: { cidr: a.ranges.vmCidr } }], ports: [{ protocol: "TCP", port: a.apiServerPort }] },
            ],
        },
    };
}

export function metricsService(namespace: string): k8s.types.input.core.v1.Service {
    return {
        apiVersion: "v1", kind: "Service",
        metadata: { name: AUTOSCALER_NAME, namespace, labels: LABELS },
        spec: { type: "ClusterIP", selector: SELECTOR, ports: [{ name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" }] },
    };
}

export function serviceMonitor(namespace: string, release: string): Obj {
    return {
        apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor",
        metadata: { name: AUTOSCALER_NAME, namespace, labels: { ...LABELS, release } },
        spec: { selector: { matchLabels: SELECTOR }, endpoints: [{ port: "metrics", interval: "30s" }] },
    };
}

/** Alerts: the controller down or failing, demand it cannot meet. */
export function prometheusRule(namespace: string, release: string): Obj {
    const m = (name: string) => {
        if (!METRIC_NAMES.includes(name)) throw new Error(`unknown metric ${name}`);
        return name;
    };
    return {
        apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule",
        metadata: { name: AUTOSCALER_NAME, namespace, labels: { ...LABELS, release } },
        spec: {
            groups: [{
                name: "incant-autoscaler",
                rules: [
                    { alert: "IncantAutoscalerDown", expr: `absent(${m("incant_autoscaler_cycles_total")}) or time() - ${m("incant_autoscaler_last_cycle_timestamp_seconds")} > 600`, for: "10m", labels: { severity: "warning" }, annotations: { summary: "The HTCondor autoscaler has not completed a cycle for 10 minutes: the worker count is frozen" } },
                    { alert: "IncantAutoscalerCycleErrors", expr: `increase(${m("incant_autoscaler_cycle_errors_total")}[15m]) > 3`, for: "15m", labels: { severity: "warning" }, annotations: { summary: "Autoscaler cycles fail (kubectl -n htcondor describe deployment htcondor-worker shows the Events)" } },
                    { alert: "IncantAutoscalerAtCapWithIdleJobs", expr: `${m("incant_autoscaler_enabled")} == 1 and (${m("incant_autoscaler_workers")} >= ${m("incant_autoscaler_max_workers")} or ${m("incant_autoscaler_workers")} >= ${m("incant_autoscaler_quota_workers")}) and ${m("incant_autoscaler_idle_jobs")} > 0`, for: "1h", labels: { severity: "info" }, annotations: { summary: "Jobs have waited an hour with the pool at its maximum: raise autoscaling.max or the quota" } },
                    { alert: "IncantAutoscalerUnplaceableJobs", expr: `${m("incant_autoscaler_unplaceable_jobs")} > 0`, for: "30m", labels: { severity: "info" }, annotations: { summary: "Idle jobs ask for more than one worker holds: they will never run" } },
                ],
            }],
        },
    };
}

/** The Grafana dashboard: worker counts against demand, and the controller's actions. */
export function dashboard(monitoringNamespace: string): k8s.types.input.core.v1.ConfigMap {
    const panel = (id: number, title: string, exprs: [string, string][], y: number) => ({
        id, title, type: "timeseries", gridPos: { h: 8, w: 24, x: 0, y },
        datasource: { type: "prometheus", uid: "prometheus" },
        targets: exprs.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat })),
    });
    const json = {
        title: "INCANT elastic pool", uid: "incant-autoscaler", schemaVersion: 39, time: { from: "now-24h", to: "now" },
        panels: [
            panel(1, "Workers and demand", [["incant_autoscaler_workers", "workers"], ["incant_autoscaler_busy_workers", "busy"], ["incant_autoscaler_draining_workers", "draining"],
                ["incant_autoscaler_desired_workers", "desired"], ["incant_autoscaler_max_workers", "max"], ["incant_autoscaler_idle_jobs", "idle jobs"]], 0),
            panel(2, "Actions", [["increase(incant_autoscaler_scale_outs_total[5m])", "scale-outs"], ["increase(incant_autoscaler_removed_workers_total[5m])", "workers removed"],
                ["increase(incant_autoscaler_drains_total[5m])", "drains"], ["increase(incant_autoscaler_cycle_errors_total[5m])", "errors"]], 8),
        ],
    };
    return {
        apiVersion: "v1", kind: "ConfigMap",
        metadata: { name: "incant-autoscaler-dashboard", namespace: monitoringNamespace, labels: { ...LABELS, grafana_dashboard: "1" } },
        data: { "incant-autoscaler.json": JSON.stringify(json, null, 1) },
    };
}
