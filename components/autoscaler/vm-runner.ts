/**
 * The VM runner (issue #19 item 2, docs/elasticity.md "Worker VMs within the quota"): one round
 * changes the stack's worker VM count through the Automation API, where the stack lives (an
 * operator host or the CI runner: the Pulumi backend, the OpenStack credentials), never in the
 * cluster. scripts/vm-runner.ts is the entry point; vm-runner-units.ts its systemd timer.
 *
 *   read (stack outputs -> admin kubeconfig -> worker replicas, VMs with worker pods)
 *     -> planVms (vms.ts, bounded by the quota)            nothing to do: stop
 *     -> setConfig incant:nodes.workers.count -> preview   anything but those workers: restore, stop
 *     -> cordon the VMs to remove, re-check, evict, re-check  a worker pod there: uncordon, restore, stop
 *     -> up, targeted at exactly the resources the preview planned
 *
 * The kill switch is `incant:autoscaling.enabled` of the stack file it runs with; two rounds never
 * overlap (a lock file beside the stack file, and the backend's own stack lock against other hosts).
 */
import * as fs from "fs";
import * as os from "os";
import type { ConfigValue, EngineEvent, OpType, OutputMap, PreviewOptions, PreviewResult, UpOptions, UpResult } from "@pulumi/pulumi/automation";
import { plannedVms } from "../config/quota";
import { FacilityConfig } from "../config/schema";
import { ConfigValidationError } from "../config/validate";
import { POOL_NAMESPACE } from "../htcondor/pool";
import { quotaWorkers } from "../config/quota";
import { planVms, VmPlan } from "./vms";
import { autoscalerSettings } from "./index";
import { NodePod, selectorMatches } from "./vm-kube";

/** The key the runner sets (`pulumi config set --path`). */
export const COUNT_KEY = "incant:nodes.workers.count";
/** Workers 0 and 1 hold the schedd's and the central manager's local spools (docs/elasticity.md). */
export const KEEP_WORKERS = 2;

/** What the runner needs of an Automation API stack (`LocalWorkspace.selectStack`). */
export interface RunnerStack {
    readonly name: string;
    setConfig(key: string, value: ConfigValue, path?: boolean): Promise<void>;
    outputs(): Promise<OutputMap>;
    preview(opts?: PreviewOptions): Promise<PreviewResult>;
    up(opts?: UpOptions): Promise<UpResult>;
}

