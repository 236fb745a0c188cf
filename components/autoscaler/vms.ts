/**
 * The worker VM count the VM runner sets (vm-runner.ts; docs/elasticity.md, "Worker VMs within
 * the quota"): a pure function of what it reads with the stack's admin kubeconfig.
 *
 * - Worker pods are one per worker VM: the VMs wanted are the worker pods wanted (the Deployment's
 *   replicas, which the controller sets), never fewer than `keep` (workers 0 and 1 hold the
 *   schedd's and the central manager's local volumes), never more than the quota allows.
 * - Pulumi removes the highest indexes when the count drops: a VM goes only once no worker pod
 *   runs on it (the controller drains and removes pods from the highest index first).
 */

export interface VmState {
    /** The worker Deployment's replicas (what the controller wants). */
    replicas: number;
    /** `incant:nodes.workers.count` now. */
    vms: number;
    /** Worker VM indexes that run a worker pod (not terminating). */
    busyIndexes: number[];
    /** Worker VMs the quota allows (components/config/quota.ts quotaWorkers). */
    quotaWorkers: number;
    /** VMs never removed (workers 0..keep-1). */
    keep: number;
}

export interface VmPlan {
    /** The count to set, or the current one when nothing may change yet. */
    count: number;
    /** The VMs to cordon and drain before `pulumi up` lowers the count. */
    drain: number[];
    reason: string;
}

export function planVms(s: VmState): VmPlan {
    const want = Math.min(s.quotaWorkers, Math.max(s.keep, s.replicas));
    if (want > s.vms) return { count: want, drain: [], reason: `${s.replicas} worker pods wanted: ${s.vms} -> ${want} VMs` };
    if (want === s.vms) return { count: s.vms, drain: [], reason: "no change" };
    // Scale in only as far as the highest VMs are free of worker pods.
    let count = s.vms;
    while (count > want && !s.busyIndexes.includes(count - 1)) count--;
    const drain = Array.from({ length: s.vms - count }, (_, i) => count + i);
    return count === s.vms
        ? { count, drain: [], reason: `VM ${s.vms - 1} still runs a worker pod: no VM removed yet` }
        : { count, drain, reason: `${s.vms} -> ${count} VMs (worker pods wanted: ${s.replicas})` };
}
