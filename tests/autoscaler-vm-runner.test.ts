/**
 * The worker VM runner (components/autoscaler/vm-runner.ts, scripts/vm-runner.ts), end to end
 * through the real Automation API: scripts/vm-runner.ts `main` builds a LocalWorkspace whose
 * PulumiCommand is tests/fixtures/fake-pulumi/bin/pulumi, a stand-in CLI that records the argv the
 * SDK gives it and answers with canned outputs and engine events (over the SDK's gRPC events
 * service as CLIs after 3.205 do, and over the event-log file as older ones). What is real: the
 * runner, the SDK's code path (argument building, event parsing, output decoding), the stack file
 * edit, the config validator, HTTPS with client certificates (openssl) to a stand-in Kubernetes
 * API on 127.0.0.1. What is simulated: the CLI's engine (no program runs, no cloud).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { EXIT, main } from "../scripts/vm-runner";
import { COUNT_KEY, judgePreview, takeLock, workerIndexOfUrn } from "../components/autoscaler/vm-runner";
import { parseKubeconfig } from "../components/autoscaler/vm-kube";
import { renderVmRunnerUnits, vmRunnerUnitProblems } from "../components/autoscaler/vm-runner-units";
import { runProgram } from "./harness/program";
import type { RecordedResource } from "../offline/engine";
import { requireTool } from "./harness/tools";
import { verifyUnitsInRoot } from "./harness/systemd";

const ROOT = path.resolve(__dirname, "..");
const FAKE_ROOT = path.join(ROOT, "tests", "fixtures", "fake-pulumi");
const URNS = fs.readFileSync(path.join(ROOT, "contracts", "urns.dev.txt"), "utf8").split("\n").filter((l) => l.startsWith("urn:"));
const WORKER_LABELS = { "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": "worker" };

// --- certificates (openssl) -----------------------------------------------------------------

interface Pki { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }

function makePki(dir: string): Pki {
    const ossl = (args: string[]) => {
        const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ossl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=kubernetes"]);
    ossl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"]);
    fs.writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    ossl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext"]);
    ossl(["req", ...ec, "-keyout", "client.key", "-out", "client.csr", "-subj", "/O=kubeadm:cluster-admins/CN=incant-admin"]);
    ossl(["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "1"]);
    const r = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
    return { ca: r("ca.crt"), serverCert: r("server.crt"), serverKey: r("server.key"), clientCert: r("client.crt"), clientKey: r("client.key") };
}

function kubeconfig(pki: Pki, port: number): string {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    return YAML.stringify({
        apiVersion: "v1", kind: "Config", "current-context": "admin@incant-dev",
        clusters: [{ name: "incant-dev", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": b64(pki.ca) } }],
        contexts: [{ name: "admin@incant-dev", context: { cluster: "incant-dev", user: "incant-admin" } }],
        users: [{ name: "incant-admin", user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) } }],
    });
}

// --- the stand-in Kubernetes API ------------------------------------------------------------

interface FakePod {
    namespace: string; name: string; nodeName: string; labels: Record<string, string>; daemonSet?: boolean;
    /** A PodDisruptionBudget forbids its eviction now (HTTP 429, as the API server answers). */
    budget?: boolean;
}

interface KubeRequest { method: string; path: string; body?: Record<string, unknown>; cliCalls: number; client?: string }

class FakeKube {
    requests: KubeRequest[] = [];
    unschedulable = new Map<string, boolean>();
    /** Answer 500 to the listing of this node's pods (the API server failing mid-drain). */
    failPodsOf?: string;
    /** Called on each cordon: a test may put a worker pod there (a pod bound just before the cordon). */
    onCordon?: (node: string) => void;
    server!: https.Server;
    port = 0;

    constructor(public replicas: number, public pods: FakePod[], private readonly cliCalls: () => number) {}

