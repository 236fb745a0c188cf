/**
 * A "pod" of the loopback pool: the files the kubelet (or Docker) would project into the
 * container, its volumes, its environment and security context, prepared as a directory, then
 * started with tests/pool/pod.sh in its own mount and UTS namespaces inside the pool's network
 * namespace (netns.ts). Commands run "in the pod" as `kubectl exec` would (nsenter).
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LoopbackRole, RELEASE_MOUNT } from "./overlay";

export interface PodFile { path: string; content: Buffer | string; mode: number }
export interface PodBind { source: string; target: string; readOnly: boolean }

/** Everything that defines one pod, as data. */
export interface PodPlan {
    role: LoopbackRole;
    /** Another replica of the role (its directory under pods/); default: the role's one pod. */
    podName?: string;
    hostname: string;
    podIp: string;
    /** The container's environment (downward API values resolved). */
    env: Record<string, string>;
    /** Files projected from ConfigMaps, Secrets or bind-mounted files, at their in-pod paths. */
    files: PodFile[];
    /** Directories the runtime creates (emptyDir: root:root 0777), at their in-pod paths. */
    emptyDirs: string[];
    /** Volumes backed by directories of the harness (NFS shares, CVMFS, the spool's local volume). */
    binds: PodBind[];
    /** /etc/hosts lines "<ip> <names...>" (what the cluster DNS or compose extra_hosts answer). */
    hosts: string[];
    /** Capabilities the container keeps (securityContext add after drop ALL); undefined: not cut. */
    capabilities?: string[];
    /** securityContext.allowPrivilegeEscalation false (or Docker no-new-privileges) sets no_new_privs. */
    noNewPrivs: boolean;
    /** "daemons": the image's condor_master; "idle": a container exec-ed into (the submit host's). */
    entry: "daemons" | "idle";
    /** CA certificates appended to the image's bundle (the public CA IAM's certificate chains to). */
    extraCaPem?: string;
}

/** In-pod path prefixes that live in the pod's private copies (pod.sh binds them). */
const PRIVATE_TREES: [string, string][] = [["/etc", "etc"], ["/root", "root"], ["/var/lib", "var-lib"], ["/var/log", "var-log"], ["/var/tmp", "var-tmp"], ["/run", "run"], ["/tmp", "tmp"]];

/** Where an in-pod path lives in the pod directory, or undefined outside the private trees. */
export function hostPathOf(podDir: string, inPod: string): string | undefined {
    for (const [prefix, dir] of PRIVATE_TREES) {
        if (inPod === prefix || inPod.startsWith(`${prefix}/`)) return path.join(podDir, dir, inPod.slice(prefix.length));
    }
    return undefined;
}

const SCRIPTS = __dirname;

export class Pod {
    readonly dir: string;
    private child?: ChildProcess;
    private exited?: Promise<number | null>;
    pid = 0;

    constructor(readonly plan: PodPlan, poolDir: string, private readonly netnsPid: number, private readonly prefix: string) {
        this.dir = path.join(poolDir, "pods", plan.podName ?? plan.role);
    }

