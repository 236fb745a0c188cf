/**
 * The autoscaler end to end on the loopback pool (issue #19): the controller's real code
 * (components/autoscaler/controller.ts: condor_status -json with its own IDTOKEN at the real
 * collector, decide(), the drain annotation) with a backend that starts and stops worker "pods" of
 * the harness instead of calling Kubernetes, and, for the drain, writes the annotation file the
 * kubelet would project (the rendered downward API volume). A burst of jobs: workers go up, jobs
 * finish, workers drain and go down; every job ran once and completed (nothing killed).
 * The counts over time are printed (the transcript of the issue's closing note).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireLoopbackPool } from "./install";
import { userSession } from "./journey";
import { hostPathOf, Pod, sleep } from "./pod";
import { LoopbackPool, setting } from "./pool";
import { downwardResource } from "./rendered";
import { Controller, WorkerBackend, WorkerPod } from "../../components/autoscaler/controller";
import { autoscalerCondorConfig } from "../../components/autoscaler/condor";
import { AutoscalingPolicy } from "../../components/autoscaler/decide";
import { SCHEDD_QUERY, SUBMITTER_QUERY } from "../../components/autoscaler/pool-reader";
import { DRAIN, WORKER_RESERVED_MEMORY_MB } from "../../components/htcondor/config";
import { SECRETS } from "../../components/htcondor/manifests";


/** The harness's worker pods as a Deployment the controller scales. */
class LoopbackWorkers implements WorkerBackend {
    readonly events: string[] = [];
    /** Machines that had a dynamic slot (a job) when the backend was told to remove them: must stay empty. */
    readonly removedBusy: string[] = [];
    readonly removed: string[] = [];
    private annotated = new Set<string>();
    private next = 1;
    replicas = 1;

    constructor(private readonly pool: LoopbackPool, private readonly slotsOf: (machine: string) => number, private readonly t0: number) {}

    private all(): Map<string, Pod> {
        const m = new Map(this.pool.extraWorkers);
        if (this.pool.pods.worker.running) m.set(this.pool.pods.worker.plan.hostname, this.pool.pods.worker);
        return m;
    }

    async list(): Promise<{ pods: WorkerPod[]; replicas: number }> {
        const pods = [...this.all().entries()].filter(([, p]) => p.running)
            .map(([name]) => ({ name, nodeIndex: Number(/-(\d+)$/.exec(name)![1]), drainAnnotated: this.annotated.has(name) }));
        return { pods, replicas: this.replicas };
    }

    /** What the kubelet does with the rendered downward API volume: the annotation's value in the file, "" when absent. */
    async setDrain(name: string, drain: boolean): Promise<void> {
        const pod = this.all().get(name)!;
        const file = hostPathOf(pod.dir, path.posix.join(DRAIN.dir, DRAIN.file))!;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, drain ? "true" : "");
        if (drain) this.annotated.add(name); else this.annotated.delete(name);
    }

    async scaleIn(remove: string[], replicas: number): Promise<void> {
        for (const name of remove) {
            // An independent witness: the collector's dynamic slots of that startd right now.
            if (this.slotsOf(name) > 0) this.removedBusy.push(name);
            this.removed.push(name);
            const pod = this.all().get(name)!;
            await pod.stop();
            this.pool.extraWorkers.delete(name);
            this.annotated.delete(name);
        }
        this.replicas = replicas;
    }

    async scaleOut(replicas: number): Promise<void> {
        while (this.all().size < replicas) {
            const i = this.next++;
            this.pool.addWorker(`htcondor-worker-${i}`, `10.244.3.${10 + i}`);
        }
        this.replicas = replicas;
    }

    async event(type: string, reason: string, message: string): Promise<void> {
        this.events.push(`${Math.round((Date.now() - this.t0) / 1000)} s ${type} ${reason}: ${message}`);
    }
}

