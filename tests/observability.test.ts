/**
 * Pool observability (components/observability, issue 17) in the real program: exporter Services,
 * the NetworkPolicy that lets Prometheus in, ServiceMonitors and the PrometheusRule (validated with
 * the prometheus-operator's CRD schemas, @kubernetes-models/prometheus-operator), the dashboards as
 * ConfigMaps Grafana's sidecar loads; the master's exporter daemon in the rendered configurations,
 * read by condor_config_val; the exporter's own output format. That the queried metrics are the
 * produced ones is checked against the running exporters (tests/pool/metrics.test.ts, tests/cache.test.ts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { alerts, CONDOR_METRICS_PORT, dashboardPanels, METRICS_DIR, EXPORTER_SCRIPT, queriedMetrics } from "../components/observability/metrics";
import { htcondorConfigs } from "../offline/artifacts";
import { validateK8sObject } from "./harness/k8s";
import { ProgramRun, runProgram } from "./harness/program";
import { requireCondition } from "./harness/tools";
import { findHtcondor, HtcondorInstall } from "./pool/install";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

type Model = new (data: object) => { validate(): void };

describe("pool observability (#17)", () => {
    let run: ProgramRun;
    let PrometheusRule: Model, ServiceMonitor: Model;
    before(async function () {
        this.timeout(120_000);
        run = await runProgram("dev");
        // The package is ES modules only: imported, not required (a plain import() would be compiled to require here).
        const esmImport = new Function("specifier", "return import(specifier)") as (s: string) => Promise<Record<string, Model>>;
        ({ PrometheusRule, ServiceMonitor } = await esmImport("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1"));
    });
    const mine = () => run.resources.filter((r) => r.parent?.includes("incant:observability:PoolObservability") && r.custom);

    it("creates exporter Services, a NetworkPolicy, ServiceMonitors, dashboards and alerts, each valid for its schema", () => {
        const kinds = mine().map((r) => `${r.type} ${(r.revealedInputs.metadata as Doc).namespace}/${(r.revealedInputs.metadata as Doc).name}`).sort();
        assert.deepEqual(kinds, [
            "kubernetes:core/v1:ConfigMap monitoring/incant-htcondor-pool",
            "kubernetes:core/v1:ConfigMap monitoring/incant-htcondor-users",
            "kubernetes:core/v1:ConfigMap monitoring/incant-squid",
            "kubernetes:core/v1:Service cache/squid-metrics",
            "kubernetes:core/v1:Service htcondor/htcondor-central-manager-metrics",
            "kubernetes:core/v1:Service htcondor/htcondor-scheduler-metrics",
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule monitoring/incant-htcondor",
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor cache/squid",
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor htcondor/htcondor",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy htcondor/metrics-from-prometheus",
        ]);
        for (const r of mine()) {
            const doc = r.revealedInputs as Doc;
            if (r.type.includes("ServiceMonitor")) new ServiceMonitor(doc).validate();
            else if (r.type.includes("PrometheusRule")) new PrometheusRule(doc).validate();
            else validateK8sObject(r);
        }
        // The control: the operator's schema refuses a rule without its expression.
        const rule = mine().find((r) => r.type.includes("PrometheusRule"))!.revealedInputs as Doc;
        const broken = JSON.parse(JSON.stringify(rule));
        delete broken.spec.groups[0].rules[0].expr;
        assert.throws(() => new PrometheusRule(broken).validate(), /expr/);
    });

    it("ServiceMonitors and rules carry the release label the chart's Prometheus selects; dashboards the sidecar's label", () => {
        for (const r of mine().filter((x) => /ServiceMonitor|PrometheusRule/.test(x.type))) assert.equal((r.revealedInputs.metadata as Doc).labels.release, "kube-prometheus-stack");
        for (const r of mine().filter((x) => x.type === "kubernetes:core/v1:ConfigMap")) {
            assert.equal((r.revealedInputs.metadata as Doc).labels.grafana_dashboard, "1");
            const dashboard = JSON.parse(Object.values(r.revealedInputs.data as Record<string, string>)[0]);
            assert.ok(dashboard.panels.length > 0 && dashboard.panels.every((p: Doc) => p.targets.every((t: Doc) => t.expr)));
        }
    });

    it("dashboards cover slots by state, jobs by user and state, negotiation, the schedd, CPU-hours per user, the squid's hit ratio; alerts the five cases", () => {
        const exprs = Object.values(dashboardPanels()).flat().flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
        for (const m of ["condor_slot_cpus", "condor_jobs", "condor_negotiator_cycle_duration_seconds", 'condor_up{daemon="schedd"}', "condor_submitter_cpu_seconds_total", "squid_client_http_hits_total"]) {
            assert.ok(exprs.includes(m), m);
        }
        assert.deepEqual(alerts().map((a) => a.alert), ["HTCondorStartdsMissing", "HTCondorScheddDown", "HTCondorCvmfsFailing", "SquidDown", "IncantArchiveDown", "IncantSubmitHostUnscraped", "HTCondorUserIdleWithFreeCores"]);
        assert.ok(queriedMetrics().length >= 10);
    });

    it("the Prometheus NetworkPolicy admits the monitoring namespace to the exporters' port only", () => {
        const np = mine().find((r) => r.type.includes("NetworkPolicy"))!.revealedInputs as Doc;
        assert.deepEqual(np.spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ protocol: "TCP", port: CONDOR_METRICS_PORT }] }]);
    });

    it("the central manager's and the scheduler's masters run the exporter (condor_config_val on the rendered configurations)", function () {
        const found = findHtcondor();
        requireCondition(this, !("missing" in found), "missing" in found ? found.missing : "");
        const install = found as HtcondorInstall;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-obs-"));
        try {
            for (const [role, mode] of [["central-manager", "--pool"], ["scheduler", "--queue"]]) {
                const conf = path.join(dir, `${role}.conf`);
                fs.writeFileSync(conf, htcondorConfigs(run)[`htcondor/${role}.conf`]);
                const value = (key: string) => spawnSync(path.join(install.prefix, "bin", "condor_config_val"), [key], {
                    encoding: "utf8", env: { PATH: "/usr/bin:/bin", CONDOR_CONFIG: conf, POD_IP: "10.244.1.10", LD_LIBRARY_PATH: path.join(install.prefix, "lib") },
                }).stdout.trim();
                assert.ok(value("DAEMON_LIST").split(/[\s,]+/).includes("INCANT_EXPORTER"), role);
                assert.equal(value("INCANT_EXPORTER"), `${METRICS_DIR}/${EXPORTER_SCRIPT}`);
                assert.equal(value("INCANT_EXPORTER_ARGS"), `${mode} --port ${CONDOR_METRICS_PORT} --address 10.244.1.10`);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the exporter refuses to start without a source, and escapes label values", function () {
        requireCondition(this, spawnSync("sh", ["-c", "command -v python3"]).status === 0, "python3 is required");
        const script = path.join(__dirname, "..", "components", "observability", EXPORTER_SCRIPT);
        const none = spawnSync("python3", [script, "--once"], { encoding: "utf8" });
        assert.equal(none.status, 2, none.stderr);
        // A squid that does not answer: squid_up 0, nothing else invented.
        const down = spawnSync("python3", [script, "--squid", "http://127.0.0.1:9", "--once"], { encoding: "utf8", timeout: 30_000 });
        assert.equal(down.status, 0, down.stderr);
        assert.equal(down.stdout.split("\n").filter((l) => l && !l.startsWith("#")).join("\n"), "squid_up 0");
        const escaped = spawnSync("python3", ["-c", `import importlib.util as u; s = u.spec_from_file_location("e", ${JSON.stringify(script)}); m = u.module_from_spec(s); s.loader.exec_module(m); x = m.Metrics(); x.add("a", "gauge", "h", 1, {"owner": 'q"\\\\n\\n'}); print(x.render(), end="")`], { encoding: "utf8" });
        assert.equal(escaped.status, 0, escaped.stderr);
        assert.match(escaped.stdout, /^a\{owner="q\\"\\\\n\\n"\} 1$/m);
    });
});
