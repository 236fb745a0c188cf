/**
 * Where things live on the storage controller. Fixed paths: the NFS clients (PersistentVolumes,
 * the submit host) name them before the VM exists, and a replacement VM finds the same layout
 * on the same data volume.
 */
import { mountUnitName } from "../compute/ini";

/** Paths on the storage controller. */
export const LAYOUT = {
    /** Mount point of the Cinder data volume (ext4). */
    dataMount: "/srv/incant",
    /**
     * A symlink to the data volume's device, made by the preparing script once it found the volume
     * under one of its by-id names (virtio-blk or virtio-scsi). The mount names this link, not a
     * /dev path: systemd then adds no device unit to wait for (src/core/mount.c adds device
     * dependencies only for paths under /dev), so the only wait is the script's, as configured.
     */
    dataLink: "/run/incant/data-volume",
    /** Users' homes, one directory per `incant:users` entry (exported). */
    home: "/srv/incant/home",
    /** Users' scratch areas (exported). */
    scratch: "/srv/incant/scratch",
    /**
     * NFSv4 client records (nfsdcld's database): on the data volume, so a rebuilt VM knows which
     * clients may reclaim their locks and opens in the grace period after it starts.
     */
    nfsState: "/srv/incant/nfs-state",
    /**
     * The path of the former archive export. Nothing is exported there any more (issue 15: an
     * rclone FUSE mount re-exported over kernel NFS gives stale file handles); every client mounts
     * the bucket itself (components/storage/archive.ts).
     */
    archive: "/srv/archive",
    /** Parameters of the storage scripts (renderEnvFile). */
    storageEnv: "/etc/incant/storage.env",
    /**
     * The facility users (`FACILITY_USERS`), installed over SSH by the program, not through
     * user-data: adding a user must not replace the NFS server.
     */
    usersEnv: "/etc/incant/storage-users.env",
    /** Where the component's scripts are installed. */
    scripts: "/usr/local/sbin",
} as const;

/** systemd unit names (a mount unit is named after its mount point, systemd.mount(5)). */
export const UNITS = {
    prepareVolume: "incant-data-volume.service",
    dataMount: mountUnitName(LAYOUT.dataMount),
    userDirs: "incant-user-dirs.service",
    nfsServer: "nfs-server.service",
    /** nfs-utils' NFSv4 client tracking daemon (its database lives in LAYOUT.nfsState). */
    nfsdcld: "nfsdcld.service",
} as const;

/** The rclone remote name inside rclone.conf (on every archive client). */
export const RCLONE_REMOTE = "archive";

/**
 * The by-id names an attached Cinder volume may get in the guest, most likely first. Nova passes
 * the volume id as the disk's serial: virtio-blk shows its first 20 characters (FACTS.md);
 * virtio-scsi (hw_scsi_model=virtio-scsi images) shows udev's SCSI name with QEMU's vendor and
 * model, and the serial whole or cut to 20 characters depending on the QEMU version.
 */
export function volumeDevicePaths(volumeId: string): string[] {
    if (!/^[0-9a-f-]{20,}$/i.test(volumeId)) throw new Error(`not a Cinder volume id: "${volumeId}"`);
    const short = volumeId.slice(0, 20);
    return [
        `/dev/disk/by-id/virtio-${short}`,
        `/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_${volumeId}`,
        `/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_${short}`,
    ];
}

/** The virtio-blk name (the first of volumeDevicePaths). */
export function volumeDevicePath(volumeId: string): string {
    return volumeDevicePaths(volumeId)[0];
}
