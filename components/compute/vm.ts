/**
 * The reusable VM building block: a Nova server booting from a Cinder volume of the configured
 * size, on the facility network with a fixed address, security groups by name, optional
 * floating IP, metadata tags, and cloud-init user-data.
 *
 * Deliberately not a ComponentResource: its resources are children of the role's component
 * (KubernetesCluster, StorageController, SubmitHost), which keeps one registration per worker
 * instead of two — the program's cost grows with the number of workers (docs/benchmarks.md).
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { PlannedVm } from "../config/quota";

/** The Ubuntu cloud image's default user, which gets the operators' key (the program's SSH login). */
export const SSH_USER = "ubuntu";

export interface VirtualMachineArgs {
    vm: PlannedVm;
    /** Glance image id (resolved by name once for all VMs). */
    imageId: pulumi.Input<string>;
    networkId: pulumi.Input<string>;
    /** Fixed private address (components/network/addressing.ts). */
    fixedIp: string;
    securityGroupNames: pulumi.Input<string>[];
    keyPairName: pulumi.Input<string>;
    /** Rendered (and possibly encoded) user-data; secret when it embeds secrets. */
    userData: pulumi.Input<string>;
    /** Anti-affinity group (workers). */
    serverGroupId?: pulumi.Input<string>;
    /** External network name: when set, a floating IP is allocated and associated. */
    floatingIpPool?: string;
    availabilityZone?: string;
    /** Key/value metadata (stack, environment, role). */
    metadata: Record<string, string>;
    /** Resources that must exist before the server boots (e.g. the router interface). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** Protect the server: replacing or deleting it then takes a deliberate `pulumi state unprotect`. */
    protect?: boolean;
}

export class VirtualMachine {
    public readonly instance: openstack.compute.Instance;
    public readonly fixedIp: string;
    public readonly floatingIp?: pulumi.Output<string>;

    /** `parent` is the role's component; the provider is inherited from it. */
    constructor(name: string, args: VirtualMachineArgs, opts: { parent: pulumi.Resource }) {
        const { vm } = args;
        const parent = { parent: opts.parent };
        this.fixedIp = args.fixedIp;
        this.instance = new openstack.compute.Instance(name, {
            name: vm.name,
            flavorName: vm.flavor,
            keyPair: args.keyPairName,
            securityGroups: args.securityGroupNames,
            availabilityZone: args.availabilityZone,
            networks: [{ uuid: args.networkId, fixedIpV4: args.fixedIp }],
            blockDevices: [{
                sourceType: "image",
                uuid: args.imageId,
                destinationType: "volume",
                volumeSize: vm.diskGb,
                bootIndex: 0,
                deleteOnTermination: true,
            }],
            schedulerHints: args.serverGroupId ? [{ group: args.serverGroupId }] : undefined,
            userData: args.userData,
            metadata: { ...args.metadata, role: vm.role },
            tags: Object.entries({ ...args.metadata, role: vm.role }).map(([k, v]) => `${k}=${v}`),
            // New user-data replaces the server; the stack owner sees it in the preview diff.
        }, {
            ...parent,
            dependsOn: args.dependsOn,
            // A replacement takes the same fixed address (and the same volume attachments), so the
            // old server must go first: Pulumi's default create-then-delete would fail on the port.
            deleteBeforeReplace: true,
            protect: args.protect,
        });

        if (args.floatingIpPool) {
            const fip = new openstack.networking.FloatingIp(`${name}-fip`, {
                pool: args.floatingIpPool,
                description: `${vm.name} (${vm.role})`,
            }, parent);
            new openstack.compute.FloatingIpAssociate(`${name}-fip-assoc`, {
                floatingIp: fip.address,
                instanceId: this.instance.id,
                fixedIp: args.fixedIp,
            }, parent);
            this.floatingIp = fip.address;
        }
    }
}