    async start(pki: Pki): Promise<void> {
        this.server = https.createServer({ key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
            let text = "";
            req.on("data", (c: Buffer) => { text += c.toString(); });
            req.on("end", () => {
                const peer = (req.socket as import("tls").TLSSocket).getPeerCertificate();
                const r: KubeRequest = { method: req.method!, path: req.url!, body: text ? JSON.parse(text) : undefined, cliCalls: this.cliCalls(), client: String(peer.subject?.CN) };
                this.requests.push(r);
                const [status, body] = this.answer(r);
                res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
            });
        });
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.port = (this.server.address() as import("net").AddressInfo).port;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()));
    }

    private podJson(p: FakePod) {
        return {
            metadata: { namespace: p.namespace, name: p.name, labels: p.labels, ownerReferences: p.daemonSet ? [{ kind: "DaemonSet" }] : [{ kind: "ReplicaSet" }] },
            spec: { nodeName: p.nodeName }, status: { phase: "Running" },
        };
    }

    private answer(r: KubeRequest): [number, object] {
        const url = new URL(r.path, "https://x");
        if (r.method === "GET" && url.pathname === "/apis/apps/v1/namespaces/htcondor/deployments/htcondor-worker/scale") return [200, { spec: { replicas: this.replicas } }];
        if (r.method === "GET" && url.pathname === "/api/v1/namespaces/htcondor/pods") {
            const sel = Object.fromEntries((url.searchParams.get("labelSelector") ?? "").split(",").map((t) => t.split("=")));
            return [200, { items: this.pods.filter((p) => p.namespace === "htcondor" && Object.entries(sel).every(([k, v]) => p.labels[k] === v)).map((p) => this.podJson(p)) }];
        }
        if (r.method === "GET" && url.pathname === "/api/v1/pods") {
            const node = /^spec\.nodeName=(.+)$/.exec(url.searchParams.get("fieldSelector") ?? "")?.[1];
            if (node === this.failPodsOf) return [500, { message: "etcdserver: request timed out" }];
            return [200, { items: this.pods.filter((p) => p.nodeName === node).map((p) => this.podJson(p)) }];
        }
        const nodeM = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname);
        if (r.method === "PATCH" && nodeM) {
            const on = (r.body as { spec: { unschedulable: boolean | null } }).spec.unschedulable === true;
            this.unschedulable.set(nodeM[1], on);
            if (on) this.onCordon?.(nodeM[1]);
            return [200, {}];
        }
        const ev = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(url.pathname);
        if (r.method === "POST" && ev) {
            if (this.pods.some((p) => p.namespace === ev[1] && p.name === ev[2] && p.budget)) return [429, { message: "Cannot evict pod as it would violate the pod's disruption budget." }];
            this.pods = this.pods.filter((p) => !(p.namespace === ev[1] && p.name === ev[2]));
            return [201, {}];
        }
        if (r.method === "POST" && url.pathname === "/api/v1/namespaces/htcondor/events") return [201, {}];
        return [404, { message: `fake kube: no ${r.method} ${r.path}` }];
    }

    get events(): { type: string; reason: string; message: string }[] {
        return this.requests.filter((r) => r.path.endsWith("/events")).map((r) => r.body as { type: string; reason: string; message: string });
    }
}

// --- a scenario -----------------------------------------------------------------------------

/** The dev stack's URNs of worker i's own resources (from worker 6's lines of contracts/urns.dev.txt). */
function workerUrns(i: number): string[] {
    return URNS.filter((u) => /-worker-6(-|$)/.test(u)).map((u) => u.replace("-worker-6", `-worker-${i}`));
}

type Step = { op: string; urn: string };

/** Engine events as the CLI sends them: a pre-event per step, then the summary. */
function engineEvents(steps: Step[]): object[] {
    const events: object[] = steps.map((s, i) => ({
        sequence: i + 1, timestamp: 0,
        resourcePreEvent: { metadata: { op: s.op, urn: s.urn, type: s.urn.split("::")[2].split("$").pop(), provider: "", old: null, new: null } },
    }));
    const counts: Record<string, number> = {};
    for (const s of steps) counts[s.op] = (counts[s.op] ?? 0) + 1;
    events.push({ sequence: steps.length + 1, timestamp: 0, summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: counts, policyPacks: {} } });
    return events;
}

/** Every URN that is no worker's, as `same`, plus the changes. */
function previewOf(changes: Step[]): object[] {
    const others = URNS.filter((u) => workerIndexOfUrn(u, "incant-dev") === undefined).map((urn) => ({ op: "same", urn }));
    return engineEvents([...others, ...changes]);
}

