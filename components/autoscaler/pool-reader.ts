/**
 * What the autoscaler reads from the pool, and how: `condor_status -json` at the collector only,
 * with its own IDTOKEN (scope READ, components/htcondor/tokens.ts TOKEN_ROLES.autoscaler). The
 * schedd cannot verify IDTOKENs (only the collector holds the POOL key, config.ts), so the idle
 * jobs come from the submitter ads the schedd advertises: IdleJobs and WeightedIdleJobs (idle jobs
 * weighted by their requested CPUs, HTCondor's default SLOT_WEIGHT = Cpus). Memory requests are not
 * in those ads: a job is taken to need the worker's memory per core (docs/elasticity.md).
 * Pure parsers here; controller.ts runs the commands.
 */
import { DRAIN } from "../htcondor/config";
import { IdleJob, StartdState } from "./decide";

/** The attributes asked for (`-attributes`), so the answer stays small. */
export const STARTD_ATTRIBUTES = ["Name", "Machine", "SlotType", "Cpus", "Memory", "TotalSlotCpus", "TotalSlotMemory", "State", "Activity", DRAIN.attribute] as const;
export const SUBMITTER_ATTRIBUTES = ["Name", "IdleJobs", "WeightedIdleJobs", "RunningJobs"] as const;

/**
 * The condor_status command lines (arguments after the program name). Slot ads are the default
 * query; `-startd` would return the startd daemons' own ads, which carry no slot at all.
 */
export const STARTD_QUERY = ["-json", "-attributes", STARTD_ATTRIBUTES.join(",")];
export const SUBMITTER_QUERY = ["-submitters", "-json", "-attributes", SUBMITTER_ATTRIBUTES.join(",")];
/** The schedd's own ad: its idle job total, refreshed at every update it sends (a submitter's ad can linger). */
export const SCHEDD_QUERY = ["-schedd", "-json", "-attributes", "Name,TotalIdleJobs"];

type Ad = Record<string, unknown>;

/** condor_status -json prints a JSON array, or nothing at all when no ad matched. */
export function parseAds(text: string): Ad[] {
    const t = text.trim();
    if (!t) return [];
    const v: unknown = JSON.parse(t);
    if (!Array.isArray(v) || !v.every((a) => typeof a === "object" && a !== null && !Array.isArray(a))) throw new Error("condor_status -json did not print a list of ads");
    return v as Ad[];
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * Startd state by Machine (a worker pod's host name = its pod name): the partitionable slot gives
 * the size and the free room, each dynamic slot is a claim. A startd draining for another reason
 * (condor_drain by an operator, defrag) shows as State "Drained" on its partitionable slot.
 */
export function startdsByMachine(ads: Ad[]): Map<string, StartdState> {
    const out = new Map<string, StartdState>();
    const get = (machine: string) => {
        let s = out.get(machine);
        if (!s) {
            s = { cpus: 0, memoryMb: 0, freeCpus: 0, freeMemoryMb: 0, claimedSlots: 0, drainingByUs: false, drainingByOthers: false };
            out.set(machine, s);
        }
        return s;
    };
    for (const ad of ads) {
        const machine = typeof ad.Machine === "string" ? ad.Machine.split(".")[0] : undefined;
        // Only slot ads say what a startd holds; anything else (a daemon ad) is not read as a slot.
        if (!machine || typeof ad.SlotType !== "string") continue;
        const s = get(machine);
        if (ad.SlotType === "Dynamic") {
            s.claimedSlots++;
        } else {
            // Partitionable (or, should one appear, a static slot: busy unless Unclaimed).
            s.cpus += num(ad.TotalSlotCpus ?? ad.Cpus);
            s.memoryMb += num(ad.TotalSlotMemory ?? ad.Memory);
            s.freeCpus += num(ad.Cpus);
            s.freeMemoryMb += num(ad.Memory);
            if (ad.SlotType !== "Partitionable" && ad.State !== "Unclaimed") s.claimedSlots++;
            if (ad[DRAIN.attribute] === true) s.drainingByUs = true;
            if (ad.State === "Drained") s.drainingByOthers = true;
        }
    }
    return out;
}

/**
 * Idle jobs from the submitter ads: IdleJobs jobs per submitter sharing its WeightedIdleJobs CPUs
 * as evenly as whole CPUs allow (at least 1 each); memory: the worker's memory per core.
 */
export function idleJobsFromSubmitters(ads: Ad[], shape: { cpus: number; memoryMb: number }, scheddAds?: Ad[]): IdleJob[] {
    const jobs: IdleJob[] = [];
    const perCore = shape.memoryMb / Math.max(1, shape.cpus);
    for (const ad of ads) {
        const n = Math.max(0, Math.floor(num(ad.IdleJobs)));
        if (n === 0) continue;
        const cpus = Math.max(n, Math.round(num(ad.WeightedIdleJobs) || n));
        const name = typeof ad.Name === "string" ? ad.Name : "submitter";
        for (let i = 0; i < n; i++) {
            const c = Math.floor(cpus / n) + (i < cpus % n ? 1 : 0);
            jobs.push({ id: `${name}#${i}`, cpus: c, memoryMb: Math.floor(c * perCore) });
        }
    }
    // A submitter's ad stays in the collector after its jobs left the idle state until the schedd
    // sends it again or it expires (seen on the loopback pool: 2 idle jobs shown minutes after all
    // had completed); the schedds' own totals bound them.
    if (scheddAds && scheddAds.length > 0) {
        const total = scheddAds.reduce((s, a) => s + Math.max(0, Math.floor(num(a.TotalIdleJobs))), 0);
        return jobs.slice(0, total);
    }
    return jobs;
}
