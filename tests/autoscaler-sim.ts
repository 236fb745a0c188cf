/**
 * A simulated pool for the autoscaler's properties and `npm run bench` (scripts/bench.ts): jobs
 * arrive, a negotiator matches idle jobs to the free room of startds that accept jobs, pods take
 * `startS` to advertise their startd, and the real decide() of components/autoscaler runs every
 * `cycleS`. The simulation counts what would be a killed job: a removed worker that ran one.
 */
import { AutoscalingPolicy, Decision, decide, IdleJob, Memory, PoolState, WorkerState } from "../components/autoscaler/decide";

export interface SimJob extends IdleJob {
    durationS: number;
    submitted: number;
    started?: number;
    worker?: string;
    done?: number;
}

interface SimWorker {
    name: string;
    nodeIndex: number;
    created: number;
    draining: boolean;
    jobs: SimJob[];
}

export interface SimOptions {
    policy: AutoscalingPolicy;
    shape: { cpus: number; memoryMb: number };
    quotaWorkers: number;
    /** Seconds from pod creation to its startd in the collector. */
    startS: number;
    /** The controller's cycle. */
    cycleS: number;
    /** Negotiator runs between the controller's reading and its acting, in this fraction of cycles (the race). */
    raceProbability?: number;
    random?: () => number;
}

export interface SimStep {
    t: number;
    workers: number;
    busyWorkers: number;
    idleJobs: number;
    running: number;
    decision: Decision;
}

export class PoolSim {
    t = 0;
    workers: SimWorker[] = [];
    jobs: SimJob[] = [];
    memory: Memory = { idleSince: {} };
    killed: SimJob[] = [];
    steps: SimStep[] = [];
    /** Worker-seconds while a pod existed. */
    workerSeconds = 0;
    private next = 0;

    constructor(readonly o: SimOptions, initial = o.policy.min) {
        for (let i = 0; i < initial; i++) this.addWorker(-o.startS);
    }

    private addWorker(at = this.t): void {
        const used = new Set(this.workers.map((w) => w.nodeIndex));
        let nodeIndex = 0;
        while (used.has(nodeIndex)) nodeIndex++;
        this.workers.push({ name: `worker-${this.next++}`, nodeIndex, created: at, draining: false, jobs: [] });
    }

    submit(jobs: Omit<SimJob, "submitted">[]): void {
        for (const j of jobs) this.jobs.push({ ...j, submitted: this.t });
    }

    private advertised = (w: SimWorker) => this.t - w.created >= this.o.startS;

    private free(w: SimWorker): { cpus: number; memoryMb: number } {
        return {
            cpus: this.o.shape.cpus - w.jobs.reduce((s, j) => s + j.cpus, 0),
            memoryMb: this.o.shape.memoryMb - w.jobs.reduce((s, j) => s + j.memoryMb, 0),
        };
    }

    /** The negotiator: idle jobs in submission order into startds that accept jobs. */
    negotiate(): void {
        for (const j of this.jobs.filter((x) => x.started === undefined)) {
            const w = this.workers.find((x) => !x.draining && this.advertised(x) && this.free(x).cpus >= j.cpus && this.free(x).memoryMb >= j.memoryMb);
            if (!w) continue;
            j.started = this.t;
            j.worker = w.name;
            w.jobs.push(j);
        }
    }

    state(): PoolState {
        const workers: WorkerState[] = this.workers.map((w) => {
            if (!this.advertised(w)) return { name: w.name, nodeIndex: w.nodeIndex };
            const free = this.free(w);
            return {
                name: w.name, nodeIndex: w.nodeIndex,
                startd: { cpus: this.o.shape.cpus, memoryMb: this.o.shape.memoryMb, freeCpus: free.cpus, freeMemoryMb: free.memoryMb,
                    claimedSlots: w.jobs.length, drainingByUs: w.draining, drainingByOthers: false },
            };
        });
        const idleJobs = this.jobs.filter((j) => j.started === undefined).map(({ id, cpus, memoryMb }) => ({ id, cpus, memoryMb }));
        return { now: this.t, idleJobs, workers, workerShape: this.o.shape, quotaWorkers: this.o.quotaWorkers, replicas: this.workers.length };
    }

    /** Carries a decision out as controller.ts does (undrain, drain, remove the named pods, then create up to desired). */
    apply(d: Decision): void {
        for (const w of this.workers) {
            if (d.undrain.includes(w.name)) w.draining = false;
            if (d.drain.includes(w.name)) w.draining = true;
        }
        for (const name of d.remove) {
            const w = this.workers.find((x) => x.name === name)!;
            this.killed.push(...w.jobs);
            this.workers = this.workers.filter((x) => x !== w);
        }
        while (this.workers.length < d.desired) this.addWorker();
    }

    /** One controller cycle: jobs finish, the negotiator runs, the controller reads, (maybe the negotiator again), acts. */
    cycle(): SimStep {
        const dt = this.o.cycleS;
        this.t += dt;
        this.workerSeconds += this.workers.length * dt;
        for (const w of this.workers) {
            for (const j of w.jobs) if (j.started! + j.durationS <= this.t) j.done = this.t;
            w.jobs = w.jobs.filter((j) => j.done === undefined);
        }
        this.negotiate();
        const state = this.state();
        const { decision, memory } = decide(this.o.policy, state, this.memory);
        this.memory = memory;
        // The race: a match between the controller's reading and its drain (the drain is graceful:
        // the job keeps running, and the worker stays until it is idle again).
        if ((this.o.random ?? Math.random)() < (this.o.raceProbability ?? 0)) this.negotiate();
        this.apply(decision);
        const step: SimStep = {
            t: this.t, workers: this.workers.length, busyWorkers: this.workers.filter((w) => w.jobs.length > 0).length,
            idleJobs: this.jobs.filter((j) => j.started === undefined).length, running: this.jobs.filter((j) => j.started !== undefined && j.done === undefined).length, decision,
        };
        this.steps.push(step);
        return step;
    }

    run(seconds: number, each?: (sim: PoolSim) => void): void {
        const end = this.t + seconds;
        while (this.t < end) {
            each?.(this);
            this.cycle();
        }
    }
}