interface Run {
    dir: string;
    state: string;
    kube: FakeKube;
    lines: string[];
    code?: number;
    calls(): string[][];
    stackFileCount(): number;
}

/** Folders of the scenarios, removed after each test. */
const made: string[] = [];

async function scenario(opts: {
    count: number; replicas: number; busy: number[]; autoscaling?: Record<string, unknown>;
    preview?: Step[]; version?: string; upExit?: number; extraPods?: FakePod[]; lockHeld?: boolean;
    /** Worker VMs of the last deployment (the vmCount output less dev's 3 other VMs); default: count. */
    deployed?: number;
    /** A stack with no outputs yet (its first deployment). */
    neverDeployed?: boolean;
}, pki: Pki): Promise<Run> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-vm-runner-"));
    made.push(dir);
    const state = path.join(dir, "fake-state");
    fs.mkdirSync(state);
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const doc = YAML.parseDocument(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
    doc.setIn(["config", "incant:nodes"], { workers: { count: opts.count } });
    doc.setIn(["config", "incant:autoscaling"], opts.autoscaling ?? { enabled: true, min: 1, max: Math.min(opts.count, 2) });
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), doc.toString());
    const callsFile = path.join(state, "calls.jsonl");
    const calls = () => (fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { argv: string[] }).argv) : []);
    const pods: FakePod[] = opts.busy.map((i) => ({ namespace: "htcondor", name: `htcondor-worker-${i}`, nodeName: `incant-dev-worker-${i}`, labels: { ...WORKER_LABELS, "app.kubernetes.io/part-of": "incant" } }));
    const kube = new FakeKube(opts.replicas, [...pods, ...(opts.extraPods ?? [])], () => calls().length);
    await kube.start(pki);
    fs.writeFileSync(path.join(state, "scenario.json"), JSON.stringify({
        version: opts.version ?? "3.270.0",
        outputs: opts.neverDeployed ? {} : { kubeconfig: kubeconfig(pki, kube.port), environment: "dev", vmCount: (opts.deployed ?? opts.count) + 3 },
        secretOutputs: ["kubeconfig"],
        preview: { events: previewOf(opts.preview ?? []) },
        up: { exitCode: opts.upExit ?? 0 },
    }));
    if (opts.lockHeld) fs.writeFileSync(path.join(dir, ".incant-vm-runner-dev.lock"), JSON.stringify({ pid: process.pid, host: os.hostname(), since: "now" }));
    const run: Run = {
        dir, state, kube, lines: [], calls,
        stackFileCount: () => (YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8")) as { config: { "incant:nodes": { workers: { count: number } } } }).config["incant:nodes"].workers.count,
    };
    return run;
}

async function go(run: Run, mode = "--once"): Promise<Run> {
    process.env.FAKE_PULUMI_STATE = run.state;
    try {
        run.code = await main(["--stack", "dev", mode, "--workdir", run.dir, "--pulumi-root", FAKE_ROOT], { log: (l) => run.lines.push(l) });
    } finally {
        delete process.env.FAKE_PULUMI_STATE;
        await run.kube.stop();
        // VM_RUNNER_TEST_LOG=1 prints the runner's log of each round (the transcript of the report).
        if (process.env.VM_RUNNER_TEST_LOG) console.log(run.lines.map((l) => `      | ${l}`).join("\n"));
    }
    return run;
}

const commandOf = (argv: string[]) => argv.slice(0, argv[0] === "stack" || argv[0] === "config" ? 2 : 1).join(" ");
const indexOfCall = (run: Run, cmd: string) => run.calls().findIndex((a) => commandOf(a) === cmd);
const cordons = (run: Run) => run.kube.requests.filter((r) => r.method === "PATCH" && (r.body as { spec: { unschedulable: unknown } }).spec.unschedulable === true);
const uncordons = (run: Run) => run.kube.requests.filter((r) => r.method === "PATCH" && (r.body as { spec: { unschedulable: unknown } }).spec.unschedulable === null);
const countSets = (run: Run) => run.calls().filter((a) => commandOf(a) === "config set").map((a) => {
    assert.deepEqual(a.slice(0, 4), ["config", "set", "--path", COUNT_KEY], `config set of ${a[3]}`);
    return a[a.length - 1];
});

