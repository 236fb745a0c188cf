/**
 * The autoscaler's control loop: read the pool (collector ads, worker pods), decide (decide.ts),
 * act through a backend (kube.ts in the cluster; the loopback harness in tests/pool/autoscale.test.ts),
 * report (Events, Prometheus metrics). One cycle at a time; an error ends the cycle, changes
 * nothing further and is counted (the next cycle reads the pool afresh).
 */
import { AutoscalingPolicy, Decision, decide, Memory, PoolState, WorkerState } from "./decide";
import { idleJobsFromSubmitters, parseAds, SCHEDD_QUERY, startdsByMachine, STARTD_QUERY, SUBMITTER_QUERY } from "./pool-reader";

/** A worker pod as the backend sees it. */
export interface WorkerPod {
    name: string;
    /** Index of the worker VM it runs on, when scheduled. */
    nodeIndex?: number;
    /** The drain annotation is set (config.ts DRAIN). */
    drainAnnotated: boolean;
}

/** Where worker pods live: the Kubernetes Deployment, or the loopback harness's pods. */
export interface WorkerBackend {
    /** The worker pods that are not terminating, and the replicas asked for. */
    list(): Promise<{ pods: WorkerPod[]; replicas: number }>;
    /** Sets or clears the drain annotation of a pod. */
    setDrain(pod: string, drain: boolean): Promise<void>;
    /** Removes exactly the named (drained, idle) pods and leaves `replicas` asked for. */
    scaleIn(remove: string[], replicas: number): Promise<void>;
    /** Asks for `replicas` worker pods. */
    scaleOut(replicas: number): Promise<void>;
    /** A Kubernetes Event on the worker Deployment (or the harness's log). */
    event(type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

/** condor_status with the given arguments, its standard output (the controller's own HTCondor client configuration). */
export type CondorStatus = (args: string[]) => Promise<string>;

export interface ControllerOptions {
    policy: AutoscalingPolicy;
    /** A worker pod's requests: what a new startd advertises. */
    workerShape: { cpus: number; memoryMb: number };
    /** Worker VMs the quota allows (components/config/quota.ts workerQuota). */
    quotaWorkers: number;
    backend: WorkerBackend;
    condorStatus: CondorStatus;
    /** Unix seconds (default: the system clock). */
    clock?: () => number;
    /** A line per decision that changed something, and per error (main.ts: the pod's log). */
    log?: (line: string) => void;
}

/** Counters and gauges of the controller, rendered by metrics.ts. */
export interface ControllerMetrics {
    enabled: number;
    min: number;
    max: number;
    quotaWorkers: number;
    workers: number;
    desired: number;
    busyWorkers: number;
    drainingWorkers: number;
    idleJobs: number;
    idleCpus: number;
    unplaceableJobs: number;
    scaleOuts: number;
    scaleIns: number;
    drains: number;
    removedWorkers: number;
    cycles: number;
    cycleErrors: number;
    lastCycleSeconds: number;
}

export class Controller {
    private memory: Memory = { idleSince: {} };
    readonly metrics: ControllerMetrics;
    lastDecision?: Decision;

    constructor(readonly o: ControllerOptions) {
        this.metrics = {
            enabled: o.policy.enabled ? 1 : 0, min: o.policy.min, max: o.policy.max, quotaWorkers: o.quotaWorkers,
            workers: 0, desired: 0, busyWorkers: 0, drainingWorkers: 0, idleJobs: 0, idleCpus: 0, unplaceableJobs: 0,
            scaleOuts: 0, scaleIns: 0, drains: 0, removedWorkers: 0, cycles: 0, cycleErrors: 0, lastCycleSeconds: 0,
        };
    }

    private now(): number {
        return Math.floor(this.o.clock ? this.o.clock() : Date.now() / 1000);
    }

    /** Reads the pool as decide() needs it. */
    async read(): Promise<PoolState> {
        const [{ pods, replicas }, startdText, submitterText, scheddText] = await Promise.all([
            this.o.backend.list(), this.o.condorStatus(STARTD_QUERY), this.o.condorStatus(SUBMITTER_QUERY), this.o.condorStatus(SCHEDD_QUERY),
        ]);
        const startds = startdsByMachine(parseAds(startdText));
        const workers: WorkerState[] = pods.map((p) => {
            const startd = startds.get(p.name);
            // Ours only when both agree: the pod is annotated and its startd advertises the drain.
            if (startd) startd.drainingByUs = startd.drainingByUs && p.drainAnnotated;
            return { name: p.name, nodeIndex: p.nodeIndex, startd, drainRequested: p.drainAnnotated && !startd?.drainingByUs };
        });
        return {
            now: this.now(), idleJobs: idleJobsFromSubmitters(parseAds(submitterText), this.o.workerShape, parseAds(scheddText)), workers,
            workerShape: this.o.workerShape, quotaWorkers: this.o.quotaWorkers, replicas,
        };
    }

    /** One cycle: read, decide, act, report. Returns the decision (undefined after an error). */
    async cycle(): Promise<Decision | undefined> {
        const m = this.metrics;
        m.cycles++;
        try {
            const state = await this.read();
            const { decision, memory } = decide(this.o.policy, state, this.memory);
            this.memory = memory;
            const current = Math.max(state.replicas, state.workers.length);
            await this.act(decision, current);
            this.lastDecision = decision;
            if (decision.drain.length || decision.undrain.length || decision.remove.length || decision.desired !== current) this.o.log?.(decision.reason);
            m.workers = state.workers.length;
            m.desired = decision.desired;
            m.busyWorkers = state.workers.filter((w) => w.startd && (w.startd.claimedSlots > 0 || w.startd.freeCpus < w.startd.cpus)).length;
            m.drainingWorkers = state.workers.filter((w) => w.startd?.drainingByUs || w.drainRequested).length - decision.undrain.length + decision.drain.length;
            m.idleJobs = state.idleJobs.length;
            m.idleCpus = state.idleJobs.reduce((s, j) => s + j.cpus, 0);
            m.unplaceableJobs = decision.unplaceable.length;
            m.lastCycleSeconds = this.now();
            return decision;
        } catch (e) {
            m.cycleErrors++;
            this.o.log?.(`cycle failed: ${(e as Error).message}`);
            await this.o.backend.event("Warning", "AutoscalerError", `cycle failed, nothing more changed: ${(e as Error).message}`).catch(() => undefined);
            return undefined;
        }
    }

    /** Carries a decision out: cancel drains, start drains, remove drained idle pods, then ask for more. */
    private async act(d: Decision, current: number): Promise<void> {
        const b = this.o.backend;
        for (const pod of d.undrain) await b.setDrain(pod, false);
        for (const pod of d.drain) await b.setDrain(pod, true);
        if (d.drain.length) {
            this.metrics.drains += d.drain.length;
            await b.event("Normal", "Draining", `${d.drain.join(", ")}: ${d.reason}`);
        }
        if (d.undrain.length) await b.event("Normal", "DrainCancelled", `${d.undrain.join(", ")}: ${d.reason}`);
        if (d.remove.length) {
            await b.scaleIn(d.remove, d.desired);
            this.metrics.scaleIns++;
            this.metrics.removedWorkers += d.remove.length;
            await b.event("Normal", "ScaledIn", `${d.remove.join(", ")} removed: ${d.reason}`);
        } else if (d.desired > current) {
            await b.scaleOut(d.desired);
            this.metrics.scaleOuts++;
            await b.event("Normal", "ScaledOut", d.reason);
        }
    }

    /** Cycles every `intervalSeconds` until `signal` aborts. */
    async run(intervalSeconds: number, signal: AbortSignal): Promise<void> {
        while (!signal.aborted) {
            await this.cycle();
            await new Promise<void>((resolve) => {
                const t = setTimeout(resolve, intervalSeconds * 1000);
                signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
            });
        }
    }
}
