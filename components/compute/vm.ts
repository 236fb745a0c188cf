/**
 * The reusable VM building block: a Nova server booting from a Cinder volume of the configured
 * size, on the facility network with a fixed address (on its own port, or one the caller made),
 * security groups by name, optional
 * floating IP, metadata tags, and cloud-init user-data.
 *
 * Deliberately not a ComponentResource: its resources are children of the role's component
 * (KubernetesCluster, StorageController, SubmitHost), which keeps one registration per worker
 * instead of two — the program's cost grows with the number of workers (docs/benchmarks.md).
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { PlannedVm } from "../config/quota";
import { VmPlacement } from "./placement";

/** The Ubuntu cloud image's default user, which gets the operators' key (the program's SSH login). */
export const SSH_USER = "ubuntu";

export interface VirtualMachineArgs {
    vm: PlannedVm;
    /** What every VM shares; this one takes its role's security group. */
    placement: VmPlacement;
    /** Fixed private address (components/network/addressing.ts). */
    fixedIp: string;
    /**
     * A Neutron port the caller made with `fixedIp` and the role's security groups (control
     * planes: theirs also admits the API's virtual address). Without it Nova makes the port.
     */
    portId?: pulumi.Input<string>;
    /** Rendered (and possibly encoded) user-data; secret when it embeds secrets. */
    userData: pulumi.Input<string>;
    /** Anti-affinity group (workers). */
    serverGroupId?: pulumi.Input<string>;
    /** Allocate and associate a floating IP from placement.externalNetwork. */
    floatingIp?: boolean;
    /** Protect the server: replacing or deleting it then takes a deliberate `pulumi state unprotect`. */
    protect?: boolean;
}

export class VirtualMachine {
    public readonly instance: openstack.compute.Instance;
    public readonly fixedIp: string;
    public readonly floatingIp?: pulumi.Output<string>;

    /** `parent` is the role's component; the provider is inherited from it. */
    constructor(name: string, args: VirtualMachineArgs, opts: { parent: pulumi.Resource }) {
        const { vm, placement: p } = args;
        const parent = { parent: opts.parent };
        this.fixedIp = args.fixedIp;
        this.instance = new openstack.compute.Instance(name, {
            name: vm.name,
            flavorName: vm.flavor,
            keyPair: p.keyPairName,
            // A caller's port carries the groups itself (Nova refuses groups beside a given port).
            securityGroups: args.portId ? undefined : [p.securityGroupNames[vm.role]],
            availabilityZone: p.availabilityZone,
            networks: [args.portId ? { port: args.portId } : { uuid: p.networkId, fixedIpV4: args.fixedIp }],
            blockDevices: [{
                sourceType: "image",
                uuid: p.imageId,
                destinationType: "volume",
                volumeSize: vm.diskGb,
                bootIndex: 0,
                deleteOnTermination: true,
            }],
            schedulerHints: args.serverGroupId ? [{ group: args.serverGroupId }] : undefined,
            userData: args.userData,
            metadata: { ...p.metadata, role: vm.role },
            tags: Object.entries({ ...p.metadata, role: vm.role }).map(([k, v]) => `${k}=${v}`),
            // New user-data replaces the server; the stack owner sees it in the preview diff.
        }, {
            ...parent,
            dependsOn: p.dependsOn,
            // A replacement takes the same fixed address (and the same volume attachments), so the
            // old server must go first: Pulumi's default create-then-delete would fail on the port.
            deleteBeforeReplace: true,
            protect: args.protect,
        });

        if (args.floatingIp) {
            const fip = new openstack.networking.FloatingIp(`${name}-fip`, {
                pool: p.externalNetwork,
                description: `${vm.name} (${vm.role})`,
            }, parent);
            // On the server's port (networking.FloatingIpAssociate exists in every major of the
            // provider; compute.FloatingIpAssociate is gone from @pulumi/openstack 5).
            new openstack.networking.FloatingIpAssociate(`${name}-fip-assoc`, {
                floatingIp: fip.address,
                portId: this.instance.networks.apply((n) => n[0].port),
                fixedIp: args.fixedIp,
            }, parent);
            this.floatingIp = fip.address;
        }
    }
}