    /** Lays out the pod directory (first start only: a restart keeps /var/lib and the volumes). */
    prepare(): void {
        const p = this.plan;
        fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
        // A new pod starts from its image: /etc, /root, /run, /tmp, /var/lib, /var/log, /var/tmp are
        // new; only its volumes (bind-mounted harness directories) keep what the previous pod wrote.
        for (const d of ["etc", "root", "run", "tmp", "var-lib", "var-log", "var-tmp"]) fs.rmSync(path.join(this.dir, d), { recursive: true, force: true });
        must(spawnSync("cp", ["-a", "/etc", path.join(this.dir, "etc")]));
        fs.rmSync(path.join(this.dir, "etc", "condor"), { recursive: true, force: true });
        for (const d of ["root", "run", "run/lock", "var-log", "var-lib"]) fs.mkdirSync(path.join(this.dir, d), { recursive: true, mode: 0o755 });
        for (const d of ["tmp", "var-tmp"]) {
            fs.mkdirSync(path.join(this.dir, d), { mode: 0o1777 });
            fs.chmodSync(path.join(this.dir, d), 0o1777);
        }
        fs.chmodSync(path.join(this.dir, "root"), 0o700);
        fs.writeFileSync(path.join(this.dir, "etc", "hosts"), ["127.0.0.1 localhost", `${p.podIp} ${p.hostname}`, ...p.hosts, ""].join("\n"));
        fs.writeFileSync(path.join(this.dir, "etc", "hostname"), `${p.hostname}\n`);
        if (p.extraCaPem) fs.appendFileSync(path.join(this.dir, "etc", "ssl", "certs", "ca-certificates.crt"), p.extraCaPem);
        fs.mkdirSync(path.join(this.dir, "etc", "condor"), { mode: 0o755 });
        for (const f of p.files) this.writeFile(f);
        for (const d of p.emptyDirs) {
            const host = hostPathOf(this.dir, d) ?? fail(`emptyDir ${d} outside the pod's private trees`);
            // kubelet: a fresh emptyDir for every pod, root:root 0777 (pkg/volume/emptydir).
            fs.rmSync(host, { recursive: true, force: true });
            fs.mkdirSync(host, { recursive: true });
            fs.chownSync(host, 0, 0);
            fs.chmodSync(host, 0o777);
        }
        fs.writeFileSync(path.join(this.dir, "binds"), p.binds.map((b) => `${b.source} ${b.target} ${b.readOnly ? "ro" : "rw"}\n`).join(""));
        const env = { PATH: `${RELEASE_MOUNT}/bin:${RELEASE_MOUNT}/sbin:/usr/sbin:/usr/bin:/sbin:/bin`, HOSTNAME: p.hostname, HOME: "/root", CONDOR_CONFIG: "/etc/condor/condor_config", ...p.env };
        fs.writeFileSync(path.join(this.dir, "container.env"), Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""));
        fs.copyFileSync(path.join(SCRIPTS, "entrypoint.sh"), path.join(this.dir, "entrypoint.sh"));
    }

    private writeFile(f: PodFile): void {
        const host = hostPathOf(this.dir, f.path) ?? fail(`file ${f.path} outside the pod's private trees`);
        fs.mkdirSync(path.dirname(host), { recursive: true, mode: 0o755 });
        fs.writeFileSync(host, f.content, { mode: f.mode });
        fs.chmodSync(host, f.mode);
    }

    /** Starts the pod; its main process (pid) ends up being the container's entry point. */
    start(log: number): void {
        const p = this.plan;
        const caps = p.capabilities?.map((c) => `,+${c.toLowerCase()}`).join("") ?? "";
        this.child = spawn("nsenter", [`--net=/proc/${this.netnsPid}/ns/net`, "--", "unshare", "--mount", "--uts", "--propagation", "private", "--",
            "bash", path.join(SCRIPTS, "pod.sh")], {
            env: {
                PATH: "/usr/sbin:/usr/bin:/sbin:/bin", POD_DIR: this.dir, POD_HOSTNAME: p.hostname, HTCONDOR_PREFIX: this.prefix,
                RELEASE_MOUNT, POD_ENTRY: p.entry, POD_CAPS: p.capabilities ? caps : "", POD_NNP: String(p.noNewPrivs),
            },
            stdio: ["ignore", log, log],
            detached: true,
        });
        this.pid = this.child.pid ?? 0;
        this.exited = new Promise((resolve) => this.child!.on("exit", (code) => resolve(code)));
    }

    get running(): boolean {
        return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
    }

    /** Runs a command in the pod (its namespaces), as `user` (default root), with the container's environment. */
    exec(args: string[], opts: { user?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number; input?: string } = {}): SpawnSyncReturns<string> {
        const env = Object.fromEntries(fs.readFileSync(path.join(this.dir, "container.env"), "utf8").split("\n").filter(Boolean)
            .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
        const as = opts.user ? ["runuser", "-u", opts.user, "--"] : [];
        // nsenter --wd opens the directory before entering the namespaces: change directory inside.
        const cd = opts.cwd ? ["sh", "-c", 'cd "$0" && exec "$@"', opts.cwd] : [];
        const inner = [...as, "env", ...Object.entries({ ...env, ...(opts.user ? { USER: opts.user, HOME: `/home/${opts.user}` } : {}), ...opts.env }).map(([k, v]) => `${k}=${v}`), ...cd, ...args];
        return spawnSync("nsenter", ["-t", String(this.pid), "-m", "-u", "-n", "--", ...inner],
            { encoding: "utf8", timeout: opts.timeoutMs ?? 30_000, input: opts.input, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    }

    /** Stops the pod like the kubelet: SIGTERM, a grace period, then SIGKILL of whatever is left in its namespace. */
    async stop(graceMs = 20_000): Promise<void> {
        if (this.running) {
            process.kill(this.pid, "SIGTERM");
            await Promise.race([this.exited, sleep(graceMs)]);
        }
        const mntNs = this.pid ? readLink(`/proc/${this.pid}/ns/mnt`) : undefined;
        killNamespace(mntNs, "mnt");
        if (this.running) process.kill(this.pid, "SIGKILL");
        await Promise.race([this.exited, sleep(2_000)]);
    }
}

/** SIGKILLs every process in the namespace `ns` (a /proc/<pid>/ns/<kind> link), by pid. */
export function killNamespace(ns: string | undefined, kind: "mnt" | "net"): number[] {
    if (!ns) return [];
    const killed: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        if (readLink(`/proc/${entry}/ns/${kind}`) === ns) {
            try { process.kill(Number(entry), "SIGKILL"); killed.push(Number(entry)); } catch { /* gone */ }
        }
    }
    return killed;
}

export function readLink(p: string): string | undefined {
    try { return fs.readlinkSync(p); } catch { return undefined; }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function must(r: SpawnSyncReturns<Buffer | string>): void {
    if (r.status !== 0) throw new Error(`command failed: ${r.stderr?.toString()}`);
}

function fail(message: string): never {
    throw new Error(message);
}
