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
    /** Users' homes, one directory per `incant:users` entry (exported). */
    home: "/srv/incant/home",
    /** Users' scratch areas (exported). */
    scratch: "/srv/incant/scratch",
    /** rclone's VFS cache: on the data volume, so uploads pending at a crash resume after it. */
    rcloneCache: "/srv/incant/rclone-cache",
    /** The S3 archive mounted by rclone (FUSE), re-exported over NFS. */
    archive: "/srv/archive",
    /** rclone configuration (absolute, given with --config). */
    rcloneConfig: "/etc/rclone/rclone.conf",
    /** AWS shared config naming the STS credential helper (s3.credentials "sts"). */
    awsConfig: "/etc/rclone/aws-config",
    /** Parameters of the storage scripts (renderEnvFile). */
    storageEnv: "/etc/incant/storage.env",
    /**
     * The facility users (`FACILITY_USERS`), installed over SSH by the program, not through
     * user-data: adding a user must not replace the NFS server.
     */
    usersEnv: "/etc/incant/storage-users.env",
    /** Parameters of the STS credential helper. */
    stsEnv: "/etc/incant/s3-sts.env",
    /** The IAM client secret used by the STS helper (mode 0600). */
    iamClientSecret: "/etc/incant/iam-client-secret",
    /** Where the component's scripts are installed. */
    scripts: "/usr/local/sbin",
} as const;

/** systemd unit names (a mount unit is named after its mount point, systemd.mount(5)). */
export const UNITS = {
    prepareVolume: "incant-data-volume.service",
    dataMount: mountUnitName(LAYOUT.dataMount),
    userDirs: "incant-user-dirs.service",
    archive: "incant-archive.service",
    nfsServer: "nfs-server.service",
} as const;

/** The rclone remote name inside rclone.conf. */
export const RCLONE_REMOTE = "archive";

/**
 * The stable device path of an attached Cinder volume: Nova passes the volume id as the virtio
 * serial, which the kernel truncates to 20 characters (FACTS.md; the `device` attribute of the
 * attachment is only a hint and may differ inside the guest).
 */
export function volumeDevicePath(volumeId: string): string {
    if (!/^[0-9a-f-]{20,}$/i.test(volumeId)) throw new Error(`not a Cinder volume id: "${volumeId}"`);
    return `/dev/disk/by-id/virtio-${volumeId.slice(0, 20)}`;
}
