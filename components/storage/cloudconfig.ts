/**
 * The storage controller's cloud-init: packages, every file of the NFS server (write_files), and
 * the commands that start it. A pure function of typed inputs; the component calls it inside an
 * apply once the volume id is known. It holds no secret and no size: S3 credentials never reach
 * this VM (the archive is mounted by its clients, archive.ts), and a larger data volume is grown
 * over SSH (incant-grow-data-volume), so neither a key rotation nor a resize replaces the VM.
 *
 * Every file is written with `defer: true`, after the packages are installed: the package
 * scripts start nfs-server on installation, and must not find the drop-in that ties it to a
 * volume that is not ready yet.
 */
import * as path from "path";
import { CloudConfig, readScript, renderEnvFile, WriteFile } from "../compute/cloudinit";
import { FacilityUser, StorageNode } from "../config/schema";
import { facilityUserEntry, SCRATCH_PROJECT_OFFSET } from "./quotas";
import { LAYOUT, UNITS, volumeDevicePaths } from "./layout";
import { nfsExports, renderExports, renderNfsConf } from "./nfs";
import { BIN, storageUnits } from "./units";

const SCRIPTS = path.join(__dirname, "scripts");

/** How long the preparing service waits for the cloud to attach the volume, in seconds. */
export const DATA_WAIT_SECONDS = 900;

export interface StorageCloudConfigArgs {
    /** Cinder id of the data volume: its /dev/disk/by-id names derive from it. */
    volumeId: string;
    /** Addresses or CIDRs allowed to mount the exports: the workers and the submit host. */
    nfsClients: string[];
}

/** The storage scripts' parameters (/etc/incant/storage.env). */
export function storageEnv(a: Pick<StorageCloudConfigArgs, "volumeId">): string {
    return renderEnvFile({
        DATA_DEVICES: volumeDevicePaths(a.volumeId).join(" "),
        DATA_LINK: LAYOUT.dataLink,
        DATA_LABEL: "incant-data",
        DATA_WAIT_SECONDS: DATA_WAIT_SECONDS,
        DATA_MOUNT: LAYOUT.dataMount,
        HOME_ROOT: LAYOUT.home,
        SCRATCH_ROOT: LAYOUT.scratch,
        NFS_STATE_DIR: LAYOUT.nfsState,
        SCRATCH_PROJECT_OFFSET,
    });
}

/** The facility users for the users' directories script (LAYOUT.usersEnv): "name:uid:homeGb:scratchGb ...". */
export function usersEnv(users: FacilityUser[], storage: Pick<StorageNode, "homeQuotaGb" | "scratchQuotaGb">): string {
    return renderEnvFile({ FACILITY_USERS: users.map((u) => facilityUserEntry(storage, u)).join(" ") });
}

/** Every file the storage controller receives, by path. */
export function storageFiles(a: StorageCloudConfigArgs): WriteFile[] {
    const file = (p: string, content: string, permissions = "0644"): WriteFile => ({ path: p, content, permissions, owner: "root:root", defer: true });
    const units = storageUnits({ dataWaitSeconds: DATA_WAIT_SECONDS });
    return [
        file(LAYOUT.storageEnv, storageEnv(a)),
        file(BIN.prepareVolume, readScript(SCRIPTS, "prepare-data-volume.sh"), "0755"),
        file(BIN.userDirs, readScript(SCRIPTS, "user-dirs.sh"), "0755"),
        file(BIN.updateUsers, readScript(SCRIPTS, "update-users.sh"), "0755"),
        file(BIN.growVolume, readScript(SCRIPTS, "grow-data-volume.sh"), "0755"),
        ...Object.entries(units).map(([p, text]) => file(p, text)),
        file("/etc/exports.d/incant.exports", renderExports(nfsExports({ home: LAYOUT.home, scratch: LAYOUT.scratch, clients: a.nfsClients }))),
        file("/etc/nfs.conf.d/incant.conf", renderNfsConf(LAYOUT.nfsState)),
    ];
}

/** The storage role's part of the cloud-config (merged into the base with extendCloudConfig). */
export function storageCloudConfig(a: StorageCloudConfigArgs): CloudConfig {
    return {
        // quota: setquota for the per-user project quotas (quotas.ts).
        packages: ["nfs-kernel-server", "quota"],
        write_files: storageFiles(a),
        runcmd: [
            ["systemctl", "daemon-reload"],
            // NFSv4-only: nothing needs the portmapper or the NFSv3 lock daemon (nfs.conf(5)).
            ["systemctl", "mask", "--now", "rpcbind.service", "rpcbind.socket", "rpc-statd.service"],
            ["systemctl", "enable", UNITS.dataMount, UNITS.nfsServer],
            // Pulls in the volume and the users' directories first (drop-in); blocks until the
            // cloud has attached the volume. nfsdcld restarts with its storagedir on the volume.
            ["systemctl", "restart", UNITS.nfsdcld, UNITS.nfsServer],
        ],
    };
}
