/**
 * The autoscaler's Kubernetes objects as the program creates them (components/autoscaler/index.ts,
 * manifests.ts): valid for the API server (kubernetes-models), least-privileged (one Role in the
 * pool's namespace with exactly the calls kube.ts makes, nothing cluster-wide but the admission
 * policy that narrows its pod patches), a locked-down pod, the kill switch and the replicas
 * handed over to the controller only when it is on.
 */
import { strict as assert } from "assert";
import { RecordedResource } from "../offline/engine";
import { validateK8sObject } from "./harness/k8s";
import { ProgramRun, runProgram } from "./harness/program";
import { METRIC_NAMES } from "../components/autoscaler/metrics";
import { AutoscalerSettings } from "../components/autoscaler/manifests";

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const mine = (run: ProgramRun) => run.resources.filter((r) => r.urn.includes("incant:autoscaler:Autoscaler"));
const byKind = (run: ProgramRun, type: string) => mine(run).filter((r) => r.type === type);
const one = (run: ProgramRun, type: string): RecordedResource => {
    const rs = byKind(run, type);
    assert.equal(rs.length, 1, `${type}: ${rs.length}`);
    return rs[0];
};

describe("autoscaler: Kubernetes objects (dev)", function () {
    this.timeout(120_000);
    let run: ProgramRun;
    let on: ProgramRun;
    before(async () => {
        run = await runProgram("dev");
        on = await runProgram("dev", { autoscaling: { enabled: true, min: 2, max: 5 } });
    });

    it("validates every object with kubernetes-models (the two CRDs: the prometheus-operator's schemas)", async () => {
        const kinds = mine(run).map((r) => r.type).filter((t) => t.startsWith("kubernetes:")).sort();
        assert.deepEqual(kinds, [
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
            "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Service", "kubernetes:core/v1:ServiceAccount",
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        ]);
        for (const r of mine(run).filter((x) => x.type.startsWith("kubernetes:") && !x.type.includes("monitoring.coreos.com"))) validateK8sObject(r);
        for (const r of mine(run)) if (r.type.startsWith("kubernetes:")) assert.ok(r.provider, `${r.name} names no provider`);
        // ES modules only: imported, not required (tests/observability.test.ts does the same).
        type Model = new (data: object) => { validate(): void };
        const esmImport = new Function("specifier", "return import(specifier)") as (s: string) => Promise<Record<string, Model>>;
        const crds = await esmImport("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1");
        for (const kind of ["ServiceMonitor", "PrometheusRule"]) {
            const r = one(run, `kubernetes:monitoring.coreos.com/v1:${kind}`);
            new crds[kind](r.revealedInputs as object).validate();
        }
    });

    it("is least-privileged: one namespaced Role, exactly kube.ts's calls; no ClusterRole, no Secrets, no exec, no wildcard", () => {
        assert.equal(byKind(run, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").length + byKind(run, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").length, 0);
        const role = one(run, "kubernetes:rbac.authorization.k8s.io/v1:Role").revealedInputs as Doc;
        assert.equal(role.metadata.namespace, "htcondor");
        assert.deepEqual(role.rules, [
            { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "patch"] },
            { apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: ["htcondor-worker"], verbs: ["get", "patch"] },
            { apiGroups: [""], resources: ["events"], verbs: ["create"] },
        ]);
        const binding = one(run, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").revealedInputs as Doc;
        assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "htcondor-autoscaler", namespace: "htcondor" }]);
        assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "htcondor-autoscaler" });
        // Its pod patches are held to the two annotations, for its service account only.
        const vap = one(run, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy").revealedInputs as Doc;
        assert.equal(vap.spec.matchConditions[0].expression, "request.userInfo.username == 'system:serviceaccount:htcondor:htcondor-autoscaler'");
        assert.deepEqual(vap.spec.validations.map((v: Doc) => v.expression.slice(0, 24)), ["object.spec == oldObject", "(has(object.metadata.lab", "(has(object.metadata.ann"]);
        assert.match(vap.spec.validations[2].expression, /\['incant\.cloud\.infn\.it\/drain', 'controller\.kubernetes\.io\/pod-deletion-cost'\]/);
        const vb = one(run, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding").revealedInputs as Doc;
        assert.deepEqual([vb.spec.policyName, vb.spec.validationActions], [vap.metadata.name, ["Deny"]]);
    });

    it("runs locked down: non-root, read-only root, no capabilities, its token readable by its group only, no other Secret", () => {
        const d = one(run, "kubernetes:apps/v1:Deployment").revealedInputs as Doc;
        assert.equal(d.spec.replicas, 1);
        const pod = d.spec.template.spec;
        assert.equal(pod.serviceAccountName, "htcondor-autoscaler");
        assert.deepEqual([pod.securityContext.runAsNonRoot, pod.securityContext.runAsUser], [true, 65534]);
        const c = pod.containers[0];
        assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } });
        assert.ok(c.resources.limits.cpu && c.resources.limits.memory);
        const secrets = pod.volumes.filter((v: Doc) => v.secret);
        assert.deepEqual(secrets, [{ name: "token", secret: { secretName: "htcondor-autoscaler-token", defaultMode: 0o440, items: [{ key: "token", path: "autoscaler" }] } }]);
        // Its HTCondor client: the collector, its token only.
        const cm = byKind(run, "kubernetes:core/v1:ConfigMap").map((r) => r.revealedInputs as Doc).find((x) => x.metadata.name === "htcondor-autoscaler")!;
        assert.match(cm.data.condor_config, /^SEC_CLIENT_AUTHENTICATION_METHODS = IDTOKENS$/m);
        assert.match(cm.data.condor_config, /^COLLECTOR_HOST = condor\.htcondor\.svc:30618$/m);
        // The demand it reads is as fresh as the schedd's updates to the collector (HTCondor's default: every 300 s).
        const schedd = run.ofType("kubernetes:core/v1:ConfigMap").map((r) => r.revealedInputs as Doc).find((x) => x.metadata.name === "htcondor-scheduler")!;
        assert.match(schedd.data["50-incant.conf"], /^SCHEDD_INTERVAL = 30$/m);
        const np = one(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy").revealedInputs as Doc;
        assert.deepEqual(np.spec.egress[0], { to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": "central-manager" } } }], ports: [{ protocol: "TCP", port: 30618 }] });
    });

    it("kill switch: off by default (the controller changes nothing, Pulumi keeps the workers' replicas); on, the replicas are the controller's", () => {
        const settings = (r: ProgramRun) => JSON.parse((byKind(r, "kubernetes:core/v1:ConfigMap").map((x) => x.revealedInputs as Doc).find((x) => x.metadata.name === "htcondor-autoscaler")!).data["settings.json"]) as AutoscalerSettings;
        const worker = (r: ProgramRun) => r.ofType("kubernetes:apps/v1:Deployment").find((x) => (x.inputs.metadata as Doc).name === "htcondor-worker")!;
        assert.equal(settings(run).policy.enabled, false);
        assert.deepEqual(worker(run).ignoreChanges, []);
        assert.deepEqual(settings(on).policy, { enabled: true, min: 2, max: 5, scaleUpCooldownSeconds: 60, scaleDownCooldownSeconds: 300, idleSeconds: 600 });
        assert.deepEqual(worker(on).ignoreChanges, ["spec.replicas"]);
        // What the controller cannot read from the pool: the worker's slot and the quota's room.
        assert.deepEqual([settings(run).workerShape, settings(run).quotaWorkers, settings(run).selector],
            [{ cpus: 3, memoryMb: 5120 }, 7, "app.kubernetes.io/name=htcondor,app.kubernetes.io/component=worker"]);
    });

    it("alerts and the dashboard use only metrics the controller exports; Prometheus and Grafana pick them up by label", () => {
        const rule = one(run, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").revealedInputs as Doc;
        const used = (text: string) => [...text.matchAll(/incant_autoscaler_[a-z_]+/g)].map((x) => x[0]);
        const exprs = rule.spec.groups[0].rules.map((r: Doc) => r.expr as string).join("\n");
        for (const name of used(exprs)) assert.ok(METRIC_NAMES.includes(name), name);
        assert.equal(rule.metadata.labels.release, "kube-prometheus-stack");
        assert.equal((one(run, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor").revealedInputs as Doc).metadata.labels.release, "kube-prometheus-stack");
        const dash = byKind(run, "kubernetes:core/v1:ConfigMap").map((r) => r.revealedInputs as Doc).find((x) => x.metadata.namespace === "monitoring")!;
        assert.equal(dash.metadata.labels.grafana_dashboard, "1");
        const names = used(dash.data["incant-autoscaler.json"]);
        assert.ok(names.length >= 8);
        for (const name of names) assert.ok(METRIC_NAMES.includes(name), name);
    });
});
