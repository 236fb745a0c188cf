/**
 * The storage controller (the paper's Figure 7): NFS server with an S3 archive mounted by rclone.
 * Skeleton from the foundation; issue 5 adds the data volume, NFS and rclone.
 */
import * as pulumi from "@pulumi/pulumi";
import { baseCloudConfig } from "../compute/base";
import { renderCloudConfig } from "../compute/cloudinit";
import { createVms } from "../compute/group";
import { VmPlacement } from "../compute/placement";
import { PlannedVm } from "../config/quota";
import { FacilityConfig, FacilitySecrets } from "../config/schema";
import { VirtualMachine } from "../compute/vm";

export interface StorageControllerArgs {
    config: FacilityConfig;
    secrets: FacilitySecrets;
    vm: PlannedVm;
    placement: VmPlacement;
}

export class StorageController extends pulumi.ComponentResource {
    public readonly server: VirtualMachine;
    /** Private address the NFS clients mount from. */
    public readonly nfsServer: string;

    constructor(name: string, args: StorageControllerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:storage:StorageController", name, {}, opts);
        [this.server] = createVms({
            vms: [args.vm], placement: args.placement,
            userData: (vm) => renderCloudConfig(baseCloudConfig(vm, args.config)),
        }, this);
        this.nfsServer = this.server.fixedIp;
        this.registerOutputs({ nfsServer: this.nfsServer });
    }
}
