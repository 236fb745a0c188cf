/**
 * Creates the VMs of one role from the planned inventory, each with its fixed address and its
 * own user-data. Role components call it; index.ts never creates servers itself.
 */
import * as pulumi from "@pulumi/pulumi";
import { PlannedVm } from "../config/quota";
import { vmAddress } from "../network/addressing";
import { encodeUserData } from "./cloudinit";
import { VmPlacement } from "./placement";
import { VirtualMachine } from "./vm";

export interface VmGroupArgs {
    vms: PlannedVm[];
    placement: VmPlacement;
    /** The user-data of one VM (given its fixed address); secret when it embeds secrets. */
    userData: (vm: PlannedVm, fixedIp: string) => pulumi.Input<string>;
    serverGroupId?: pulumi.Input<string>;
    /** Give each VM a floating IP. */
    floatingIp?: boolean;
    /** Protect the servers (the storage controller: its replacement interrupts every NFS client). */
    protect?: boolean;
}

export function createVms(args: VmGroupArgs, parent: pulumi.Resource): VirtualMachine[] {
    const p = args.placement;
    return args.vms.map((vm) => {
        const fixedIp = vmAddress(p.subnetCidr, vm);
        const userData = pulumi.output(args.userData(vm, fixedIp)).apply(encodeUserData);
        return new VirtualMachine(vm.name, {
            vm, fixedIp, userData,
            imageId: p.imageId,
            networkId: p.networkId,
            keyPairName: p.keyPairName,
            securityGroupNames: [p.securityGroupNames[vm.role]],
            serverGroupId: args.serverGroupId,
            floatingIpPool: args.floatingIp ? p.externalNetwork : undefined,
            availabilityZone: p.availabilityZone,
            metadata: p.metadata,
            dependsOn: p.dependsOn,
            protect: args.protect,
        }, { parent });
    });
}
