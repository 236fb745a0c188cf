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
    /** The negotiator's interval (HTCondor's NEGOTIATOR_INTERVAL, 60 s); default: every cycle. */
    negotiateEveryS?: number;
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
    /** Drains cancelled although no job was submitted since the drain (flapping on a shrinking queue). */
    spuriousUndrains: { t: number; worker: string }[] = [];
    private drainedAt = new Map<string, number>();
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
            if (d.undrain.includes(w.name)) {
                w.draining = false;
                const at = this.drainedAt.get(w.name) ?? -Infinity;
                if (!this.jobs.some((j) => j.submitted >= at)) this.spuriousUndrains.push({ t: this.t, worker: w.name });
            }
            if (d.drain.includes(w.name)) {
                w.draining = true;
                this.drainedAt.set(w.name, this.t);
            }
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
        const every = this.o.negotiateEveryS ?? dt;
        if (Math.floor(this.t / every) !== Math.floor((this.t - dt) / every)) this.negotiate();
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

/** A deterministic pseudo-random sequence (Park-Miller), so the bench's day is the same every run. */
export function seeded(seed: number): () => number {
    let s = seed % 2147483647;
    return () => ((s = (s * 16807) % 2147483647) / 2147483647);
}

export interface BurstResult { toFullS: number; toAllRunningS?: number; peakWorkers: number }

/** A burst of `jobs` one-core jobs on a pool at its minimum: seconds until every slot the cap allows is busy, and until all jobs run. */
export function burst(o: SimOptions, jobs: number, durationS: number): BurstResult {
    const sim = new PoolSim(o);
    sim.run(o.policy.idleSeconds + 600);
    const t0 = sim.t;
    sim.submit(Array.from({ length: jobs }, (_, i) => ({ id: `b${i}`, cpus: 1, memoryMb: 1000, durationS })));
    const capSlots = Math.min(o.policy.max, o.quotaWorkers) * o.shape.cpus;
    let toFullS: number | undefined;
    let toAllRunningS: number | undefined;
    while (sim.t - t0 < durationS && toAllRunningS === undefined) {
        const step = sim.cycle();
        if (toFullS === undefined && step.running >= Math.min(jobs, capSlots)) toFullS = sim.t - t0;
        if (step.idleJobs === 0) toAllRunningS = sim.t - t0;
    }
    return { toFullS: toFullS ?? NaN, toAllRunningS, peakWorkers: Math.max(...sim.steps.map((s) => s.workers)) };
}

export interface DayResult { elasticCoreHours: number; fixedCoreHours: number; jobs: number; meanWaitElasticS: number; meanWaitFixedS: number; peakWorkers: number }

/**
 * A day of five bursty users (three bursts each between 08:00 and 20:00, 20-60 one-core jobs of
 * 5-30 minutes), on the elastic pool and on a fixed pool of `max` workers: core-hours held by
 * worker pods, and the jobs' mean wait.
 */
export function day(o: SimOptions, seed = 19): DayResult {
    const rnd = seeded(seed);
    const bursts: { at: number; n: number; durationS: number }[] = [];
    for (let user = 0; user < 5; user++) {
        for (let b = 0; b < 3; b++) {
            bursts.push({ at: Math.round((8 + 12 * rnd()) * 3600 / o.cycleS) * o.cycleS, n: 20 + Math.floor(41 * rnd()), durationS: 300 + Math.floor(1500 * rnd()) });
        }
    }
    const runDay = (policy: AutoscalingPolicy, initial: number) => {
        const sim = new PoolSim({ ...o, policy }, initial);
        let id = 0;
        sim.run(24 * 3600, (s) => {
            for (const b of bursts) if (b.at === s.t) s.submit(Array.from({ length: b.n }, () => ({ id: `${id++}`, cpus: 1, memoryMb: 1000, durationS: b.durationS })));
        });
        const started = sim.jobs.filter((j) => j.started !== undefined);
        return { sim, meanWait: started.reduce((s, j) => s + (j.started! - j.submitted), 0) / Math.max(1, started.length), unstarted: sim.jobs.length - started.length };
    };
    const top = Math.min(o.policy.max, o.quotaWorkers);
    const elastic = runDay(o.policy, o.policy.min);
    // The fixed pool: max workers all day, the controller off.
    const fixed = runDay({ ...o.policy, enabled: false, min: top }, top);
    return {
        elasticCoreHours: elastic.sim.workerSeconds * o.shape.cpus / 3600,
        fixedCoreHours: fixed.sim.workerSeconds * o.shape.cpus / 3600,
        jobs: elastic.sim.jobs.length,
        meanWaitElasticS: elastic.meanWait,
        meanWaitFixedS: fixed.meanWait,
        peakWorkers: Math.max(...elastic.sim.steps.map((s) => s.workers)),
    };
}
