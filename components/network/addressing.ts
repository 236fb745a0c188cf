/**
 * Fixed private addresses of every VM, derived from the subnet CIDR. Known before any VM exists,
 * so kubeadm configs, certificates, NFS exports and HTCondor settings can name them directly.
 *
 *   .1          router (gateway)
 *   .2 - .9     DHCP allocation pool (Neutron's DHCP ports)
 *   .10 - .12   control plane
 *   .19         the Kubernetes API address that moves between control planes (3 control planes)
 *   .20         storage controller
 *   .21         submit host
 *   .32 - ...   workers, contiguous
 */
import { cidrSize, hostAddress, parseCidr, rangeToCidrs } from "../config/cidr";
import { PlannedVm, VmRole } from "../config/quota";

const FIRST: Record<VmRole, number> = { "control-plane": 10, storage: 20, submit: 21, worker: 32 };

/** Addresses reserved ahead of the workers (the workers' first offset). */
export const WORKER_OFFSET = FIRST.worker;

/** The API's virtual address (keepalived), outside the DHCP pool and every VM's address. */
const API_VIP_OFFSET = 19;

export function apiVipAddress(cidr: string): string {
    return hostAddress(cidr, API_VIP_OFFSET);
}

export function gatewayAddress(cidr: string): string {
    return hostAddress(cidr, 1);
}

export function dhcpPool(cidr: string): { start: string; end: string } {
    return { start: hostAddress(cidr, 2), end: hostAddress(cidr, 9) };
}

export function vmAddress(cidr: string, vm: Pick<PlannedVm, "role" | "index">): string {
    return hostAddress(cidr, FIRST[vm.role] + vm.index);
}

/**
 * The whole block reserved for workers (offset 32 to the end of the subnet), whatever their
 * count: what a peer trusts for "any worker" without changing when the pool is scaled.
 */
export function workerBlock(cidr: string): string[] {
    const c = parseCidr(cidr);
    if (!c) throw new Error(`not a CIDR: ${cidr}`);
    return rangeToCidrs(hostAddress(cidr, WORKER_OFFSET), cidrSize(c) - WORKER_OFFSET);
}
