/**
 * The loopback pool: the dev stack rendered with its secrets, one private network namespace whose
 * loopback carries the node address, the pods' addresses and the issuer's, the loopback IAM
 * issuer, the directories standing in for the cluster's volumes, and the pods (central manager,
 * scheduler, worker, submit container). Every process it starts is stopped by stop(), which also
 * kills whatever is left in its network namespace and removes its directory.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PoolRole } from "../../components/htcondor/manifests";
import { ACCESS, renderAccessList } from "../../components/submit/access";
import { HtcondorInstall } from "./install";
import { Issuer, makeIssuer } from "./issuer";
import { LoopbackRole } from "./overlay";
import { ADDRESSES, PlanContext, poolPodPlan, submitPodPlan, VolumeDirs } from "./plans";
import { killNamespace, Pod, readLink, sleep } from "./pod";
import { renderDev, RenderedStack } from "./rendered";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Pulumi.dev.yaml with one more top-level key, in a temporary folder: a pool test's own settings
 * (LoopbackPool.create's `stackFile`). The dev stack must not set `key` itself (it would be set
 * twice). `body` is the key's YAML, as written under it. Remove it with removeStackFile.
 */
export function devStackWith(key: string, body: string): string {
    const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    if (dev.split("\n").some((l) => l.startsWith(`  ${key}:`))) throw new Error(`Pulumi.dev.yaml sets ${key}: merge the test's settings into it here`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-pool-stack-"));
    const file = path.join(dir, "Pulumi.dev.yaml");
    const indented = body.trimEnd().split("\n").map((l) => `    ${l}`).join("\n");
    fs.writeFileSync(file, `${dev.trimEnd()}\n  ${key}:\n${indented}\n`);
    return file;
}

/** Deletes a devStackWith file and its folder (no-op for undefined). */
export function removeStackFile(file: string | undefined): void {
    if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

/** A value of the rendered configuration ("KEY = value", last one wins). */
export function setting(conf: string, key: string): string | undefined {
    let value: string | undefined;
    for (const line of conf.split("\n")) {
        const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
        if (m && m[1] === key) value = m[2];
    }
    return value;
}

export interface PoolUser { name: string; uid: number; iamSubject: string }

export class LoopbackPool {
    readonly pods = {} as Record<LoopbackRole, Pod>;
    /** More worker replicas (addWorker), stopped with the pool. */
    readonly extraWorkers = new Map<string, Pod>();
    private ctx?: PlanContext;
    private netns?: ChildProcess;
    private issuerProcess?: ChildProcess;
    private logs: number[] = [];
    rendered!: RenderedStack;
    issuer!: Issuer;
    volumes!: VolumeDirs;
    users: PoolUser[] = [];

    private constructor(readonly dir: string, readonly install: HtcondorInstall) {}

    /** Renders the dev stack, makes the network, the issuer and the volumes; starts nothing of HTCondor. */
    static async create(install: HtcondorInstall, opts: { stackFile?: string } = {}): Promise<LoopbackPool> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-pool-"));
        fs.chmodSync(dir, 0o755);
        const pool = new LoopbackPool(dir, install);
        try {
            await pool.setUp(opts.stackFile);
        } catch (e) {
            await pool.stop();
            throw e;
        }
        return pool;
    }

    private async setUp(stackFile?: string): Promise<void> {
        this.rendered = renderDev(path.join(this.dir, "render"), stackFile);
        const nodeAddress = setting(this.rendered.conf["central-manager"], "TCP_FORWARDING_HOST")!;
        await this.startNetwork([nodeAddress, ...Object.values(ADDRESSES)]);
        const issuerUrl = this.issuerUrl();
        this.issuer = makeIssuer(path.join(this.dir, "issuer"), issuerUrl);
        this.issuerProcess = this.spawnInNet("issuer", [process.execPath, "-r", "ts-node/register/transpile-only",
            path.join(__dirname, "issuer-server.ts"), path.join(this.issuer.dir), String(new URL(issuerUrl).port || 443)]);
        this.volumes = this.makeVolumes();
        // Other shares the submit host binds in (/srv/incant/<share>): an empty directory each.
        for (const v of this.rendered.submit.volumes ?? []) {
            // and the host's own state directories (/var/lib/incant/<dir>: the sshd host keys): empty too.
            if (v.type === "bind" && /^\/(srv|var\/lib)\/incant\//.test(v.source) && !this.volumes[v.source]) {
                this.volumes[v.source] = path.join(this.dir, "volumes", `submit-${path.basename(v.source)}`);
                fs.mkdirSync(this.volumes[v.source], { recursive: true, mode: 0o755 });
            }
        }
        // The physicists' access list, as the program installs it on the submit host: the shipped
        // incant-submit-users (components/submit/update-users.sh) with the dev users, no container yet.
        const access = path.join(this.dir, "volumes", "submit-access");
        const list = this.rendered.configMaps["htcondor-users"].users.split("\n").filter(Boolean)
            .map((l) => { const [name, uid] = l.split(" "); return { name, uid: Number(uid) }; });
        const sync = spawnSync("bash", [path.join(ROOT, "components", "submit", "update-users.sh"), "10"], {
            input: renderAccessList(list), encoding: "utf8", timeout: 30_000,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ACCESS_DIR: access, DOCKER: "false" },
        });
        if (sync.status !== 0) throw new Error(`incant-submit-users: ${sync.stderr}`);
        this.volumes[ACCESS.host.dir] = access;
        const ctx: PlanContext = { rendered: this.rendered, volumes: this.volumes, issuerHost: new URL(issuerUrl).hostname, caPem: this.issuer.caPem };
        this.ctx = ctx;
        for (const role of ["central-manager", "scheduler", "worker"] as PoolRole[]) this.pods[role] = new Pod(poolPodPlan(role, ctx), this.dir, this.netns!.pid!, this.install.prefix);
        this.pods.submit = new Pod(submitPodPlan(ctx), this.dir, this.netns!.pid!, this.install.prefix);
    }

    /** The issuer URL as rendered (the map file's issuer): the users file has the dev users. */
    issuerUrl(): string {
        const m = /^SCITOKENS \^(\S+),/m.exec(this.rendered.mapfile);
        if (!m) throw new Error("the rendered map file has no SCITOKENS line");
        return m[1].replace(/\\(.)/g, "$1");
    }

    /** One network namespace for the pool, loopback up, with every address the pods use. */
    private async startNetwork(addresses: string[]): Promise<void> {
        const script = ["ip link set lo up", ...addresses.map((a) => `ip addr add ${a}/32 dev lo`), "echo ready", "exec sleep 3600"].join(" && ");
        // The holder (and the issuer below) die with the test process, whatever ends it.
        this.netns = spawn("unshare", ["--net", "--", "setpriv", "--pdeathsig", "KILL", "--", "sh", "-c", script], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
        await new Promise<void>((resolve, reject) => {
            this.netns!.stdout!.on("data", (d: Buffer) => { if (d.toString().includes("ready")) resolve(); });
            this.netns!.on("exit", (code) => reject(new Error(`network namespace set-up failed (${code})`)));
        });
    }

    private spawnInNet(name: string, args: string[]): ChildProcess {
        const log = this.log(name);
        return spawn("nsenter", [`--net=/proc/${this.netns!.pid}/ns/net`, "--", "setpriv", "--pdeathsig", "KILL", "--", ...args], { cwd: ROOT, stdio: ["ignore", log, log], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    }

    /** A log file of the harness (a pod's or the issuer's stdout and stderr), as a file descriptor. */
    log(name: string): number {
        const fd = fs.openSync(path.join(this.dir, `${name}.log`), "a");
        this.logs.push(fd);
        return fd;
    }

    /** The storage controller's shares (homes, scratch per user), CVMFS, the spools' local volumes. */
    private makeVolumes(): VolumeDirs {
        const v = (name: string, mode = 0o755) => {
            const d = path.join(this.dir, "volumes", name);
            fs.mkdirSync(d, { recursive: true, mode });
            fs.chmodSync(d, mode);
            return d;
        };
        const users = this.rendered.configMaps["htcondor-users"].users.split("\n").filter(Boolean).map((l) => l.split(" "));
        const home = v("home"), scratch = v("scratch");
        for (const [name, uid] of users) {
            // incant-update-users on the storage controller: home 0700, scratch 0755, owned by the uid.
            for (const [root, mode] of [[home, 0o700], [scratch, 0o755]] as [string, number][]) {
                fs.mkdirSync(path.join(root, name), { mode });
                fs.chownSync(path.join(root, name), Number(uid), Number(uid));
            }
        }
        const cvmfs = v("cvmfs");
        // A fake atlas.cern.ch: what the smoke test reads (ATLASLocalRootBase's setup script).
        const alrb = path.join(cvmfs, "atlas.cern.ch", "repo", "ATLASLocalRootBase", "user");
        fs.mkdirSync(alrb, { recursive: true });
        fs.writeFileSync(path.join(alrb, "atlasLocalSetup.sh"), "# loopback stand-in for ATLASLocalRootBase\necho 'setupATLAS (loopback stand-in)'\n");
        // The other repositories' roots, never empty in CVMFS (the workers' startd cron checks that: health.ts).
        for (const [repo, top] of [["atlas-condb.cern.ch", "repo"], ["sft.cern.ch", "lcg"], ["unpacked.cern.ch", "registry.hub.docker.com"]]) fs.mkdirSync(path.join(cvmfs, repo, top), { recursive: true });
        // The workers' S3 archive claim (components/storage/archive-csi.ts): an empty read-only stand-in,
        // its rclone mount is tested on its own (tests/storage-archive-csi-rclone.test.ts).
        const archive = v("archive");
        return { home, scratch, cvmfs, archive, "schedd-spool": v("schedd-spool"), "central-manager-spool": v("central-manager-spool"), "/srv/incant/home": home, "/srv/incant/scratch": scratch, "/cvmfs": cvmfs };
    }

    /** Prepares and starts pods (in this order). */
    start(...roles: LoopbackRole[]): void {
        for (const role of roles) {
            this.pods[role].prepare();
            this.pods[role].start(this.log(role));
        }
    }

    /** Starts another worker replica named `name` (its host name) at `podIp` on the pool's loopback. */
    addWorker(name: string, podIp: string): Pod {
        if (this.extraWorkers.has(name) || name === this.pods.worker?.plan.hostname) throw new Error(`worker ${name} exists`);
        const ip = spawnSync("nsenter", [`--net=/proc/${this.netns!.pid}/ns/net`, "--", "ip", "addr", "replace", `${podIp}/32`, "dev", "lo"], { encoding: "utf8" });
        if (ip.status !== 0) throw new Error(`ip addr ${podIp}: ${ip.stderr}`);
        const pod = new Pod(poolPodPlan("worker", this.ctx!, { hostname: name, podIp }), this.dir, this.netns!.pid!, this.install.prefix);
        this.extraWorkers.set(name, pod);
        pod.prepare();
        pod.start(this.log(name));
        return pod;
    }

    /** Replaces a pod, as the Deployment's Recreate strategy does: stop it, then a new one from the image. */
    async restart(role: LoopbackRole): Promise<void> {
        await this.pods[role].stop();
        this.start(role);
    }

    /** A daemon log file of a pod (e.g. StartLog), or "" when absent. */
    daemonLog(role: LoopbackRole, name: string): string {
        const f = path.join(this.pods[role].dir, "var-log", "condor", name);
        return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    }

    /** Until the submit container has `user`'s account (its account sync ran at start). */
    waitForSubmitUser(user: string, timeoutMs = 30_000): Promise<true> {
        return this.waitFor("the submit container's users", () => this.pods.submit.exec(["getent", "passwd", user]).status === 0 || undefined, timeoutMs);
    }

    /** Until the collector lists the worker's partitionable slot. */
    waitForWorkerSlot(timeoutMs = 45_000): Promise<true> {
        return this.waitFor("the worker's slot", () => this.pods["central-manager"].exec(["condor_status", "-af", "Name"]).stdout.includes("slot1@") || undefined, timeoutMs);
    }

    /** Polls `probe` every second until it returns a value, at most `timeoutMs`. */
    async waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
        const end = Date.now() + timeoutMs;
        for (;;) {
            const v = probe();
            if (v) return v;
            if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
            await sleep(1_000);
        }
    }

    /** Stops every pod, the issuer, kills what is left in the network namespace, removes the directory. */
    async stop(keep = process.env.INCANT_POOL_KEEP === "1"): Promise<void> {
        await Promise.all([...Object.values(this.pods), ...this.extraWorkers.values()].map((p) => p.stop().catch(() => undefined)));
        const net = this.netns?.pid ? readLink(`/proc/${this.netns.pid}/ns/net`) : undefined;
        this.issuerProcess?.kill("SIGKILL");
        killNamespace(net, "net");
        this.netns?.kill("SIGKILL");
        for (const fd of this.logs.splice(0)) fs.closeSync(fd);
        await sleep(200);
        if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
