/**
 * The facility's VM inventory and the quota check against the project's resource pool.
 * Pure functions of the validated config; used by validation, the VM components and the summary.
 */
import { FacilityConfig } from "./schema";

export type VmRole = "control-plane" | "worker" | "storage" | "submit";

/** One VM the program will create, with the resources it draws from the pool. */
export interface PlannedVm {
    /** Resource and host name, e.g. "incant-dev-worker-3". */
    name: string;
    role: VmRole;
    /** 0-based index inside its role. */
    index: number;
    flavor: string;
    vcpus: number;
    ramGb: number;
    /** Boot volume size. */
    diskGb: number;
    /** Extra Cinder volumes (the storage controller's data volume). */
    extraVolumeGb: number;
}

export function plannedVms(config: Pick<FacilityConfig, "namePrefix" | "nodes" | "flavors">): PlannedVm[] {
    const { nodes, flavors, namePrefix } = config;
    const vm = (role: VmRole, index: number, flavor: string, diskGb: number, extraVolumeGb = 0, suffix = `-${index}`): PlannedVm => ({
        name: `${namePrefix}-${role}${suffix}`, role, index, flavor,
        vcpus: flavors[flavor]?.vcpus ?? 0, ramGb: flavors[flavor]?.ramGb ?? 0, diskGb, extraVolumeGb,
    });
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    return [
        ...range(nodes.controlPlane.count).map((i) => vm("control-plane", i, nodes.controlPlane.flavor, nodes.controlPlane.diskGb)),
        ...range(nodes.workers.count).map((i) => vm("worker", i, nodes.workers.flavor, nodes.workers.diskGb)),
        vm("storage", 0, nodes.storage.flavor, nodes.storage.diskGb, nodes.storage.dataVolumeGb, ""),
        vm("submit", 0, nodes.submit.flavor, nodes.submit.diskGb, 0, ""),
    ];
}

export interface QuotaUse {
    vcpus: number;
    ramGb: number;
    blockStorageGb: number;
}

export function quotaUse(vms: PlannedVm[]): QuotaUse {
    return vms.reduce((sum, v) => ({
        vcpus: sum.vcpus + v.vcpus,
        ramGb: sum.ramGb + v.ramGb,
        blockStorageGb: sum.blockStorageGb + v.diskGb + v.extraVolumeGb,
    }), { vcpus: 0, ramGb: 0, blockStorageGb: 0 });
}

/** One message per overrun resource, naming the quota key. Empty when the facility fits. */
export function quotaProblems(config: Pick<FacilityConfig, "namePrefix" | "nodes" | "flavors" | "quota">): string[] {
    const use = quotaUse(plannedVms(config));
    const labels: Record<keyof QuotaUse, string> = { vcpus: "vCPU", ramGb: "GB of RAM", blockStorageGb: "GB of block storage" };
    return (Object.keys(labels) as (keyof QuotaUse)[])
        .filter((k) => use[k] > config.quota[k])
        .map((k) => `quota.${k} is exceeded: the VMs and volumes need ${use[k]} ${labels[k]} but the pool has ${config.quota[k]}`);
}

/**
 * How many worker VMs the project's quota allows beside the other VMs (control planes, storage
 * controller with its data volume, submit host): the bound of incant:autoscaling.max and of the VM runner.
 */
export function quotaWorkers(config: Pick<FacilityConfig, "namePrefix" | "nodes" | "flavors" | "quota">): number {
    const others = quotaUse(plannedVms({ ...config, nodes: { ...config.nodes, workers: { ...config.nodes.workers, count: 0 } } }));
    const one = quotaUse(plannedVms({ ...config, nodes: { ...config.nodes, workers: { ...config.nodes.workers, count: 1 } } }));
    const per = { vcpus: one.vcpus - others.vcpus, ramGb: one.ramGb - others.ramGb, blockStorageGb: one.blockStorageGb - others.blockStorageGb };
    const fit = (k: keyof typeof per) => (per[k] > 0 ? Math.floor((config.quota[k] - others[k]) / per[k]) : Infinity);
    return Math.max(0, Math.min(fit("vcpus"), fit("ramGb"), fit("blockStorageGb")));
}
