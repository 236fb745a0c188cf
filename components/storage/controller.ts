/**
 * The storage controller (the paper's Figure 7): a VM serving homes and scratch over NFSv4 from
 * a Cinder data volume. The S3 archive is not served from here: every client mounts the bucket
 * itself (archive.ts), so S3 never touches this VM, its keys never reach it, and homes and
 * scratch stay up whatever S3 does.
 *
 * The data volume outlives the VM: it is `protect`ed, retained on delete, and found again by its
 * id (its /dev/disk/by-id path) by every new VM, which never formats a volume that holds a file
 * system. README "Storage controller" tells how to replace the VM without losing data.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as openstack from "@pulumi/openstack";
import { baseCloudConfig, extendCloudConfig } from "../compute/base";
import { renderCloudConfig } from "../compute/cloudinit";
import { createVms } from "../compute/group";
import { VmPlacement } from "../compute/placement";
import { sshCommandSetup } from "../compute/ssh";
import { VirtualMachine } from "../compute/vm";
import { PlannedVm } from "../config/quota";
import { FacilityConfig, FacilitySecrets } from "../config/schema";
import { vmAddress, workerBlock } from "../network/addressing";
import { storageCloudConfig, usersEnv } from "./cloudconfig";
import { LAYOUT } from "./layout";
import { BIN } from "./units";
import { NfsShare } from "./types";

export interface StorageControllerArgs {
    /** The validated stack configuration (s3, users, nodes.storage, workers' count, IAM issuer). */
    config: FacilityConfig;
    /** Needs `sshPrivateKey` (the users list and the volume growth go over SSH). */
    secrets: FacilitySecrets;
    /** The storage VM of the planned inventory. */
    vm: PlannedVm;
    placement: VmPlacement;
    /**
     * The operators' SSH entry point into the private network (the first control plane's
     * floating IP): the program installs the users list through it.
     */
    bastion: pulumi.Input<string>;
}


/**
 * Addresses allowed to mount the exports: the block reserved for workers and the submit host.
 * The block, not the current workers: exports live in the storage VM's user-data, so naming the
 * workers one by one would replace the NFS server (an outage) every time the pool is scaled.
 * Only worker VMs get addresses there (components/network/addressing.ts), and the storage
 * security group admits TCP 2049 from the worker and submit groups only.
 */
export function nfsClients(subnetCidr: string): string[] {
    return [...workerBlock(subnetCidr), vmAddress(subnetCidr, { role: "submit", index: 0 })];
}

/** The share the controller at `server` offers: homes and scratch (the S3 archive is each client's own mount). */
export function nfsShare(server: string): NfsShare {
    return { server, home: LAYOUT.home, scratch: LAYOUT.scratch };
}

export class StorageController extends pulumi.ComponentResource {
    public readonly server: VirtualMachine;
    /** Private address the NFS clients mount from. */
    public readonly nfsServer: string;
    /** What the NFS clients mount (the HTCondor pool's volumes, the submit host). */
    public readonly share: NfsShare;
    /** The Cinder volume with homes, scratch and the rclone cache. */
    public readonly dataVolume: openstack.blockstorage.Volume;
    public readonly dataVolumeAttachment: openstack.compute.VolumeAttach;
    /** Installs the users list and creates their homes and scratch areas (over SSH). */
    public readonly usersUpdate: command.remote.Command;
    /** Grows the file system online to the volume's size whenever dataVolumeGb grows (over SSH). */
    public readonly volumeGrowth: command.remote.Command;

    constructor(name: string, args: StorageControllerArgs, opts?: pulumi.ComponentResourceOptions) {
        // The server is replaced delete-first (components/compute/vm.ts): the new one takes the same
        // fixed address, and the data volume attaches to one server at a time.
        super("incant:storage:StorageController", name, {}, opts);
        const { config, vm, placement } = args;

        this.dataVolume = new openstack.blockstorage.Volume(`${name}-data`, {
            name: `${vm.name}-data`,
            description: `INCANT ${config.stack}: homes, scratch and rclone cache of ${vm.name}`,
            size: config.nodes.storage.dataVolumeGb,
            // A larger dataVolumeGb extends the volume while attached; the VM grows ext4 online.
            enableOnlineResize: true,
            metadata: { ...placement.metadata, role: "storage-data" },
        }, {
            parent: this,
            // The users' data: `pulumi destroy` refuses to touch it, and even after
            // `pulumi state unprotect` deleting it from the stack leaves it in OpenStack.
            protect: true, retainOnDelete: true,
        });

        // The user-data holds no secret and no size: only the volume id and the clients' block.
        const clients = nfsClients(placement.subnetCidr);
        [this.server] = createVms({
            vms: [vm], placement,
            userData: (v) => this.dataVolume.id.apply((volumeId) =>
                renderCloudConfig(extendCloudConfig(baseCloudConfig(v, config), storageCloudConfig({ volumeId, nfsClients: clients })))),
            // Its replacement interrupts every NFS client: protected, so it happens only after a
            // deliberate `pulumi state unprotect`.
            protect: true,
        }, this);

        this.dataVolumeAttachment = new openstack.compute.VolumeAttach(`${name}-data`, {
            instanceId: this.server.instance.id,
            volumeId: this.dataVolume.id,
        }, {
            parent: this,
            // Detach from the old server before attaching to its replacement (single attach).
            deleteBeforeReplace: true,
        });

        this.nfsServer = this.server.fixedIp;

        // The users list travels over SSH (through the bastion), not in user-data: adding a user
        // creates their directories in place instead of replacing the NFS server. The script waits
        // for the first boot and refuses to write anywhere but the mounted data volume.
        const timeout = config.readinessTimeoutSeconds;
        const ssh = sshCommandSetup({
            privateKey: args.secrets.sshPrivateKey, host: this.nfsServer, proxy: args.bastion, timeoutSeconds: timeout,
            missingKey: () => new pulumi.RunError("incant:sshPrivateKey is required (the storage controller's users are installed over SSH)"),
        });
        this.usersUpdate = new command.remote.Command(`${name}-users`, {
            connection: ssh.connection,
            create: `sudo -n ${BIN.updateUsers} ${timeout}`,
            stdin: usersEnv(config.users, config.nodes.storage),
            // A new server (same address) gets the list again.
            triggers: [this.server.instance.id],
        }, {
            parent: this, dependsOn: [this.server.instance, this.dataVolumeAttachment],
            customTimeouts: ssh.customTimeouts,
        });
        // A larger dataVolumeGb extends the attached volume in place (enableOnlineResize); then
        // ext4 grows online. Triggered by the size only: a new server grows it at boot anyway.
        this.volumeGrowth = new command.remote.Command(`${name}-grow`, {
            connection: ssh.connection,
            create: `sudo -n ${BIN.growVolume} ${config.nodes.storage.dataVolumeGb}`,
            triggers: [config.nodes.storage.dataVolumeGb],
        }, {
            parent: this, dependsOn: [this.dataVolume, this.usersUpdate],
            customTimeouts: ssh.customTimeouts,
        });
        this.share = nfsShare(this.nfsServer);
        this.registerOutputs({ nfsServer: this.nfsServer, share: this.share, dataVolumeId: this.dataVolume.id });
    }
}