describe("autoscaler on the loopback pool (npm run test:pool)", function () {
    let pool: LoopbackPool;

    before(async function () {
        this.timeout(180_000);
        const install = requireLoopbackPool(this);
        pool = await LoopbackPool.create(install);
        pool.start("central-manager", "scheduler", "worker", "submit");
        await pool.waitForSubmitUser("atlasuser1");
    });

    after(async function () {
        this.timeout(120_000);
        if (pool) await pool.stop();
    });

    it("a burst of jobs: workers go up to max, jobs finish, idle workers drain and go down to min; every job ran once and completed", async function () {
        this.timeout(900_000);
        const cm = pool.pods["central-manager"];
        // The controller's condor_status: its rendered client configuration and its rendered token,
        // as user nobody (no FS identity to fall back on) in a pod that resolves the collector's Service name.
        const dir = hostPathOf(cm.dir, "/tmp/autoscaler")!;
        fs.mkdirSync(dir, { recursive: true });
        const [collectorHostName, port] = setting(pool.rendered.conf.worker, "COLLECTOR_HOST")!.split(":");
        const settings = { trustDomain: setting(pool.rendered.conf.worker, "TRUST_DOMAIN")!, collectorHostName, collectorPort: Number(port) };
        fs.writeFileSync(path.join(dir, "condor_config"), autoscalerCondorConfig(settings, "/tmp/autoscaler/tokens.d"));
        // As the kubelet projects the Secret in the autoscaler's pod: root's file, mode 0440, group = fsGroup 65534;
        // then main.ts's start-up (tokens.ts installTokens), run as the controller's user, copies it for HTCondor.
        fs.mkdirSync(path.join(dir, "tokens-orig.d"));
        const token = path.join(dir, "tokens-orig.d", "autoscaler");
        fs.writeFileSync(token, pool.rendered.secrets[SECRETS.autoscalerToken].token);
        fs.chownSync(token, 0, 65534);
        fs.chmodSync(token, 0o440);
        fs.chownSync(dir, 65534, 65534);
        // Compiled as images/autoscaler/Dockerfile compiles it, run as the controller's user.
        const js = path.join(dir, "js");
        const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "--ignoreConfig", "--outDir", js, "--module", "commonjs", "--target", "es2022", "--skipLibCheck", "--types", "node",
            path.resolve(__dirname, "../../components/autoscaler/tokens.ts")], { encoding: "utf8" });
        assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
        const install = cm.exec([process.execPath, "-e", `require("/tmp/autoscaler/js/tokens.js").installTokens("/tmp/autoscaler/tokens-orig.d", "/tmp/autoscaler/tokens.d")`], { user: "nobody", env: { HOME: "/tmp" } });
        assert.equal(install.status, 0, install.stderr);
        const condorStatus = async (args: string[]) => {
            const r = cm.exec(["condor_status", ...args], { user: "nobody", env: { CONDOR_CONFIG: "/tmp/autoscaler/condor_config", HOME: "/tmp" } });
            if (r.status !== 0) throw new Error(`condor_status ${args.join(" ")}: ${r.stderr}`);
            return r.stdout;
        };
        const slotsOf = (machine: string) => cm.exec(["condor_status", "-af", "Name", "-constraint", `SlotType == "Dynamic" && Machine == "${machine}"`]).stdout.trim().split("\n").filter(Boolean).length;

        const c = pool.rendered.podSpec.worker.containers[0];
        const shape = { cpus: downwardResource(c.resources.requests.cpu), memoryMb: downwardResource(c.resources.requests.memory, "1Mi") - WORKER_RESERVED_MEMORY_MB };
        const policy: AutoscalingPolicy = { enabled: true, min: 1, max: 3, scaleUpCooldownSeconds: 0, scaleDownCooldownSeconds: 20, idleSeconds: 20 };
        const t0 = Date.now();
        const backend = new LoopbackWorkers(pool, slotsOf, t0);
        const controller = new Controller({ policy, workerShape: shape, quotaWorkers: 7, backend, condorStatus });
        await pool.waitFor("the first worker's slot", () => cm.exec(["condor_status", "-af", "Name"]).stdout.trim(), 60_000);
        // The identity it reads with: its token's, not root's or the pod's.
        const ping = cm.exec(["condor_ping", "-type", "COLLECTOR", "-verbose", "READ"], { user: "nobody", env: { CONDOR_CONFIG: "/tmp/autoscaler/condor_config", HOME: "/tmp" } });
        assert.match(ping.stdout, /Remote Mapping:\s+autoscaler@incant\.cloud\.infn\.it/, ping.stdout + ping.stderr);
        assert.match(ping.stdout, /Authenticated using:\s+IDTOKENS/);

        // The burst: 3 workers' worth of one-core jobs of 40 s, and one of 100 s that keeps its worker busy.
        const u = userSession(pool, "atlasuser1");
        const jobs = path.join(pool.volumes.home, "atlasuser1", "burst");
        fs.mkdirSync(jobs);
        fs.chownSync(jobs, u.uid, u.uid);
        const common = ["transfer_executable = false", "request_cpus = 1", "request_memory = 64MB", "request_disk = 1MB", "should_transfer_files = YES", "log = burst.log"];
        const n = 3 * shape.cpus - 1;
        fs.writeFileSync(path.join(jobs, "burst.sub"), [...common, "executable = /bin/sleep", "arguments = 40", `queue ${n}`, "arguments = 100", "queue 1", ""].join("\n"));
        const schedd = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        const s = u.run(["condor_submit", "-remote", schedd, "burst.sub"], { cwd: "/home/atlasuser1/burst", timeoutMs: 60_000 });
        const cluster = /submitted to cluster (\d+)\./.exec(s.stdout)?.[1];
        assert.ok(cluster, s.stdout + s.stderr);

        // idle-jobs: what the controller counted; submitters/schedd: the raw ads' IdleJobs and TotalIdleJobs.
        const transcript: string[] = ["   t  pods  startds  busy  draining  idle-jobs (submitters/schedd)  running  decision"];
        const sum = (text: string, attr: string) => (JSON.parse(text.trim() || "[]") as Record<string, number>[]).reduce((s, a) => s + (a[attr] ?? 0), 0);
        let peak = 0;
        const end = Date.now() + 780_000;
        let done = false;
        while (Date.now() < end) {
            const d = await controller.cycle();
            const m = controller.metrics;
            const q = u.run(["condor_q", "-name", schedd, cluster!, "-af", "JobStatus"]).stdout.trim().split("\n").filter(Boolean);
            const running = q.filter((x) => x === "2").length;
            const startds = (await condorStatus(["-af", "Machine", "-constraint", "SlotType == \"Partitionable\""])).trim().split("\n").filter(Boolean).length;
            const pods = (await backend.list()).pods.length;
            const raw = `${sum(await condorStatus(SUBMITTER_QUERY), "IdleJobs")}/${sum(await condorStatus(SCHEDD_QUERY), "TotalIdleJobs")}`;
            peak = Math.max(peak, pods);
            transcript.push(`${String(Math.round((Date.now() - t0) / 1000)).padStart(4)}  ${String(pods).padStart(4)}  ${String(startds).padStart(7)}  ${String(m.busyWorkers).padStart(4)}  ${String(m.drainingWorkers).padStart(8)}  ${`${m.idleJobs} (${raw})`.padStart(27)}  ${String(running).padStart(7)}  ${d?.reason ?? "error (see events)"}`);
            // Spooled (remote) jobs stay in the queue, completed (4), until their output is fetched.
            done = q.length === n + 1 && q.every((x) => x === "4") && pods === policy.min && peak === policy.max;
            if (done) break;
            await sleep(5_000);
        }
        console.log(`\n${transcript.join("\n")}\n\nevents:\n${backend.events.join("\n")}\n`);
        assert.equal(peak, policy.max, "the burst did not bring the pool to max");
        assert.ok(done, "the pool did not come back to min once the jobs finished");
        assert.deepEqual(backend.removedBusy, [], "a worker with a job was removed");
        assert.equal(backend.removed.length, policy.max - policy.min);
        assert.equal(controller.metrics.cycleErrors, 0, backend.events.join("\n"));
        // Nothing killed: every job of the burst ran exactly once and exited 0 (still in the queue: spooled).
        const h = u.run(["condor_q", "-name", schedd, cluster!, "-af", "ProcId", "JobStatus", "NumJobStarts", "ExitCode"]);
        const rows = h.stdout.trim().split("\n").filter(Boolean).sort();
        assert.equal(rows.length, n + 1, h.stdout + h.stderr);
        for (const r of rows) assert.match(r, /^\d+ 4 1 0$/, `job ${r} (ProcId JobStatus NumJobStarts ExitCode)`);
    });
});
