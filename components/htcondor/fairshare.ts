/**
 * Fair share of the pool among the facility's users (issue #17), as HTCondor configuration.
 *
 *   schedd: every job -> AccountingGroup "group_<owner>.<owner>" (a job transform: users cannot pick
 *           another's group; the attributes are protected against condor_qedit)
 *   negotiator: one accounting group per user, dynamic quota = the user's share / all shares,
 *           surplus shared (an idle pool is anybody's); usage forgotten with PRIORITY_HALFLIFE
 *   startd: the negotiator splits a worker's cores between users (consumption policy), and
 *           CLAIM_WORKLIFE, so a user with a long queue gives slots back to the negotiator
 *
 * HTCondor manual (24.0): admin-manual/user-priorities-negotiation.rst ("Accounting Groups",
 * "Hierarchical Group Quotas": GROUP_NAMES, GROUP_QUOTA_DYNAMIC_<group>, GROUP_ACCEPT_SURPLUS),
 * admin-manual/configuration-macros.rst (PRIORITY_HALFLIFE, CLAIM_WORKLIFE, JOB_TRANSFORM_NAMES,
 * PROTECTED_JOB_ATTRS), classads/transforms.rst. Without preemption (HTCondor's default, kept: an
 * analysis job is never killed for another user's), fair share acts when a slot is negotiated
 * again: at the end of a claim, hence the bounded claim worklife.
 */
import { FacilityUser, HTCondorConfig } from "../config/schema";
import type { ConfigEntry } from "./config";

/** What the fair-share settings depend on. */
export interface FairShareSettings {
    users: Pick<FacilityUser, "name" | "share">[];
    priorityHalfLifeHours: HTCondorConfig["priorityHalfLifeHours"];
    claimWorklifeSeconds: HTCondorConfig["claimWorklifeSeconds"];
}

/** The name of the transform that puts every job in its owner's group. */
export const ACCOUNTING_TRANSFORM = "IncantAccountingGroup";

/** Job attributes the transform sets, which users may not edit afterwards. */
export const ACCOUNTING_ATTRIBUTES = ["AcctGroup", "AcctGroupUser", "AccountingGroup"] as const;

/**
 * The accounting group of a user: `group_<name>`, with `-` (allowed in login names, not in the
 * configuration variable names GROUP_QUOTA_DYNAMIC_<group>) as `_`. The job transform computes the
 * same name from the job's Owner.
 */
export function accountingGroup(user: string): string {
    return `group_${user.replace(/-/g, "_")}`;
}

/** Every user's group and dynamic quota (share / sum of shares; a missing share counts 1). */
export function groupQuotas(users: FairShareSettings["users"]): { group: string; user: string; quota: number }[] {
    const total = users.reduce((sum, u) => sum + (u.share ?? 1), 0);
    const seen = new Map<string, string>();
    return users.map((u) => {
        const group = accountingGroup(u.name);
        const other = seen.get(group);
        if (other !== undefined) throw new Error(`users ${other} and ${u.name} would share the accounting group ${group}: rename one`);
        seen.set(group, u.name);
        // Rounded down, so that the quotas never add up to more than the whole pool.
        return { group, user: u.name, quota: Math.floor(((u.share ?? 1) / total) * 10_000) / 10_000 };
    });
}

/**
 * The negotiator's settings (central manager): surplus, priority half-life. The groups and quotas
 * depend on the users: they are in the users' configuration (groupQuotaSettings, users.ts), which
 * changes live without restarting the central manager.
 */
export function negotiatorFairShare(s: Omit<FairShareSettings, "users">): ConfigEntry[] {
    return [
        { comment: "Fair share (components/htcondor/fairshare.ts): one accounting group per user, a dynamic quota each\n(the user's share, in users.conf), surplus shared so that an idle pool is anybody's." },
        // Usage halves every half-life: yesterday's heavy user is not penalised for long.
        { key: "PRIORITY_HALFLIFE", value: s.priorityHalfLifeHours * 3600 },
        // Every user starts equal (HTCondor's default factor, written so that it is seen).
        { key: "DEFAULT_PRIO_FACTOR", value: 1000 },
    ];
}

/** One accounting group per user with its dynamic quota, surplus shared; nothing without users (GROUP_NAMES empty would be an error in waiting). */
export function groupQuotaSettings(users: FairShareSettings["users"]): ConfigEntry[] {
    const quotas = groupQuotas(users);
    return quotas.length === 0 ? [] : [
        { key: "GROUP_NAMES", value: quotas.map((q) => q.group) },
        ...quotas.map((q): ConfigEntry => ({ key: `GROUP_QUOTA_DYNAMIC_${q.group}`, value: q.quota })),
        { key: "GROUP_ACCEPT_SURPLUS", value: true },
    ];
}

/**
 * The schedd's settings: the transform that sets every job's group from its Owner (whatever the
 * submit file said: a user cannot charge another's group) and protects the attributes.
 */
export function scheddFairShare(): ConfigEntry[] {
    const group = 'strcat("group_", replaceAll("-", Owner, "_"))';
    return [
        { comment: "Fair share: every job is charged to its owner's accounting group (components/htcondor/fairshare.ts)." },
        { key: "JOB_TRANSFORM_NAMES", value: `$(JOB_TRANSFORM_NAMES) ${ACCOUNTING_TRANSFORM}` },
        // The ClassAd form of a transform (classads/transforms.rst): eval_set_<attr> evaluates in the job ad.
        { key: `JOB_TRANSFORM_${ACCOUNTING_TRANSFORM}`,
            value: `[ eval_set_AcctGroup = ${group}; eval_set_AcctGroupUser = Owner; eval_set_AccountingGroup = strcat(${group}, ".", Owner); ]` },
        // Only the queue super user may change them once committed (condor_qedit by the owner is refused).
        { key: "PROTECTED_JOB_ATTRS", value: `$(PROTECTED_JOB_ATTRS) ${ACCOUNTING_ATTRIBUTES.join(" ")}` },
    ];
}

/**
 * The startd's settings. By default the negotiator hands a whole partitionable slot to the first
 * matched submitter and its schedd splits it for that submitter's other jobs (leftovers): every core
 * of a worker goes to one user, and the user who matched first keeps them (seen on the loopback
 * pool: a second user's job waited while the first user's queue refilled all three cores). A
 * consumption policy makes the negotiator split the slot itself, core by core, between submitters in
 * one cycle, charging each the cores it gets (HTCondor manual, ep-policy-configuration.rst,
 * "Consumption Policies"); the schedd no longer claims leftovers.
 */
export function startdFairShare(s: Pick<FairShareSettings, "claimWorklifeSeconds">): ConfigEntry[] {
    return [
        { comment: "Fair share: the negotiator splits the partitionable slot between users (consumption policy,\nCONSUMPTION_CPUS/MEMORY/DISK at HTCondor's defaults), no schedd-side leftovers, and a claim stops\ntaking its user's next job after CLAIM_WORKLIFE seconds (HTCondor's default 1200)." },
        { key: "CONSUMPTION_POLICY", value: true },
        { key: "CLAIM_PARTITIONABLE_LEFTOVERS", value: false },
        { key: "CLAIM_WORKLIFE", value: s.claimWorklifeSeconds },
    ];
}