/** What the runner needs of the cluster (vm-kube.ts ClusterClient). */
export interface RunnerCluster {
    replicas(namespace: string, deployment: string): Promise<number>;
    busyIndexes(namespace: string, selector: string): Promise<number[]>;
    podsOn(node: string): Promise<NodePod[]>;
    setUnschedulable(node: string, unschedulable: boolean): Promise<void>;
    evict(pod: NodePod): Promise<void>;
    event(namespace: string, deployment: string, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

// --- The preview guard (pure) ----------------------------------------------------------------

/**
 * The resources one worker VM brings (components/kubernetes/cluster.ts and join-tokens.ts): its
 * server and its join token (the two random strings it is made of, and its registration: a
 * bootstrap-token Secret, or the remote command that registers it on a control plane); a port if
 * a later change gives workers their own. tests/autoscaler-vm-runner.test.ts checks this list
 * against contracts/urns.dev.txt, so a new per-worker resource fails there first.
 */
const WORKER_RESOURCES: { type: string; name: (prefix: string) => RegExp }[] = [
    { type: "openstack:compute/instance:Instance", name: (p) => new RegExp(`^${esc(p)}-worker-(\\d+)$`) },
    { type: "openstack:networking/port:Port", name: (p) => new RegExp(`^${esc(p)}-worker-(\\d+)-port$`) },
    { type: "kubernetes:core/v1:Secret", name: (p) => new RegExp(`^kubernetes-${esc(p)}-worker-(\\d+)-join-token$`) },
    { type: "command:remote:Command", name: (p) => new RegExp(`^kubernetes-${esc(p)}-worker-(\\d+)-join-token$`) },
    { type: "random:index/randomString:RandomString", name: (p) => new RegExp(`^kubernetes-${esc(p)}-worker-(\\d+)-join-token-(?:id|secret)$`) },
];

function esc(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The worker VM index a URN belongs to, when it is one of a worker's own resources. */
export function workerIndexOfUrn(urn: string, namePrefix: string): number | undefined {
    // urn:pulumi:<stack>::<project>::<parent types$>type::name (https://www.pulumi.com/docs/iac/concepts/resources/names/#urns)
    const m = /::([^:]+(?::[^:]+)*?)::([^:]*)$/.exec(urn);
    if (!m) return undefined;
    const type = m[1].split("$").pop()!;
    const name = m[2];
    for (const r of WORKER_RESOURCES) {
        if (r.type !== type) continue;
        const n = r.name(namePrefix).exec(name);
        if (n) return Number(n[1]);
    }
    return undefined;
}

/** What a round may change: these worker VMs created, or these deleted. */
export interface ExpectedChange {
    create: number[];
    delete: number[];
}

export interface PreviewVerdict {
    /** Empty when the preview plans exactly the expected workers and nothing else. */
    problems: string[];
    /** The URNs the preview creates or deletes (the `up`'s targets). */
    targets: string[];
}

/** Operations that change nothing. */
const NO_CHANGE: ReadonlySet<OpType> = new Set<OpType>(["same", "read"]);

/**
 * Judges a preview's engine events: acceptable only if every step is `same`/`read`, or a `create`
 * of a resource of a worker to create, or a `delete` of one of a worker to delete; every worker
 * of the plan has its server in the preview with that operation; and the summary counts agree.
 * A replace or an update of anything (a worker's user-data, the pool, a control plane) means drift
 * or a change by hand in flight: the runner is not the one to apply it.
 */
export function judgePreview(events: EngineEvent[], expected: ExpectedChange, namePrefix: string): PreviewVerdict {
    const problems: string[] = [];
    const targets: string[] = [];
    const seen = new Map<number, OpType>();
    let summary: Partial<Record<OpType, number>> | undefined;
    const counted: Partial<Record<OpType, number>> = {};
    for (const e of events) {
        if (e.summaryEvent) summary = e.summaryEvent.resourceChanges;
        const md = e.resourcePreEvent?.metadata;
        if (!md) continue;
        counted[md.op] = (counted[md.op] ?? 0) + 1;
        if (NO_CHANGE.has(md.op)) continue;
        const index = workerIndexOfUrn(md.urn, namePrefix);
        const allowed = index !== undefined && ((md.op === "create" && expected.create.includes(index)) || (md.op === "delete" && expected.delete.includes(index)));
        if (!allowed) {
            problems.push(`the preview plans ${md.op} of ${md.urn}${index === undefined ? "" : ` (worker ${index})`}, which this round did not plan`);
            continue;
        }
        targets.push(md.urn);
        if (md.type === "openstack:compute/instance:Instance") seen.set(index!, md.op);
    }
    for (const [op, list] of [["create", expected.create], ["delete", expected.delete]] as const) {
        for (const i of list) if (seen.get(i) !== op) problems.push(`the preview does not ${op} worker ${i}'s server`);
    }
    if (!summary) problems.push("the preview sent no summary: its plan cannot be checked");
    else {
        for (const [op, n] of Object.entries(summary) as [OpType, number][]) {
            if (NO_CHANGE.has(op) || !n) continue;
            if (n !== (counted[op] ?? 0)) problems.push(`the preview's summary counts ${n} ${op} but its steps ${counted[op] ?? 0}`);
        }
    }
    return { problems, targets };
}

// --- The deployed count ----------------------------------------------------------------------

/**
 * The worker VMs of the stack's last deployment: its `vmCount` output (index.ts: every planned VM)
 * less the VMs that are not workers in this config (control planes, storage controller, submit
 * host). Undefined when the output is missing or the difference is not a count.
 */
export function deployedWorkers(vmCount: unknown, config: Pick<FacilityConfig, "namePrefix" | "nodes" | "flavors">): number | undefined {
    if (typeof vmCount !== "number" || !Number.isInteger(vmCount)) return undefined;
    const others = plannedVms({ ...config, nodes: { ...config.nodes, workers: { ...config.nodes.workers, count: 0 } } }).length;
    const n = vmCount - others;
    return n >= 0 ? n : undefined;
}

export interface SyncDeps {
    stack: RunnerStack;
    readConfig(): FacilityConfig;
    log(line: string): void;
}

/**
 * Sets the workspace's `incant:nodes.workers.count` to the deployed count (autoscaling on only):
 * what CI's deploy and drift jobs, and an operator, run before their own preview or up, so that
 * they start from what the runner deployed instead of the committed value (docs/elasticity.md).
 */
export async function syncCount(d: SyncDeps): Promise<RoundOutcome> {
    const config = d.readConfig();
    const log = (line: string) => d.log(`${d.stack.name}: ${line}`);
    const file = config.nodes.workers.count;
    if (!config.autoscaling.enabled) {
        log(`autoscaling is off: ${COUNT_KEY} stays ${file}, the stack file's`);
        return { action: "disabled", count: file, reason: "autoscaling off" };
    }
    const outputs = await d.stack.outputs();
    if (Object.keys(outputs).length === 0) {
        // The stack's first deployment (CI runs --sync before every up): nothing deployed to follow.
        log(`not deployed yet: ${COUNT_KEY} stays ${file}, the stack file's`);
        return { action: "unchanged", count: file, reason: "not deployed yet" };
    }
    const deployed = deployedWorkers(outputs.vmCount?.value, config);
    if (deployed === undefined) return failed(log, "the stack has no vmCount output to read the deployed worker count from", file);
    if (deployed === file) {
        log(`${COUNT_KEY} is ${file}, as deployed`);
        return { action: "unchanged", count: file, reason: "as deployed" };
    }
    await d.stack.setConfig(COUNT_KEY, { value: String(deployed) }, true);
    log(`${COUNT_KEY} set to ${deployed}, as deployed (the stack file said ${file})`);
    return { action: "scaled", count: deployed, reason: `synced ${file} -> ${deployed}` };
}

// --- One round ------------------------------------------------------------------------------

export interface RoundDeps {
    stack: RunnerStack;
    /** The validated config of the stack file the workspace runs with (read each round). */
    readConfig(): FacilityConfig;
    /** The validation problems of that stack file with `nodes.workers.count` set to `count`. */
    countProblems(count: number): string[];
    /** A client for the kubeconfig of the stack outputs. */
    cluster(kubeconfig: string): RunnerCluster;
    log(line: string): void;
    /** How long the drain may take before the round gives up (default 10 min). */
    drainTimeoutMs?: number;
    /** Between two looks at a draining node (default 5 s). */
    pollMs?: number;
}

export type RoundAction = "disabled" | "unchanged" | "scaled" | "refused" | "failed";

export interface RoundOutcome {
    action: RoundAction;
    /** The worker VM count afterwards (as the stack file says). */
    count?: number;
    reason: string;
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pods a drain must see gone: everything but DaemonSets' and mirror pods (`kubectl drain --ignore-daemonsets`). */
const evictable = (p: NodePod) => !p.daemonSet && !p.mirror;

export async function runRound(d: RoundDeps): Promise<RoundOutcome> {
    const config = d.readConfig();
    const log = (line: string) => d.log(`${d.stack.name}: ${line}`);
    if (!config.autoscaling.enabled) {
        const reason = "kill switch: incant:autoscaling.enabled is false, no VM changed";
        log(reason);
        return { action: "disabled", count: config.nodes.workers.count, reason };
    }
    const outputs = await d.stack.outputs();
    const kubeconfig = outputs.kubeconfig?.value;
    if (typeof kubeconfig !== "string") return failed(log, "the stack has no kubeconfig output (never deployed?)", config.nodes.workers.count);
    const cluster = d.cluster(kubeconfig);
    const t = autoscalerSettings(config, POOL_NAMESPACE);
    // Plan from what is deployed: the stack file may be stale (CI deployed the committed count).
    const inFile = config.nodes.workers.count;
    const deployed = deployedWorkers(outputs.vmCount?.value, config);
    const vms = deployed ?? inFile;
    if (vms !== inFile) log(`the stack file says ${inFile} worker VMs, the last deployment has ${vms}: planning from ${vms}`);
    const quota = quotaWorkers(config);
    const [replicas, busy] = await Promise.all([cluster.replicas(t.namespace, t.deployment), cluster.busyIndexes(t.namespace, t.selector)]);
    const plan: VmPlan = planVms({ replicas, vms, busyIndexes: busy, quotaWorkers: quota, keep: KEEP_WORKERS });
    log(`read: ${replicas} worker pods wanted, ${vms} worker VMs, worker pods on VMs [${busy.join(",")}], quota allows ${quota}: ${plan.reason}`);
    const setCount = (n: number) => d.stack.setConfig(COUNT_KEY, { value: String(n) }, true);
    if (plan.count === vms) {
        if (vms !== inFile) {
            await setCount(vms);
            log(`${COUNT_KEY} set to ${vms}, as deployed`);
        }
        return { action: "unchanged", count: vms, reason: plan.reason };
    }
    const note = (type: "Normal" | "Warning", reason: string, message: string) =>
        cluster.event(t.namespace, t.deployment, type, reason, message).catch((e: Error) => log(`could not record the Event: ${e.message}`));

    const invalid = d.countProblems(plan.count);
    if (invalid.length) {
        for (const p of invalid) log(`refused: ${p}`);
        await note("Warning", "VmScaleRefused", `${vms} -> ${plan.count} worker VMs refused: ${invalid.join("; ")}`);
        return { action: "refused", count: vms, reason: invalid.join("; ") };
    }
    const expected: ExpectedChange = { create: range(vms, plan.count), delete: plan.count < vms ? plan.drain : [] };
    // A refusal leaves the stack file as it was found.
    const restore = async () => {
        await setCount(inFile);
        log(`${COUNT_KEY} restored to ${inFile}`);
    };

    await setCount(plan.count);
    log(`${COUNT_KEY} set to ${plan.count}; previewing`);
    const events: EngineEvent[] = [];
    try {
        await d.stack.preview({ onEvent: (e) => events.push(e) });
    } catch (e) {
        await restore();
        return failed(log, `preview failed: ${describeError(e)}`, vms);
    }
    const verdict = judgePreview(events, expected, config.namePrefix);
    if (verdict.problems.length) {
        for (const p of verdict.problems) log(`refused: ${p}`);
        log("refused: drift or a change by hand is in flight; an operator must run `pulumi preview --diff` and decide");
        await restore();
        await note("Warning", "VmScaleRefused", `${vms} -> ${plan.count} worker VMs refused: ${verdict.problems.slice(0, 5).join("; ")}`);
        return { action: "refused", count: vms, reason: verdict.problems.join("; ") };
    }
    log(`preview: only ${expected.create.length ? `workers [${expected.create.join(",")}] created` : `workers [${expected.delete.join(",")}] deleted`} (${verdict.targets.length} resources)`);

    if (expected.delete.length) {
        const held = await drain(d, cluster, config.namePrefix, t.selector, expected.delete, log);
        if (held) {
            await restore();
            await note("Warning", "VmScaleHeld", `${vms} -> ${plan.count} worker VMs held: ${held}`);
            return { action: "refused", count: vms, reason: held };
        }
    }
    log(`up: ${vms} -> ${plan.count} worker VMs, targeted at the previewed resources`);
    try {
        await d.stack.up({ target: verdict.targets, message: `incant-vm-runner: ${vms} -> ${plan.count} worker VMs (${plan.reason})` });
    } catch (e) {
        // The state may be half changed (some servers made or gone): leave the new count, so the
        // next round's preview shows what is left, and let a human look.
        await note("Warning", "VmScaleFailed", `${vms} -> ${plan.count} worker VMs: up failed`);
        return failed(log, `up failed: ${describeError(e)}; ${COUNT_KEY} stays ${plan.count}: an operator must check the stack`, plan.count);
    }
    const reason = `${vms} -> ${plan.count} worker VMs (${plan.reason})`;
    log(`done: ${reason}`);
    await note("Normal", "VmScaled", reason);
    return { action: "scaled", count: plan.count, reason };
}

/**
 * Cordons the VMs to remove, then checks again for worker pods (cordoned, nothing new lands there,
 * so this reading holds), evicts the other pods and waits for them to go, and checks once more
 * right before the `up`. Returns why it stopped (the nodes uncordoned), or undefined when drained.
 */
async function drain(d: RoundDeps, cluster: RunnerCluster, prefix: string, selector: string, indexes: number[], log: (l: string) => void): Promise<string | undefined> {
    const nodes = indexes.map((i) => `${prefix}-worker-${i}`);
    const uncordon = async (why: string) => {
        for (const n of nodes) await cluster.setUnschedulable(n, false).catch((e: Error) => log(`could not uncordon ${n}: ${e.message}`));
        log(`held: ${why}; nodes ${nodes.join(", ")} uncordoned`);
        return why;
    };
    const workerPodOn = async (): Promise<string | undefined> => {
        for (const n of nodes) {
            const p = (await cluster.podsOn(n)).find((x) => selectorMatches(selector, x.labels));
            if (p) return `worker pod ${p.namespace}/${p.name} is on ${n}`;
        }
        return undefined;
    };
    // Any error after the first cordon (the API away, a refused patch) uncordons and stops the round.
    try {
        for (const n of nodes) await cluster.setUnschedulable(n, true);
        log(`cordoned ${nodes.join(", ")}`);
        const busy = await workerPodOn();
        if (busy) return uncordon(busy);
        const deadline = Date.now() + (d.drainTimeoutMs ?? 600_000);
        for (const n of nodes) {
            for (const p of (await cluster.podsOn(n)).filter(evictable)) {
                try {
                    await cluster.evict(p);
                    log(`evicting ${p.namespace}/${p.name} from ${n}`);
                } catch (e) {
                    return uncordon(`eviction of ${p.namespace}/${p.name} refused: ${describeError(e)}`);
                }
            }
        }
        for (;;) {
            const left: string[] = [];
            for (const n of nodes) left.push(...(await cluster.podsOn(n)).filter(evictable).map((p) => `${p.namespace}/${p.name}`));
            if (!left.length) break;
            if (Date.now() > deadline) return uncordon(`pods still on the nodes after the drain timeout: ${left.slice(0, 5).join(", ")}`);
            await sleep(d.pollMs ?? 5000);
        }
        const late = await workerPodOn();
        if (late) return uncordon(late);
        log(`drained ${nodes.join(", ")}`);
        return undefined;
    } catch (e) {
        return uncordon(`drain failed: ${describeError(e)}`);
    }
}

function failed(log: (l: string) => void, reason: string, count: number): RoundOutcome {
    log(`failed: ${reason}`);
    return { action: "failed", count, reason };
}

/**
 * An error in one line: for the CLI's errors (the SDK's CommandError: "code: N\n stdout: ...\n
 * stderr: ...\n err?: ..."), the exit code and the first line of stderr or of the spawn error;
 * never the whole output. `ConcurrentUpdateError`: another update holds the stack's lock.
 */
export function describeError(e: unknown): string {
    const name = e instanceof Error ? e.name : "";
    const text = String(e instanceof Error ? e.message : e);
    const m = /^code: (-?\d+)\n stdout: [\s\S]*?\n stderr: ([\s\S]*?)\n err\?: ([\s\S]*)$/.exec(text);
    const lines = (t: string) => t.split("\n").map((l) => l.trim()).filter(Boolean);
    let what = lines(text)[0] ?? "";
    if (m) {
        // A non-zero exit reaches the SDK as execa's error (code -2): "Command failed with exit code
        // N: <the command line>" then the CLI's stderr; the command line is left out.
        const err = lines(m[2]);
        const execa = /^Command failed with exit code (\d+):/.exec(err[0] ?? "");
        what = execa ? `the pulumi CLI exited ${execa[1]}: ${err[1] ?? "no message"}` : `the pulumi CLI failed (${m[1]}): ${err[0] ?? lines(m[3])[0] ?? "no message"}`;
    }
    const lock = name === "ConcurrentUpdateError" ? "another update holds the stack (an operator's or CI's pulumi up?): " : "";
    // An invalid stack file: every problem (each names its key), not just the heading.
    if (e instanceof ConfigValidationError) return `${e.stackFile}: ${e.problems.join("; ")}`.slice(0, 1000);
    return `${lock}${what}`.slice(0, 300);
}

// --- The lock -------------------------------------------------------------------------------

export interface LockHolder {
    pid: number;
    host: string;
    since: string;
}

/**
 * Takes the runner's lock (a file created exclusively). A lock left by a process of this host that
 * no longer runs is taken over; one held by a live process, by another host, or unreadable is not
 * (undefined).
 * Returns the release function.
 */
export function takeLock(file: string, now = new Date()): (() => void) | undefined {
    const me: LockHolder = { pid: process.pid, host: os.hostname(), since: now.toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            fs.writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: "wx", mode: 0o644 });
            return () => fs.rmSync(file, { force: true });
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
            const holder = lockHolder(file);
            // Unreadable (being written, or damaged): held; an operator removes a damaged one.
            if (!holder || holder.host !== me.host || alive(holder.pid)) return undefined;
            fs.rmSync(file, { force: true });
        }
    }
    return undefined;
}

export function lockHolder(file: string): LockHolder | undefined {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as LockHolder;
    } catch {
        return undefined;
    }
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}
