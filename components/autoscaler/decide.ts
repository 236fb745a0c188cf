/**
 * The autoscaler's decisions, as pure functions: what the pool looks like (the schedd's idle jobs,
 * the collector's startds, the worker pods) in, how many worker pods there should be and which
 * idle workers to drain, undrain or remove out. No I/O here: controller.ts reads the pool and
 * carries a decision out; tests/autoscaler.test.ts checks the rules below as tables and properties.
 *
 * The rules, in the order they are applied:
 * - kill switch (`enabled: false`): change nothing; undo the drains this controller started;
 * - never fewer than `min` worker pods nor more than `cap` = min(max, what the quota leaves);
 * - scale up by the workers that the idle jobs need beyond the free room of the existing ones
 *   (first-fit decreasing on CPUs and memory), at most once per `scaleUpCooldownSeconds`;
 * - scale in only when no idle job needs room, only workers idle for `idleSeconds`, at most once
 *   per `scaleDownCooldownSeconds` after any change: drain first (the startd accepts no new job),
 *   remove in a later cycle once the drained startd still runs nothing;
 * - a worker running a job (or claimed for one) is never removed, and a worker whose startd has
 *   not reported yet is never removed (it may be starting);
 * - when demand returns, drains in progress are cancelled before any new worker is asked for.
 */

/** `incant:autoscaling`, as the controller reads it (components/config/schema.ts AutoscalingConfig). */
export interface AutoscalingPolicy {
    /** The kill switch: false = observe and report only. */
    enabled: boolean;
    /** Worker pods, at least. */
    min: number;
    /** Worker pods, at most (also bounded by the quota, see `cap` in PoolState). */
    max: number;
    /** Seconds after any change before the next scale-up. */
    scaleUpCooldownSeconds: number;
    /** Seconds after any change before the next scale-in step (drain or removal). */
    scaleDownCooldownSeconds: number;
    /** A worker must have run nothing for this long before it is drained. */
    idleSeconds: number;
}

/** One idle job's requests (condor_q: RequestCpus, RequestMemory in MB). */
export interface IdleJob {
    id: string;
    cpus: number;
    memoryMb: number;
}

/** What the collector says about one worker's startd (its partitionable slot and its dynamic slots). */
export interface StartdState {
    /** The partitionable slot's TotalSlotCpus / TotalSlotMemory. */
    cpus: number;
    memoryMb: number;
    /** Unclaimed room of the partitionable slot (its Cpus / Memory). */
    freeCpus: number;
    freeMemoryMb: number;
    /** Dynamic slots (claimed or running a job). Any > 0 makes the worker busy. */
    claimedSlots: number;
    /** Draining, or drained, by this controller (condor_drain -reason, see controller.ts). */
    drainingByUs: boolean;
    /** Draining for another reason (an operator's condor_drain, defrag): left alone. */
    drainingByOthers: boolean;
}

/** One worker pod and, once it has advertised, its startd. */
export interface WorkerState {
    /** Pod name (what the startd advertises as its Machine: the pod's host name). */
    name: string;
    /** Index of the worker VM the pod runs on (incant-<stack>-worker-<i>), when known. */
    nodeIndex?: number;
    startd?: StartdState;
    /** Drain asked for (pod annotated) but not yet advertised by the startd: counts as draining, not removable. */
    drainRequested?: boolean;
}

/** What the controller remembers between cycles (lost on restart: timers then start again, the safe side). */
export interface Memory {
    /** Unix seconds of the last change of the worker count (or drain started), by this controller. */
    lastChange?: number;
    /** Since when each worker has run nothing, by pod name. */
    idleSince: Record<string, number>;
}

export interface PoolState {
    /** Unix seconds. */
    now: number;
    idleJobs: IdleJob[];
    workers: WorkerState[];
    /** The room of one new worker (its pod's requests = the partitionable slot a new startd advertises). */
    workerShape: { cpus: number; memoryMb: number };
    /** The most workers the quota allows (one worker pod per worker VM; components/config/quota.ts). */
    quotaWorkers: number;
    /** The worker count asked for so far (the Deployment's replicas); pods not created yet count as starting workers. */
    replicas: number;
}

