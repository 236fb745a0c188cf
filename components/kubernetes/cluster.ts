/**
 * The Kubernetes cluster (the paper's Figure 2): control-plane and worker VMs.
 * Skeleton from the foundation; issue 3 adds kubeadm, Calico, hardening and the provider.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { baseCloudConfig } from "../compute/base";
import { renderCloudConfig } from "../compute/cloudinit";
import { createVms } from "../compute/group";
import { VmPlacement } from "../compute/placement";
import { PlannedVm } from "../config/quota";
import { FacilityConfig } from "../config/schema";
import { VirtualMachine } from "../compute/vm";

export interface KubernetesClusterArgs {
    config: FacilityConfig;
    /** Control-plane and worker VMs from the planned inventory. */
    vms: PlannedVm[];
    placement: VmPlacement;
}

export class KubernetesCluster extends pulumi.ComponentResource {
    public readonly controlPlanes: VirtualMachine[];
    public readonly workers: VirtualMachine[];
    /** The operators' address of the API server (floating IP of the first control plane). */
    public readonly apiHost: pulumi.Output<string>;

    constructor(name: string, args: KubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:kubernetes:KubernetesCluster", name, {}, opts);
        const { config } = args;
        // Soft anti-affinity spreads workers over hypervisors without failing when there are fewer.
        const workerGroup = new openstack.compute.ServerGroup(`${name}-workers`, {
            name: `${config.namePrefix}-workers`,
            policies: ["soft-anti-affinity"],
        }, { parent: this });
        const userData = (vm: PlannedVm) => renderCloudConfig(baseCloudConfig(vm, config));
        const controlPlanes = args.vms.filter((v) => v.role === "control-plane");
        // Only the first control plane gets a floating IP: operators' kubectl and the program's provider.
        this.controlPlanes = [
            ...createVms({ vms: controlPlanes.slice(0, 1), placement: args.placement, userData, floatingIp: true }, this),
            ...createVms({ vms: controlPlanes.slice(1), placement: args.placement, userData }, this),
        ];
        this.workers = createVms({
            vms: args.vms.filter((v) => v.role === "worker"), placement: args.placement, userData,
            serverGroupId: workerGroup.id,
        }, this);
        this.apiHost = this.controlPlanes[0].floatingIp!;
        this.registerOutputs({ apiHost: this.apiHost });
    }
}
