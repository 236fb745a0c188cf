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
    /** A port made by the caller for each VM (see VirtualMachineArgs.portId). */
    portId?: (vm: PlannedVm, fixedIp: string) => pulumi.Input<string>;
}

export function createVms(args: VmGroupArgs, parent: pulumi.Resource): VirtualMachine[] {
    return args.vms.map((vm) => {
        const fixedIp = vmAddress(args.placement.subnetCidr, vm);
        const userData = pulumi.output(args.userData(vm, fixedIp)).apply(encodeUserData);
        return new VirtualMachine(vm.name, {
            vm, placement: args.placement, fixedIp, userData, portId: args.portId?.(vm, fixedIp),
            serverGroupId: args.serverGroupId, floatingIp: args.floatingIp, protect: args.protect,
        }, { parent });
    });
}
