/**
 * The autoscaler's entry point in its pod (images/autoscaler/Dockerfile): reads its policy from
 * the ConfigMap file (manifests.ts), condor_status with its own CONDOR_CONFIG and token, the
 * Kubernetes API with its service account; serves /metrics; stops on SIGTERM.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { Controller, CondorStatus } from "./controller";
import { KubeBackend } from "./kube";
import type { AutoscalerSettings } from "./manifests";
import { renderMetrics } from "./metrics";
import { TOKEN_DIR, TOKEN_SOURCE_DIR } from "./condor";
import { installTokens } from "./tokens";

/**
 * condor_status, bounded in time and output. The token is copied again first: the kubelet updates
 * the Secret in place when `pulumi up` renews or re-keys it (components/htcondor/pool.ts), and the
 * pod does not restart for that.
 */
const condorStatus: CondorStatus = (args) => new Promise((resolve, reject) => {
    installTokens(TOKEN_SOURCE_DIR, TOKEN_DIR);
    const p = spawn("condor_status", args, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    let out = "";
    let err = "";
    p.stdout.on("data", (c: Buffer) => { if (out.length < 64 << 20) out += c.toString(); });
    p.stderr.on("data", (c: Buffer) => { err += c.toString(); });
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`condor_status ${args[0]} exited ${code}: ${err.trim().slice(0, 300)}`))));
});

function main(): void {
    const file = process.argv[2] ?? "/etc/incant/autoscaler/settings.json";
    const s = JSON.parse(fs.readFileSync(file, "utf8")) as AutoscalerSettings;
    installTokens(TOKEN_SOURCE_DIR, TOKEN_DIR);
    const backend = new KubeBackend({ namespace: s.namespace, deployment: s.deployment, selector: s.selector, component: "incant-autoscaler" });
    const controller = new Controller({
        policy: s.policy, workerShape: s.workerShape, quotaWorkers: s.quotaWorkers, backend, condorStatus,
        log: (line) => console.log(`${new Date().toISOString()} ${line}`),
    });
    const server = http.createServer((req, res) => {
        if (req.url === "/metrics") {
            res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
            res.end(renderMetrics(controller.metrics));
        } else if (req.url === "/healthz") {
            res.writeHead(200).end("ok\n");
        } else res.writeHead(404).end();
    }).listen(s.metricsPort);
    const stop = new AbortController();
    process.on("SIGTERM", () => stop.abort());
    console.log(`incant-autoscaler: ${s.policy.enabled ? "enabled" : "disabled (kill switch)"}, workers ${s.policy.min}-${s.policy.max}, quota ${s.quotaWorkers}`);
    controller.run(s.intervalSeconds, stop.signal).finally(() => server.close());
}

if (require.main === module) main();
