/**
 * The S3 archive's alert (issue 15): the submit host's node exporter reports its own units, and
 * Prometheus scrapes it. Debian's prometheus-node-exporter runs with the rendered arguments
 * (split as systemd splits $ARGS) on 127.0.0.1: it accepts them and compiles the unit filter to
 * what the alert asks for; the scrape job and the alert name the same job and unit.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as http from "http";
import * as net from "net";
import { nodeExporterArgs, submitHostCloudConfig } from "../components/submit/hostconfig";
import { monitoringValues, SUBMIT_HOST_JOB, submitHostScrape } from "../components/kubernetes/monitoring";
import { alerts } from "../components/observability/metrics";
import { ARCHIVE_CLIENT } from "../components/storage/archive";
import { METRICS_PORTS } from "../components/network/ports";
import { requireTool } from "./harness/tools";

const freePort = () => new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
});
const get = (url: string) => new Promise<string>((resolve, reject) => {
    http.get(url, (res) => { let body = ""; res.on("data", (d) => { body += d; }); res.on("end", () => resolve(body)); }).on("error", reject);
});

describe("submit host metrics: the S3 archive's alert", () => {
    it("the submit host installs the node exporter and gives it the arguments (after the package, then restarts it)", () => {
        const c = submitHostCloudConfig();
        assert.ok(c.packages?.includes("prometheus-node-exporter"));
        const file = c.write_files?.find((f) => f.path === "/etc/default/prometheus-node-exporter");
        assert.ok(file?.defer, "written after the package (its conffile)");
        assert.equal(file.content, `ARGS="${nodeExporterArgs(METRICS_PORTS.submitNodeExporter).join(" ")}"\n`);
        assert.ok(c.runcmd?.some((r) => Array.isArray(r) && r.join(" ") === "systemctl restart prometheus-node-exporter"));
    });

    it("Debian's node exporter accepts the rendered arguments and filters the archive's unit in, others out", async function () {
        this.timeout(30_000);
        requireTool(this, "prometheus-node-exporter");
        const port = await freePort();
        // As systemd expands ExecStart=... $ARGS: split at white space; the listen address moved to loopback.
        const args = nodeExporterArgs(METRICS_PORTS.submitNodeExporter).map((a) => a.startsWith("--web.listen-address=") ? `--web.listen-address=127.0.0.1:${port}` : a);
        const child = spawn("prometheus-node-exporter", args, { stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        child.stderr.on("data", (d: Buffer) => { log += d; });
        try {
            let metrics = "";
            for (let i = 0; i < 40 && !metrics; i++) {
                await new Promise((r) => setTimeout(r, 250));
                metrics = await get(`http://127.0.0.1:${port}/metrics`).catch(() => "");
            }
            assert.match(metrics, /^node_exporter_build_info/m, log);
            // The systemd collector is on (it fails here: no systemd D-Bus; on the VM it reads the units).
            assert.match(metrics, /^node_scrape_collector_success\{collector="systemd"\} [01]$/m, log);
            const m = /Parsed flag --collector\.systemd\.unit-include.*flag=(\S+)/.exec(log);
            assert.ok(m, `the unit filter is not in the exporter's log:\n${log}`);
            // The collector anchors the flag: ^(?:<flag>)$ (node_exporter collector/systemd_linux.go).
            const filter = new RegExp(`^(?:${m[1].replace(/^"|"$/g, "").replace(/\\\\/g, "\\")})$`);
            for (const unit of [ARCHIVE_CLIENT.unit, "docker.service", "srv-incant-home.automount", "srv-incant-home.mount"]) assert.ok(filter.test(unit), `${unit} filtered out by ${filter}`);
            for (const unit of ["ssh.service", "incant-archive.servicex", "cron.service"]) assert.ok(!filter.test(unit), `${unit} let in by ${filter}`);
        } finally {
            child.kill();
        }
    });

    it("Prometheus scrapes the submit host under the job the alert names, on the unit the archive runs as", () => {
        const values = monitoringValues("pw", "192.168.100.21") as { prometheus: { prometheusSpec: { additionalScrapeConfigs: unknown[] } } };
        assert.deepEqual(values.prometheus.prometheusSpec.additionalScrapeConfigs, [submitHostScrape("192.168.100.21")]);
        assert.deepEqual(submitHostScrape("192.168.100.21").static_configs[0].targets, [`192.168.100.21:${METRICS_PORTS.submitNodeExporter}`]);
        const archive = alerts().find((a) => a.alert === "IncantArchiveDown")!;
        assert.ok(archive.expr.includes(`job="${SUBMIT_HOST_JOB}"`) && archive.expr.includes(`name="${ARCHIVE_CLIENT.unit}"`), archive.expr);
        assert.ok(alerts().some((a) => a.alert === "IncantSubmitHostUnscraped" && a.expr.includes(`up{job="${SUBMIT_HOST_JOB}"}`)));
    });
});