export interface Decision {
    /** Worker pods wanted (the Deployment's replicas). */
    desired: number;
    /** Workers to drain now (idle, not draining yet). */
    drain: string[];
    /** Workers whose drain (by us) to cancel: demand came back, or the kill switch is on. */
    undrain: string[];
    /** Drained, idle workers to remove (pod-deletion-cost lowest, then `desired` drops by as many). */
    remove: string[];
    /** Idle jobs no empty worker could run (too large): never a reason to scale. */
    unplaceable: string[];
    /** One line, for the Event and the log. */
    reason: string;
}

/** The workers the quota and `max` allow, and at least `min` when they allow it. */
export function cap(policy: AutoscalingPolicy, quotaWorkers: number): number {
    return Math.max(0, Math.min(policy.max, quotaWorkers));
}

const busy = (w: WorkerState) => w.startd !== undefined && (w.startd.claimedSlots > 0 || w.startd.freeCpus < w.startd.cpus);

/** Idle timers: a worker that runs nothing keeps its start time, one that runs something (or has not advertised) has none. */
export function updateIdle(memory: Memory, workers: WorkerState[], now: number): Record<string, number> {
    const idleSince: Record<string, number> = {};
    for (const w of workers) {
        if (w.startd && !busy(w)) idleSince[w.name] = memory.idleSince[w.name] ?? now;
    }
    return idleSince;
}

/**
 * New workers the idle jobs need: first-fit decreasing (by CPUs, then memory) into the free room
 * of the workers that accept jobs (not draining for another reason; ours count, since their drain
 * would be cancelled) and of pods whose startd has not reported yet (a full worker each), then into
 * new workers of `shape`. Jobs larger than an empty worker are returned as unplaceable.
 */
export function workersNeeded(jobs: IdleJob[], workers: WorkerState[], shape: { cpus: number; memoryMb: number }, replicas = workers.length): { extra: number; unplaceable: string[]; usesDrained: Set<string>; uses: Set<string> } {
    const notCreated = Array.from({ length: Math.max(0, replicas - workers.length) }, () => ({ cpus: shape.cpus, memoryMb: shape.memoryMb, drained: false }));
    const bins: { name?: string; cpus: number; memoryMb: number; drained: boolean }[] = [...notCreated, ...workers
        .filter((w) => !w.startd?.drainingByOthers)
        .map((w) => w.startd
            ? { name: w.name, cpus: w.startd.freeCpus, memoryMb: w.startd.freeMemoryMb, drained: w.startd.drainingByUs || Boolean(w.drainRequested) }
            : { name: w.name, cpus: shape.cpus, memoryMb: shape.memoryMb, drained: false })];
    // Workers being drained are filled last: a new job goes to a worker that stays if it can.
    bins.sort((a, b) => Number(a.drained) - Number(b.drained));
    const sorted = [...jobs].sort((a, b) => b.cpus - a.cpus || b.memoryMb - a.memoryMb || a.id.localeCompare(b.id));
    const unplaceable: string[] = [];
    const usesDrained = new Set<string>();
    const uses = new Set<string>();
    let extra = 0;
    for (const job of sorted) {
        if (job.cpus > shape.cpus || job.memoryMb > shape.memoryMb) {
            unplaceable.push(job.id);
            continue;
        }
        let bin = bins.find((b) => b.cpus >= job.cpus && b.memoryMb >= job.memoryMb);
        if (!bin) {
            bin = { cpus: shape.cpus, memoryMb: shape.memoryMb, drained: false };
            bins.push(bin);
            extra++;
        }
        bin.cpus -= job.cpus;
        bin.memoryMb -= job.memoryMb;
        if (bin.drained && bin.name) usesDrained.add(bin.name);
        if (bin.name) uses.add(bin.name);
    }
    return { extra, unplaceable, usesDrained, uses };
}

/**
 * Which idle workers go first: the highest VM index first (the VMs Pulumi would remove when the
 * worker count drops, docs/elasticity.md), then those idle the longest, then by name.
 */
function removalOrder(a: WorkerState, b: WorkerState, idleSince: Record<string, number>): number {
    return (b.nodeIndex ?? -1) - (a.nodeIndex ?? -1) || (idleSince[a.name] ?? 0) - (idleSince[b.name] ?? 0) || a.name.localeCompare(b.name);
}

