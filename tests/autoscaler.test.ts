/**
 * The autoscaler's decisions (components/autoscaler/decide.ts): tables of pool states and what
 * the controller must do, then properties over random pools and over simulated days with a noisy
 * queue (tests/autoscaler-sim.ts): never below min, never above max or the quota, never a busy
 * worker removed, no flapping.
 */
import { strict as assert } from "assert";
import * as fc from "fast-check";
import { AutoscalingPolicy, decide, IdleJob, Memory, PoolState, StartdState, WorkerState, workersNeeded } from "../components/autoscaler/decide";
import { PoolSim } from "./autoscaler-sim";

const POLICY: AutoscalingPolicy = { enabled: true, min: 1, max: 6, scaleUpCooldownSeconds: 30, scaleDownCooldownSeconds: 120, idleSeconds: 300 };
const SHAPE = { cpus: 4, memoryMb: 7000 };

const startd = (s: Partial<StartdState> = {}): StartdState => ({
    cpus: 4, memoryMb: 7000, freeCpus: 4, freeMemoryMb: 7000, claimedSlots: 0, drainingByUs: false, drainingByOthers: false, ...s,
});
const idle = (name: string, s: Partial<StartdState> = {}, nodeIndex?: number): WorkerState => ({ name, nodeIndex, startd: startd(s) });
const busy = (name: string, cpus = 1, s: Partial<StartdState> = {}): WorkerState => idle(name, { freeCpus: 4 - cpus, freeMemoryMb: 7000 - 1000 * cpus, claimedSlots: cpus, ...s });
const jobs = (n: number, cpus = 1, memoryMb = 1000): IdleJob[] => Array.from({ length: n }, (_, i) => ({ id: `1.${i}`, cpus, memoryMb }));
const state = (workers: WorkerState[], idleJobs: IdleJob[] = [], s: Partial<PoolState> = {}): PoolState =>
    ({ now: 10_000, idleJobs, workers, workerShape: SHAPE, quotaWorkers: 18, replicas: workers.length, ...s });
const longIdle = (names: string[], since = 0): Memory => ({ idleSince: Object.fromEntries(names.map((n) => [n, since])) });