describe("autoscaler: the worker VM runner through the Automation API (fake CLI, stand-in Kubernetes API)", function () {
    this.timeout(60_000);
    let pki: Pki;
    let pkiDir: string;
    before(function () {
        requireTool(this, "openssl");
        pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-vm-pki-"));
        pki = makePki(pkiDir);
    });
    afterEach(() => {
        for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    });
    after(() => {
        if (pkiDir) fs.rmSync(pkiDir, { recursive: true, force: true });
    });

    const deletes = (idx: number[]) => idx.flatMap((i) => workerUrns(i).map((urn) => ({ op: "delete", urn })));
    const creates = (idx: number[]) => idx.flatMap((i) => workerUrns(i).map((urn) => ({ op: "create", urn })));

    for (const version of ["3.270.0", "3.200.0"]) {
        it(`scale-in (CLI ${version}, events over ${version === "3.270.0" ? "gRPC" : "the log file"}): preview, then cordon, drain, re-check, and an up targeted at the previewed workers`, async () => {
            const coredns: FakePod = { namespace: "kube-system", name: "coredns-1", nodeName: "incant-dev-worker-3", labels: { "k8s-app": "kube-dns" } };
            const calico: FakePod = { namespace: "calico-system", name: "calico-node-3", nodeName: "incant-dev-worker-3", labels: {}, daemonSet: true };
            const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4]), version, extraPods: [coredns, calico] }, pki));
            assert.equal(run.code, EXIT.ok, run.lines.join("\n"));
            assert.deepEqual(countSets(run), ["2"], "the count set once, to 2");
            assert.equal(run.stackFileCount(), 2, "the workspace's stack file holds the new count");
            const preview = indexOfCall(run, "preview");
            const up = indexOfCall(run, "up");
            assert.ok(indexOfCall(run, "config set") < preview && preview < up, `config set, preview, up in that order: ${run.calls().map(commandOf).join(", ")}`);
            const upArgv = run.calls()[up];
            const targets = upArgv.flatMap((a, i) => (a === "--target" ? [upArgv[i + 1]] : []));
            assert.deepEqual(targets.sort(), deletes([2, 3, 4]).map((s) => s.urn).sort(), "up targets exactly the previewed worker resources");
            assert.deepEqual(cordons(run).map((r) => r.path), [2, 3, 4].map((i) => `/api/v1/nodes/incant-dev-worker-${i}`));
            for (const c of cordons(run)) assert.ok(c.cliCalls > preview && c.cliCalls <= up, "cordoned after the preview, before the up");
            const evictions = run.kube.requests.filter((r) => r.path.endsWith("/eviction"));
            assert.deepEqual(evictions.map((r) => r.path), ["/api/v1/namespaces/kube-system/pods/coredns-1/eviction"], "the DaemonSet's pod is left, the other evicted");
            assert.ok(run.kube.requests.every((r) => r.client === "incant-admin"), "every request with the kubeconfig's client certificate");
            assert.deepEqual(run.kube.events.map((e) => e.reason), ["VmScaled"]);
            assert.match(run.lines.join("\n"), /done: 5 -> 2 worker VMs/);
        });
    }

    it("scale-up is bounded by the quota (dev: 7) and drains nothing", async () => {
        const run = await go(await scenario({ count: 3, replicas: 12, busy: [0, 1, 2], autoscaling: { enabled: true, min: 1, max: 3 }, preview: creates([3, 4, 5, 6]) }, pki));
        assert.equal(run.code, EXIT.ok, run.lines.join("\n"));
        assert.deepEqual(countSets(run), ["7"]);
        assert.equal(cordons(run).length, 0);
        assert.ok(indexOfCall(run, "up") > indexOfCall(run, "preview"));
    });

    it("a preview that replaces a resource stops the round: no up, the count restored, no node touched", async () => {
        const storage = URNS.find((u) => u.endsWith("Instance::incant-dev-storage"))!;
        const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: [...deletes([2, 3, 4]), { op: "replace", urn: storage }] }, pki));
        assert.equal(run.code, EXIT.refused, run.lines.join("\n"));
        assert.equal(indexOfCall(run, "up"), -1, "no up");
        assert.deepEqual(countSets(run), ["2", "5"], "set, then restored");
        assert.equal(run.stackFileCount(), 5);
        assert.equal(cordons(run).length, 0);
        assert.match(run.lines.join("\n"), /refused: the preview plans replace of urn:pulumi:dev::incant::.*incant-dev-storage/);
        assert.deepEqual(run.kube.events.map((e) => e.reason), ["VmScaleRefused"]);
    });

    it("a preview that updates anything else (the pool's Deployments) or deletes a worker not planned stops the round", async () => {
        const deployment = URNS.find((u) => u.endsWith("Deployment::htcondor-worker"))!;
        for (const extra of [{ op: "update", urn: deployment }, ...deletes([1])]) {
            const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: [...deletes([2, 3, 4]), extra] }, pki));
            assert.equal(run.code, EXIT.refused, `${extra.op} ${extra.urn}: ${run.lines.join("\n")}`);
            assert.equal(indexOfCall(run, "up"), -1);
            assert.equal(run.stackFileCount(), 5);
        }
    });

    it("a worker pod bound to a VM just before its cordon (the re-check) stops the round and uncordons", async () => {
        const run = await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4]) }, pki);
        run.kube.onCordon = (node) => {
            if (node === "incant-dev-worker-4") run.kube.pods.push({ namespace: "htcondor", name: "htcondor-worker-late", nodeName: node, labels: { ...WORKER_LABELS } });
        };
        await go(run);
        assert.equal(run.code, EXIT.refused, run.lines.join("\n"));
        assert.equal(indexOfCall(run, "up"), -1, "no up");
        assert.deepEqual(uncordons(run).map((r) => r.path).sort(), [2, 3, 4].map((i) => `/api/v1/nodes/incant-dev-worker-${i}`));
        assert.deepEqual(countSets(run), ["2", "5"]);
        assert.match(run.lines.join("\n"), /held: worker pod htcondor\/htcondor-worker-late is on incant-dev-worker-4/);
    });

    it("a stale stack file (CI deployed 7 where the file says 5): plans from the deployed 7, and a refusal leaves the file at 5", async () => {
        const run = await go(await scenario({ count: 5, deployed: 7, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4, 5, 6]) }, pki));
        assert.equal(run.code, EXIT.ok, run.lines.join("\n"));
        assert.deepEqual(countSets(run), ["2"]);
        assert.deepEqual(cordons(run).map((r) => r.path), [2, 3, 4, 5, 6].map((i) => `/api/v1/nodes/incant-dev-worker-${i}`));
        assert.match(run.lines.join("\n"), /the stack file says 5 worker VMs, the last deployment has 7: planning from 7/);
        // The same stale file with a preview that plans only 2..4 (what the file alone would expect): refused, file untouched.
        const stale = await go(await scenario({ count: 5, deployed: 7, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4]) }, pki));
        assert.equal(stale.code, EXIT.refused, stale.lines.join("\n"));
        assert.deepEqual(countSets(stale), ["2", "5"]);
        assert.equal(stale.stackFileCount(), 5);
    });

    it("--sync sets the checkout's count to the deployed one (autoscaling on), and only that", async () => {
        const run = await go(await scenario({ count: 7, deployed: 3, replicas: 2, busy: [0, 1], autoscaling: { enabled: true, min: 1, max: 3 } }, pki), "--sync");
        assert.equal(run.code, EXIT.ok, run.lines.join("\n"));
        assert.deepEqual(countSets(run), ["3"]);
        assert.equal(run.stackFileCount(), 3);
        assert.deepEqual(run.calls().map(commandOf), ["version", "stack select", "stack output", "stack output", "config set"]);
        assert.equal(run.kube.requests.length, 0, "no cluster access");
        const off = await go(await scenario({ count: 7, deployed: 3, replicas: 2, busy: [0, 1], autoscaling: { enabled: false } }, pki), "--sync");
        assert.equal(off.code, EXIT.ok);
        assert.deepEqual(countSets(off), [], "autoscaling off: the committed count rules");
        // The first deployment of an autoscaled stack (CI's deploy runs --sync first): the file's count, exit 0.
        const first = await go(await scenario({ count: 7, replicas: 2, busy: [], neverDeployed: true, autoscaling: { enabled: true, min: 1, max: 3 } }, pki), "--sync");
        assert.equal(first.code, EXIT.ok, first.lines.join("\n"));
        assert.deepEqual(countSets(first), []);
        assert.match(first.lines.join("\n"), /not deployed yet: incant:nodes\.workers\.count stays 7/);
    });

    it("an eviction a PodDisruptionBudget refuses holds the round: uncordoned, count restored, no up", async () => {
        const guarded: FakePod = { namespace: "monitoring", name: "prometheus-0", nodeName: "incant-dev-worker-2", labels: {}, budget: true };
        const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4]), extraPods: [guarded] }, pki));
        assert.equal(run.code, EXIT.refused, run.lines.join("\n"));
        assert.equal(indexOfCall(run, "up"), -1);
        assert.equal(uncordons(run).length, 3);
        assert.equal(run.stackFileCount(), 5);
        assert.match(run.lines.join("\n"), /held: eviction of monitoring\/prometheus-0 refused: .*HTTP 429/);
    });

    it("the API failing mid-drain: every node uncordoned, count restored, no up", async () => {
        const run = await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4]) }, pki);
        run.kube.failPodsOf = "incant-dev-worker-3";
        await go(run);
        assert.equal(run.code, EXIT.refused, run.lines.join("\n"));
        assert.equal(indexOfCall(run, "up"), -1);
        assert.deepEqual(uncordons(run).map((r) => r.path).sort(), [2, 3, 4].map((i) => `/api/v1/nodes/incant-dev-worker-${i}`));
        assert.equal(run.stackFileCount(), 5);
        assert.match(run.lines.join("\n"), /held: drain failed: .*HTTP 500/);
    });

    it("nothing to do: no config set, no preview", async () => {
        const run = await go(await scenario({ count: 3, replicas: 3, busy: [0, 1, 2], autoscaling: { enabled: true, min: 1, max: 3 } }, pki));
        assert.equal(run.code, EXIT.ok);
        assert.deepEqual(run.calls().map(commandOf), ["version", "stack select", "stack output", "stack output"]);
    });

    it("kill switch (autoscaling.enabled false): the cluster and the stack's outputs are not even read", async () => {
        const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], autoscaling: { enabled: false } }, pki));
        assert.equal(run.code, EXIT.ok);
        assert.deepEqual(run.calls().map(commandOf), ["version", "stack select"]);
        assert.equal(run.kube.requests.length, 0);
        assert.match(run.lines.join("\n"), /kill switch/);
    });

    it("a stack file the config refuses (autoscaling.max above the quota's workers) stops before reading anything: exit 1, every problem named", async () => {
        const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], autoscaling: { enabled: true, min: 1, max: 9 } }, pki));
        assert.equal(run.code, EXIT.failed);
        assert.deepEqual(countSets(run), []);
        assert.deepEqual(run.calls().map(commandOf), ["version", "stack select"], "no outputs, no preview, no up");
        assert.equal(run.kube.requests.length, 0);
        assert.match(run.lines.join("\n"), /failed: Pulumi\.dev\.yaml: incant:autoscaling\.max must be at most 7, the worker VMs incant:quota allows/);
    });

    it("another round holds the lock: nothing runs", async () => {
        const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], lockHeld: true }, pki));
        assert.equal(run.code, EXIT.ok);
        assert.deepEqual(run.calls(), []);
        assert.match(run.lines.join("\n"), new RegExp(`another round holds .* \\(pid ${process.pid} `));
    });

    it("a failed up: exit 1, the new count kept for the next preview, the stack's kubeconfig never in the log", async () => {
        const run = await go(await scenario({ count: 5, replicas: 2, busy: [0, 1], preview: deletes([2, 3, 4]), upExit: 255 }, pki));
        assert.equal(run.code, EXIT.failed);
        assert.equal(run.stackFileCount(), 2);
        const text = run.lines.join("\n");
        assert.match(text, /failed: up failed: the pulumi CLI exited 255: error: update failed; incant:nodes\.workers\.count stays 2/);
        for (const secret of [pki.clientKey, pki.clientCert, Buffer.from(pki.clientKey).toString("base64")]) {
            for (const line of secret.split("\n").filter((l) => l.length > 20)) assert.ok(!text.includes(line), "no part of the kubeconfig in the log");
        }
    });
});

