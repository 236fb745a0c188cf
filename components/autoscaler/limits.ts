/**
 * How many worker VMs the project's quota allows beside the other VMs (control planes, storage
 * controller with its data volume, submit host): the `quotaWorkers` of decide.ts. A pure function of
 * the validated config (components/config/quota.ts).
 */
import { plannedVms, quotaUse } from "../config/quota";
import { FacilityConfig } from "../config/schema";

export function quotaWorkers(config: Pick<FacilityConfig, "namePrefix" | "nodes" | "flavors" | "quota">): number {
    const others = quotaUse(plannedVms({ ...config, nodes: { ...config.nodes, workers: { ...config.nodes.workers, count: 0 } } }));
    const one = quotaUse(plannedVms({ ...config, nodes: { ...config.nodes, workers: { ...config.nodes.workers, count: 1 } } }));
    const per = { vcpus: one.vcpus - others.vcpus, ramGb: one.ramGb - others.ramGb, blockStorageGb: one.blockStorageGb - others.blockStorageGb };
    const fit = (k: keyof typeof per) => (per[k] > 0 ? Math.floor((config.quota[k] - others[k]) / per[k]) : Infinity);
    return Math.max(0, Math.min(fit("vcpus"), fit("ramGb"), fit("blockStorageGb")));
}