describe("autoscaler decisions (components/autoscaler/decide.ts)", () => {
    describe("tables", () => {
        interface Row { name: string; policy?: Partial<AutoscalingPolicy>; state: PoolState; memory?: Memory; want: { desired: number; drain?: string[]; undrain?: string[]; remove?: string[] } }
        const rows: Row[] = [
            { name: "no jobs, one idle worker at min: nothing", state: state([idle("w0")]), memory: longIdle(["w0"]), want: { desired: 1 } },
            { name: "9 one-core jobs, one busy worker with 3 free cores: 2 more workers (3 + 4 + 4 >= 9... 3+4=7 < 9)", state: state([busy("w0")], jobs(9)), want: { desired: 3 } },
            { name: "3 jobs fit in the free room: no new worker", state: state([busy("w0")], jobs(3)), want: { desired: 1 } },
            { name: "a 2-core job fills a worker 2 at a time (first-fit decreasing)", state: state([], jobs(5, 2, 1000), { replicas: 0 }), policy: { min: 0 }, want: { desired: 3 } },
            { name: "memory bound: 3 jobs of 3000 MB need 2 workers of 7000 MB", state: state([], jobs(3, 1, 3000), { replicas: 0 }), policy: { min: 0 }, want: { desired: 2 } },
            { name: "a burst is capped at max", state: state([busy("w0", 4)], jobs(100)), want: { desired: 6 } },
            { name: "a burst is capped by the quota below max", state: state([busy("w0", 4)], jobs(100), { quotaWorkers: 4 }), want: { desired: 4 } },
            { name: "a job larger than a worker: no scale-up for it", state: state([busy("w0", 4)], [{ id: "9.0", cpus: 8, memoryMb: 1000 }]), want: { desired: 1 } },
            { name: "pods not created yet count as room (replicas 3, 1 pod)", state: state([busy("w0", 4)], jobs(8), { replicas: 3 }), want: { desired: 3 } },
            { name: "a pod whose startd has not reported counts as a full worker", state: state([busy("w0", 4), { name: "w1" }], jobs(4)), want: { desired: 2 } },
            { name: "below min: up to min at once, cooldown or not", policy: { min: 3 }, state: state([idle("w0")]), memory: { lastChange: 9_999, idleSince: {} }, want: { desired: 3 } },
            { name: "scale-up waits for its cooldown", state: state([busy("w0", 4)], jobs(4)), memory: { lastChange: 9_990, idleSince: {} }, want: { desired: 1 } },
            { name: "idle long enough: drain (highest VM index first), not removed yet", state: state([busy("w0"), idle("w1", {}, 1), idle("w2", {}, 2)]), memory: longIdle(["w1", "w2"]), want: { desired: 3, drain: ["w2", "w1"] } },
            { name: "idle, but not for idleSeconds: nothing", state: state([busy("w0"), idle("w1")]), memory: longIdle(["w1"], 9_900), want: { desired: 2 } },
            { name: "drain stops at min", policy: { min: 2 }, state: state([idle("w0", {}, 0), idle("w1", {}, 1), idle("w2", {}, 2)]), memory: longIdle(["w0", "w1", "w2"]), want: { desired: 3, drain: ["w2"] } },
            { name: "drained and idle: removed", state: state([busy("w0"), idle("w1", { drainingByUs: true })]), memory: { lastChange: 0, idleSince: {} }, want: { desired: 1, remove: ["w1"] } },
            { name: "drained but still running a job: kept", state: state([busy("w0"), busy("w1", 1, { drainingByUs: true })]), memory: { lastChange: 0, idleSince: {} }, want: { desired: 2 } },
            { name: "removal waits for the scale-down cooldown after the drain", state: state([busy("w0"), idle("w1", { drainingByUs: true })]), memory: { lastChange: 9_950, idleSince: {} }, want: { desired: 2 } },
            { name: "drain asked (annotation) but not advertised yet: neither drained again nor removed", state: state([busy("w0"), { ...idle("w1", {}, 1), drainRequested: true }, idle("w2", {}, 2)]), memory: { lastChange: 0, idleSince: { w1: 0, w2: 9_900 } }, want: { desired: 3 } },
            { name: "idle workers the idle jobs need (not matched yet) are not drained, however long idle", state: state([busy("w0", 4), idle("w1", {}, 1), idle("w2", {}, 2)], jobs(5)), memory: longIdle(["w1", "w2"]), want: { desired: 3 } },
            { name: "of two idle workers, the one the idle jobs do not need is drained", state: state([busy("w0", 4), idle("w1", {}, 1), idle("w2", {}, 2)], jobs(3)), memory: longIdle(["w1", "w2"]), want: { desired: 3, drain: ["w2"] } },
            { name: "drained by an operator: never touched", state: state([busy("w0"), idle("w1", { drainingByOthers: true })]), memory: longIdle(["w1"]), want: { desired: 2 } },
            { name: "jobs return while a worker drains: its drain is cancelled, no new worker", state: state([busy("w0", 4), idle("w1", { drainingByUs: true })], jobs(2)), want: { desired: 2, undrain: ["w1"] } },
            { name: "more jobs than the drained worker holds: cancel and scale up", state: state([busy("w0", 4), idle("w1", { drainingByUs: true })], jobs(6)), want: { desired: 3, undrain: ["w1"] } },
            { name: "above max (max lowered): idle workers drained without waiting for idleSeconds", policy: { max: 1 }, state: state([busy("w0"), idle("w1", {}, 1)]), memory: { lastChange: 9_999, idleSince: {} }, want: { desired: 2, drain: ["w1"] } },
            { name: "above max with only busy workers: none removed", policy: { max: 1 }, state: state([busy("w0"), busy("w1")]), want: { desired: 2 } },
            { name: "kill switch: nothing changes, our drains are cancelled", policy: { enabled: false }, state: state([busy("w0", 4), idle("w1", { drainingByUs: true })], jobs(50)), want: { desired: 2, undrain: ["w1"] } },
        ];
        for (const row of rows) {
            it(row.name, () => {
                const { decision } = decide({ ...POLICY, ...row.policy }, row.state, row.memory ?? { idleSince: {} });
                assert.deepEqual(
                    { desired: decision.desired, drain: decision.drain, undrain: decision.undrain, remove: decision.remove },
                    { drain: [], undrain: [], remove: [], ...row.want }, decision.reason);
            });
        }

        it("reports jobs larger than a worker as unplaceable", () => {
            assert.deepEqual(workersNeeded([{ id: "1.0", cpus: 1, memoryMb: 9000 }, { id: "1.1", cpus: 1, memoryMb: 10 }], [], SHAPE),
                { extra: 1, unplaceable: ["1.0"], usesDrained: new Set(), uses: new Set() });
        });
    });

    describe("properties (fast-check)", () => {
        const policyArb = fc.record({
            enabled: fc.boolean(), min: fc.integer({ min: 0, max: 5 }), max: fc.integer({ min: 0, max: 12 }),
            scaleUpCooldownSeconds: fc.integer({ min: 0, max: 300 }), scaleDownCooldownSeconds: fc.integer({ min: 0, max: 900 }), idleSeconds: fc.integer({ min: 0, max: 1800 }),
        }).map((p) => ({ ...p, max: Math.max(p.min, p.max) }));
        const startdArb: fc.Arbitrary<StartdState | undefined> = fc.option(fc.record({
            used: fc.integer({ min: 0, max: 4 }), claimedSlots: fc.integer({ min: 0, max: 4 }), drainingByUs: fc.boolean(), drainingByOthers: fc.boolean(),
        }).map(({ used, claimedSlots, drainingByUs, drainingByOthers }) => startd({
            freeCpus: 4 - used, freeMemoryMb: 7000 - 1000 * used, claimedSlots: used > 0 ? Math.max(1, claimedSlots) : claimedSlots, drainingByUs, drainingByOthers: drainingByOthers && !drainingByUs,
        })), { nil: undefined });
        const poolArb = fc.record({
            startds: fc.array(startdArb, { maxLength: 14 }),
            jobs: fc.array(fc.record({ cpus: fc.integer({ min: 1, max: 6 }), memoryMb: fc.integer({ min: 100, max: 8000 }) }), { maxLength: 60 }),
            quotaWorkers: fc.integer({ min: 0, max: 20 }),
            lastChangeAgo: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
            idleAgo: fc.integer({ min: 0, max: 3000 }),
        }).map((p): { state: PoolState; memory: Memory } => {
            const workers = p.startds.map((s, i) => ({ name: `w${i}`, nodeIndex: i, startd: s }));
            return {
                state: state(workers, p.jobs.map((j, i) => ({ id: `1.${i}`, ...j })), { quotaWorkers: p.quotaWorkers }),
                memory: { lastChange: p.lastChangeAgo === undefined ? undefined : 10_000 - p.lastChangeAgo, idleSince: Object.fromEntries(workers.map((w) => [w.name, 10_000 - p.idleAgo])) },
            };
        });
        const isBusy = (w: WorkerState) => w.startd !== undefined && (w.startd.claimedSlots > 0 || w.startd.freeCpus < w.startd.cpus);

        it("never asks for fewer than min (when the cap allows it), never grows beyond max or the quota", () => {
            fc.assert(fc.property(policyArb, poolArb, (policy, { state: s, memory }) => {
                const { decision } = decide(policy, s, memory);
                const current = s.workers.length;
                const top = Math.min(policy.max, s.quotaWorkers);
                if (policy.enabled) assert.ok(decision.desired >= Math.min(policy.min, top), `below min: ${decision.desired}`);
                if (decision.desired > current) assert.ok(decision.desired <= top, `above the cap ${top}: ${decision.desired}`);
                if (decision.desired < current) assert.equal(decision.desired, current - decision.remove.length, "the count drops by the workers named");
                if (!policy.enabled) assert.equal(decision.desired, current);
            }), { numRuns: 2000 });
        });

        it("never drains or removes a busy worker, one drained by someone else, or one whose startd has not reported", () => {
            fc.assert(fc.property(policyArb, poolArb, (policy, { state: s, memory }) => {
                const { decision } = decide(policy, s, memory);
                const byName = new Map(s.workers.map((w) => [w.name, w]));
                for (const n of decision.remove) {
                    const w = byName.get(n)!;
                    assert.ok(w.startd && !isBusy(w) && w.startd.drainingByUs, `removed ${n}: ${JSON.stringify(w)}`);
                }
                for (const n of decision.drain) {
                    const w = byName.get(n)!;
                    assert.ok(w.startd && !isBusy(w) && !w.startd.drainingByOthers, `drained ${n}: ${JSON.stringify(w)}`);
                }
                for (const n of decision.undrain) assert.ok(byName.get(n)!.startd?.drainingByUs, `undrained ${n}, not ours`);
                assert.equal(decision.desired < s.workers.length, decision.remove.length > 0, "the count drops exactly when named workers go");
            }), { numRuns: 2000 });
        });

        it("over simulated hours with a noisy queue: no job killed, bounds held, no flapping, every job runs", () => {
            fc.assert(fc.property(
                policyArb.filter((p) => p.enabled && p.max >= 1),
                fc.integer({ min: 0, max: 20 }),
                fc.array(fc.record({ at: fc.integer({ min: 0, max: 359 }), n: fc.integer({ min: 0, max: 20 }), durationS: fc.integer({ min: 10, max: 1200 }), cpus: fc.integer({ min: 1, max: 4 }) }), { maxLength: 12 }),
                fc.double({ min: 0, max: 1, noNaN: true }),
                (policy, quotaWorkers, bursts, race) => {
                    let seed = 1;
                    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
                    const sim = new PoolSim({ policy, shape: SHAPE, quotaWorkers, startS: 40, cycleS: 10, raceProbability: race, random }, Math.min(policy.min, policy.max, quotaWorkers));
                    const top = Math.min(policy.max, quotaWorkers);
                    let id = 0;
                    sim.run(3600 * 2, (s) => {
                        for (const b of bursts) if (b.at * 10 === s.t) s.submit(Array.from({ length: b.n }, () => ({ id: `${id++}`, cpus: b.cpus, memoryMb: 1000 * b.cpus, durationS: b.durationS })));
                    });
                    assert.deepEqual(sim.killed, [], "a running job was on a removed worker");
                    let last: { t: number; dir: number } | undefined;
                    let prev = sim.steps[0]?.workers ?? 0;
                    for (const step of sim.steps) {
                        assert.ok(step.workers <= Math.max(top, Math.min(policy.min, top)), `t=${step.t}: ${step.workers} workers above the cap ${top}`);
                        assert.ok(step.workers >= Math.min(policy.min, top), `t=${step.t}: ${step.workers} workers below min`);
                        const dir = Math.sign(step.workers - prev);
                        if (dir !== 0) {
                            // A reversal waits for the cooldown of its direction: a scale-in never follows a
                            // scale-up sooner than scaleDownCooldownSeconds (nor the other way round).
                            if (last && last.dir !== dir) {
                                const wait = dir < 0 ? policy.scaleDownCooldownSeconds : policy.scaleUpCooldownSeconds;
                                assert.ok(step.t - last.t >= wait, `flap at t=${step.t}: ${last.dir > 0 ? "up" : "down"} at ${last.t}, then ${dir > 0 ? "up" : "down"}`);
                            }
                            last = { t: step.t, dir };
                        }
                        prev = step.workers;
                    }
                    // Liveness: with room for at least one worker, every job runs (one at a time at worst).
                    if (top >= 1) {
                        const end = sim.t + sim.jobs.reduce((sum, j) => sum + j.durationS + 10, 0) + 600;
                        while (sim.t < end && sim.jobs.some((j) => j.started === undefined)) sim.run(600);
                        assert.deepEqual(sim.jobs.filter((j) => j.started === undefined).map((j) => j.id), [], "jobs left idle");
                    }
                }), { numRuns: 60 });
        });

        it("with the negotiator matching every 60 s, a drain is never cancelled unless new jobs came (one-core jobs)", () => {
            fc.assert(fc.property(
                policyArb.filter((p) => p.enabled && p.max >= 2).map((p) => ({ ...p, idleSeconds: Math.min(p.idleSeconds, 120) })),
                fc.array(fc.record({ at: fc.integer({ min: 0, max: 200 }), n: fc.integer({ min: 1, max: 30 }), durationS: fc.integer({ min: 10, max: 900 }) }), { minLength: 1, maxLength: 6 }),
                (policy, bursts) => {
                    const sim = new PoolSim({ policy, shape: SHAPE, quotaWorkers: 18, startS: 20, cycleS: 10, negotiateEveryS: 60 });
                    let id = 0;
                    sim.run(2 * 3600, (s) => {
                        for (const b of bursts) if (b.at * 10 === s.t) s.submit(Array.from({ length: b.n }, () => ({ id: `${id++}`, cpus: 1, memoryMb: 1000, durationS: b.durationS })));
                    });
                    assert.deepEqual(sim.spuriousUndrains, [], "a drain cancelled on a queue that only shrank");
                    assert.deepEqual(sim.killed, []);
                }), { numRuns: 60 });
        });

        it("a queue that flickers faster than idleSeconds settles: the pool stops changing and keeps what the flicker needs", () => {
            const policy = { ...POLICY, min: 1, max: 6, idleSeconds: 300, scaleDownCooldownSeconds: 120 };
            fc.assert(fc.property(fc.integer({ min: 20, max: 280 }), fc.integer({ min: 1, max: 24 }), (period, n) => {
                const sim = new PoolSim({ policy, shape: SHAPE, quotaWorkers: 18, startS: 40, cycleS: 10 });
                let id = 0;
                const every = Math.ceil(period / 10) * 10;
                // n short jobs every `period` seconds (shorter than idleSeconds): a busy-idle-busy flicker.
                sim.run(3 * 3600, (s) => { if (s.t % every === 0) s.submit(Array.from({ length: n }, () => ({ id: `${id++}`, cpus: 1, memoryMb: 1000, durationS: 10 }))); });
                const late = sim.steps.filter((s) => s.t > 3600).map((s) => s.workers);
                assert.ok(late.every((w) => w === late[0]), `still changing after an hour: ${[...new Set(late)].join(",")}`);
                assert.ok(late[0] >= Math.min(6, Math.ceil(n / 4)), `settled at ${late[0]} workers for ${n} one-core jobs every ${every} s`);
            }), { numRuns: 60 });
        });
    });
});