describe("autoscaler: the VM runner's preview guard and parts", () => {
    it("every resource of a worker in contracts/urns.dev.txt is recognised as that worker's, and nothing else is", () => {
        for (const urn of URNS) {
            const named = /-worker-(\d+)(-|$)/.exec(urn.split("::").pop()!);
            assert.equal(workerIndexOfUrn(urn, "incant-dev"), named ? Number(named[1]) : undefined, urn);
        }
        assert.ok(workerUrns(3).length >= 1 && workerUrns(3).every((u) => workerIndexOfUrn(u, "incant-dev") === 3));
        assert.equal(workerIndexOfUrn(workerUrns(3)[0], "incant-prod"), undefined, "another stack's prefix is not this one's");
    });

    it("judgePreview: a missing summary, a count that disagrees, a planned worker absent", () => {
        const steps = workerUrns(4).map((urn) => ({ op: "delete", urn }));
        const ok = engineEvents(steps) as Parameters<typeof judgePreview>[0];
        assert.deepEqual(judgePreview(ok, { create: [], delete: [4] }, "incant-dev").problems, []);
        assert.match(judgePreview(ok.slice(0, -1), { create: [], delete: [4] }, "incant-dev").problems.join(), /no summary/);
        assert.match(judgePreview(ok, { create: [], delete: [3, 4] }, "incant-dev").problems.join(), /does not delete worker 3's server/);
        const lying = [...ok.slice(0, -1), { sequence: 99, timestamp: 0, summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: { delete: steps.length, update: 1 }, policyPacks: {} } }];
        assert.match(judgePreview(lying, { create: [], delete: [4] }, "incant-dev").problems.join(), /counts 1 update but its steps 0/);
        assert.match(judgePreview(engineEvents(workerUrns(4).map((urn) => ({ op: "create", urn }))) as typeof ok, { create: [], delete: [4] }, "incant-dev").problems.join(), /plans create .* \(worker 4\)/);
    });

    it("the lock: taken, refused while held by a live process, taken over from a dead one", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-lock-"));
        const file = path.join(dir, "x.lock");
        const release = takeLock(file)!;
        assert.ok(release);
        assert.equal(takeLock(file), undefined, "held by this (live) process");
        release();
        const dead = spawnSync("true").pid!;
        fs.writeFileSync(file, JSON.stringify({ pid: dead, host: os.hostname(), since: "then" }));
        const again = takeLock(file);
        assert.ok(again, "a dead holder's lock is taken over");
        again!();
        fs.writeFileSync(file, "{not json");
        assert.equal(takeLock(file), undefined, "an unreadable lock is not broken");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("parseKubeconfig refuses a kubeconfig without credentials, naming no value", () => {
        assert.throws(() => parseKubeconfig(YAML.stringify({ clusters: [{ name: "c", cluster: { server: "https://x", "certificate-authority-data": "eA==" } }], users: [{ name: "u", user: {} }] })), /neither a client certificate/);
    });

    it("systemd units: systemd-analyze verify; values a unit line cannot carry are refused", function () {
        requireTool(this, "systemd-analyze");
        const units = renderVmRunnerUnits({ stack: "prod", workDir: "/srv/incant", user: "incant", intervalMinutes: 5 });
        const files = Object.fromEntries(Object.entries(units).map(([n, t]) => [`/etc/systemd/system/${n}`, t]));
        const r = verifyUnitsInRoot(files, Object.keys(files));
        assert.equal(r.status, 0, r.output);
        assert.doesNotMatch(r.output, /incant-vm-runner/, r.output);
        assert.match(units["incant-vm-runner-prod.service"], /^ExecStart=\/usr\/bin\/node \/srv\/incant\/node_modules\/ts-node\/dist\/bin\.js --transpile-only scripts\/vm-runner\.ts --stack prod --once$/m);
        assert.match(units["incant-vm-runner-prod.timer"], /^OnUnitInactiveSec=5min$/m);
        for (const bad of [{ workDir: "/srv/in cant" }, { workDir: "/srv/x\nExecStartPre=/bin/sh" }, { workDir: "relative" }, { workDir: "/srv/../etc" }, { user: "root" }, { intervalMinutes: 0 }, { stack: "Prod" }]) {
            const args = { stack: "prod", workDir: "/srv/incant", user: "incant", intervalMinutes: 5, ...bad };
            assert.ok(vmRunnerUnitProblems(args).length > 0, JSON.stringify(bad));
            assert.throws(() => renderVmRunnerUnits(args), /cannot render/);
        }
    });

    it("the command line: --once or --units, a stack, a user for the units", async () => {
        const out: string[] = [];
        const io = { log: (l: string) => out.push(l) };
        assert.equal(await main(["--stack", "dev"], io), EXIT.usage);
        assert.equal(await main(["--once"], io), EXIT.usage);
        assert.equal(await main(["--stack", "dev", "--units"], io), EXIT.usage);
        assert.equal(await main(["--stack", "dev", "--once", "--sync"], io), EXIT.usage);
        assert.equal(await main(["--stack", "dev", "--once", "--bogus"], io), EXIT.usage);
        assert.equal(await main(["--stack", "dev", "--units", "--user", "incant", "--workdir", "/srv/incant"], io), EXIT.ok);
        assert.match(out.join("\n"), /# incant-vm-runner-dev\.timer/);
    });
});

describe("autoscaler: the VM runner's guard on the program itself (two offline runs)", function () {
    this.timeout(300_000);

    /** Inputs as Pulumi would compare them: without the paths of `ignoreChanges`. */
    function compared(r: RecordedResource): string {
        const inputs = JSON.parse(JSON.stringify(r.inputs)) as Record<string, unknown>;
        for (const p of r.ignoreChanges) {
            const parts = p.split(".");
            let o = inputs as Record<string, unknown> | undefined;
            for (const k of parts.slice(0, -1)) o = o?.[k] as Record<string, unknown> | undefined;
            if (o) delete o[parts[parts.length - 1]];
        }
        return JSON.stringify(inputs);
    }

    /**
     * The steps a preview from `before` to `after` would show, approximated from the recorded
     * resources: a URN only before is deleted, only after created, an input change an update (a
     * provider might call it a replace: to the guard both are refusals).
     */
    function steps(before: RecordedResource[], after: RecordedResource[]): Step[] {
        const a = new Map(before.map((r) => [r.urn, r]));
        const b = new Map(after.map((r) => [r.urn, r]));
        return [
            ...[...a].map(([urn, r]) => ({ op: !b.has(urn) ? "delete" : compared(r) === compared(b.get(urn)!) ? "same" : "update", urn })),
            ...[...b.keys()].filter((urn) => !a.has(urn)).map((urn) => ({ op: "create", urn })),
        ];
    }

    it("7 -> 5 workers: the workers' own resources are the only changes, and the guard lets the round through", async () => {
        const autoscaling = { enabled: true, min: 1, max: 5 };
        const seven = await runProgram("dev", { nodes: { workers: { count: 7 } }, autoscaling });
        const five = await runProgram("dev", { nodes: { workers: { count: 5 } }, autoscaling });
        const all = steps(seven.resources, five.resources);
        const changes = all.filter((s) => s.op !== "same");
        const verdict = judgePreview(engineEvents(all) as Parameters<typeof judgePreview>[0], { create: [], delete: [5, 6] }, "incant-dev");
        // Every delete is a resource of worker 5 or 6, and every one of theirs is deleted.
        assert.deepEqual(changes.filter((s) => s.op === "delete").map((s) => s.urn).sort(), [...workerUrns(5), ...workerUrns(6)].sort());
        assert.deepEqual(verdict.targets.sort(), [...workerUrns(5), ...workerUrns(6)].sort());
        // Nothing else changes: the pool's pods select workers by label (manifests.ts ON_WORKERS), not by
        // name, and the autoscaler's settings do not depend on the count (autoscaling.max is bounded by
        // the quota). Red when the affinity listed the workers by name: the three HTCondor Deployments.
        assert.deepEqual(changes.filter((s) => s.op === "update").map((s) => s.urn), []);
        assert.deepEqual(verdict.problems, []);
    });
});
