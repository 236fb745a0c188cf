/**
 * The detached submit host (the paper's Figures 4-6): a Docker VM outside the Kubernetes fence.
 * Skeleton from the foundation; issue 6 adds Docker, the CVMFS and submit containers.
 */
import * as pulumi from "@pulumi/pulumi";
import { baseCloudConfig } from "../compute/base";
import { renderCloudConfig } from "../compute/cloudinit";
import { createVms } from "../compute/group";
import { VmPlacement } from "../compute/placement";
import { PlannedVm } from "../config/quota";
import { FacilityConfig, FacilitySecrets } from "../config/schema";
import { VirtualMachine } from "../compute/vm";

export interface SubmitHostArgs {
    config: FacilityConfig;
    secrets: FacilitySecrets;
    vm: PlannedVm;
    placement: VmPlacement;
}

export class SubmitHost extends pulumi.ComponentResource {
    public readonly server: VirtualMachine;
    /** Public address physicists SSH to. */
    public readonly publicIp: pulumi.Output<string>;

    constructor(name: string, args: SubmitHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:submit:SubmitHost", name, {}, opts);
        [this.server] = createVms({
            vms: [args.vm], placement: args.placement, floatingIp: true,
            userData: (vm) => renderCloudConfig(baseCloudConfig(vm, args.config)),
        }, this);
        this.publicIp = this.server.floatingIp!;
        this.registerOutputs({ publicIp: this.publicIp });
    }
}