/** One control cycle: the decision and the memory for the next cycle. */
export function decide(policy: AutoscalingPolicy, state: PoolState, memory: Memory): { decision: Decision; memory: Memory } {
    const { now, workers } = state;
    const current = Math.max(state.replicas, workers.length);
    const idleSince = updateIdle(memory, workers, now);
    const ours = workers.filter((w) => w.startd?.drainingByUs || w.drainRequested).map((w) => w.name);
    const keep = (reason: string, extra: Partial<Decision> = {}): { decision: Decision; memory: Memory } => ({
        decision: { desired: current, drain: [], undrain: [], remove: [], unplaceable: [], reason, ...extra },
        memory: { lastChange: memory.lastChange, idleSince },
    });
    if (!policy.enabled) return keep("autoscaling disabled (kill switch): no change", { undrain: ours });

    const top = cap(policy, state.quotaWorkers);
    const floor = Math.min(policy.min, top);
    const need = workersNeeded(state.idleJobs, workers, state.workerShape, current);
    const since = memory.lastChange === undefined ? Infinity : now - memory.lastChange;
    const changed = (d: Decision) => ({ decision: d, memory: { lastChange: now, idleSince } });

    // Demand is back for a worker we are draining: cancel that drain first (it costs nothing).
    const undrain = ours.filter((n) => need.usesDrained.has(n) || need.extra > 0);
    if (current < floor) {
        return changed({ desired: floor, drain: [], undrain, remove: [], unplaceable: need.unplaceable, reason: `below the minimum: ${current} -> ${floor}` });
    }
    if (need.extra > 0 || undrain.length > 0) {
        const target = Math.min(top, current + need.extra);
        if (target > current && since >= policy.scaleUpCooldownSeconds) {
            return changed({ desired: target, drain: [], undrain, remove: [], unplaceable: need.unplaceable,
                reason: `${state.idleJobs.length - need.unplaceable.length} idle job(s) need ${need.extra} more worker(s): ${current} -> ${target}${target < current + need.extra ? ` (capped at ${top})` : ""}` });
        }
        const why = target <= current ? `at the cap of ${top}` : `scale-up cooldown (${since} s of ${policy.scaleUpCooldownSeconds} s)`;
        return keep(need.extra > 0 ? `${need.extra} more worker(s) needed, ${why}` : "demand returned: drains cancelled", { undrain, unplaceable: need.unplaceable });
    }

    // Scale in. Above the cap (max or quota lowered), idle workers go without waiting for idleSeconds.
    const over = Math.max(0, current - top);
    const removable = workers
        .filter((w) => w.startd?.drainingByUs && !busy(w))
        .sort((a, b) => removalOrder(a, b, idleSince));
    const canRemove = Math.max(0, current - floor);
    if (removable.length > 0 && canRemove > 0 && (since >= policy.scaleDownCooldownSeconds || over > 0)) {
        const remove = removable.slice(0, canRemove).map((w) => w.name);
        return changed({ desired: current - remove.length, drain: [], undrain: [], remove, unplaceable: need.unplaceable,
            reason: `${remove.length} drained idle worker(s) removed: ${current} -> ${current - remove.length}` });
    }
    const draining = ours.length;
    const candidates = workers
        // A worker whose free room the idle jobs need is not drained, however long it has been idle:
        // the negotiator has not matched them yet (it cycles every NEGOTIATOR_INTERVAL, 60 s).
        .filter((w) => w.startd && !w.startd.drainingByUs && !w.drainRequested && !w.startd.drainingByOthers && !busy(w) && !need.uses.has(w.name)
            && (over > 0 || now - (idleSince[w.name] ?? now) >= policy.idleSeconds))
        .sort((a, b) => removalOrder(a, b, idleSince));
    const toDrain = candidates.slice(0, Math.max(0, canRemove - draining)).map((w) => w.name);
    if (toDrain.length > 0 && (since >= policy.scaleDownCooldownSeconds || over > 0)) {
        return changed({ desired: current, drain: toDrain, undrain: [], remove: [], unplaceable: need.unplaceable,
            reason: `${toDrain.length} worker(s) idle for ${policy.idleSeconds} s or more: draining before removal` });
    }
    return keep(need.unplaceable.length ? `${need.unplaceable.length} idle job(s) larger than a worker: no change` : "no change", { unplaceable: need.unplaceable });
}
