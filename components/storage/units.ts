/**
 * The storage controller's systemd units, as data. Boot order:
 *
 *   incant-data-volume.service   wait for the volume, format it only if blank, fsck it
 *   srv-incant.mount             mount it (by its stable /dev/disk/by-id path)
 *   incant-user-dirs.service     grow the file system, create homes and scratch areas
 *   incant-archive.service       rclone mount of the S3 bucket (Type=notify: ready = mounted)
 *   nfs-server.service           exports, only once all of the above are up (drop-in)
 *
 * Sources: systemd.unit(5), systemd.service(5), systemd.mount(5), rclone.org/commands/rclone_mount.
 */
import { IniSection, renderIni, systemdCommand } from "../compute/ini";
import { LAYOUT, UNITS } from "./layout";

export const BIN = {
    rclone: "/usr/bin/rclone",
    fusermount: "/usr/bin/fusermount3",
    mkdir: "/usr/bin/mkdir",
    exportfs: "/usr/sbin/exportfs",
    resize2fs: "/usr/sbin/resize2fs",
    prepareVolume: `${LAYOUT.scripts}/incant-prepare-data-volume.sh`,
    userDirs: `${LAYOUT.scripts}/incant-user-dirs.sh`,
    updateUsers: `${LAYOUT.scripts}/incant-update-users`,
    stsHelper: `${LAYOUT.scripts}/incant-s3-credentials.sh`,
} as const;

export interface UnitArgs {
    /** /dev/disk/by-id path of the data volume. */
    dataDevice: string;
    /** How long the volume may take to appear, in seconds. */
    dataWaitSeconds: number;
    /** `rclone mount` arguments (rcloneMountArgs). */
    rcloneArgs: string[];
    /** Extra environment of rclone (AWS_CONFIG_FILE with STS). */
    rcloneEnvironment: Record<string, string>;
    /** S3 bucket, for the unit's description. */
    bucket: string;
}

const unit = (sections: IniSection[]): string =>
    renderIni(sections, { separator: "=", header: ["Written by INCANT (Pulumi): edits are overwritten when the VM is rebuilt."] });

export function prepareVolumeUnit(a: UnitArgs): string {
    return unit([
        {
            name: "Unit", entries: {
                Description: "INCANT data volume: wait for it, create its file system only if blank",
            },
        },
        {
            name: "Service", entries: {
                Type: "oneshot",
                RemainAfterExit: "yes",
                EnvironmentFile: LAYOUT.storageEnv,
                ExecStart: systemdCommand([BIN.prepareVolume]),
                // The script's own wait, plus time for an fsck.
                TimeoutStartSec: a.dataWaitSeconds + 600,
            },
        },
    ]);
}

export function dataMountUnit(a: UnitArgs): string {
    return unit([
        {
            name: "Unit", entries: {
                Description: `INCANT data volume at ${LAYOUT.dataMount}`,
                Requires: UNITS.prepareVolume,
                After: UNITS.prepareVolume,
                // Not part of local-fs.target: the volume is attached by the cloud, possibly after
                // boot, and waiting for it there would stall the whole boot (and is an ordering
                // cycle with the preparing service, which needs a booted system).
                DefaultDependencies: "no",
                Conflicts: "umount.target",
                Before: "umount.target",
            },
        },
        {
            name: "Mount", entries: {
                What: a.dataDevice,
                Where: LAYOUT.dataMount,
                Type: "ext4",
                Options: "defaults,noatime",
            },
        },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ]);
}

export function userDirsUnit(a: UnitArgs): string {
    return unit([
        {
            name: "Unit", entries: {
                Description: "INCANT homes and scratch areas of the facility users",
                Requires: UNITS.dataMount,
                After: UNITS.dataMount,
            },
        },
        {
            name: "Service", entries: {
                Type: "oneshot",
                RemainAfterExit: "yes",
                // The users file arrives over SSH after boot ("-": may not exist yet at first boot).
                EnvironmentFile: [LAYOUT.storageEnv, `-${LAYOUT.usersEnv}`],
                // Grow ext4 online to the volume's size (no-op when it fills it): a larger
                // nodes.storage.dataVolumeGb extends the Cinder volume in place.
                ExecStartPre: systemdCommand([BIN.resize2fs, a.dataDevice]),
                ExecStart: systemdCommand([BIN.userDirs]),
            },
        },
    ]);
}

export function archiveUnit(a: UnitArgs): string {
    const mountPoint = LAYOUT.archive;
    return unit([
        {
            name: "Unit", entries: {
                Description: `INCANT S3 archive (bucket ${a.bucket}) mounted by rclone at ${mountPoint}`,
                Documentation: "https://rclone.org/commands/rclone_mount/",
                Wants: "network-online.target",
                // The VFS cache lives on the data volume.
                Requires: UNITS.dataMount,
                After: ["network-online.target", UNITS.dataMount],
            },
        },
        {
            name: "Service", entries: {
                // rclone signals READY=1 once the FUSE mount is in place, so units ordered
                // after this one (nfs-server) never see the empty mount point.
                Type: "notify",
                Environment: Object.entries(a.rcloneEnvironment).map(([k, v]) => `${k}=${v}`),
                ExecStartPre: systemdCommand([BIN.mkdir, "-p", mountPoint]),
                ExecStart: systemdCommand([BIN.rclone, ...a.rcloneArgs]),
                // After a restart the archive is a new mount: make nfsd resolve its export again
                // (the "-" ignores failure when nfs-server is not running yet).
                ExecStartPost: `-${systemdCommand([BIN.exportfs, "-r"])}`,
                // rclone unmounts on SIGTERM; after a crash the dead mount must go, or the
                // restart fails with "transport endpoint is not connected".
                ExecStopPost: `-${systemdCommand([BIN.fusermount, "-u", "-z", mountPoint])}`,
                Restart: "on-failure",
                RestartSec: 10,
            },
        },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ]);
}

/**
 * Drop-in for Ubuntu's nfs-server.service. Requires= as well as After=: exporting the archive
 * before rclone mounted it would export the empty directory of the root disk (and, read-write,
 * let jobs fill the root disk); exporting homes before the volume is mounted likewise.
 */
export function nfsServerDropIn(): string {
    const needs = [UNITS.dataMount, UNITS.userDirs, UNITS.archive];
    return unit([{ name: "Unit", entries: { Requires: needs, After: needs } }]);
}

/** Every unit file by its path on the VM. */
export function storageUnits(a: UnitArgs): Record<string, string> {
    const dir = "/etc/systemd/system";
    return {
        [`${dir}/${UNITS.prepareVolume}`]: prepareVolumeUnit(a),
        [`${dir}/${UNITS.dataMount}`]: dataMountUnit(a),
        [`${dir}/${UNITS.userDirs}`]: userDirsUnit(a),
        [`${dir}/${UNITS.archive}`]: archiveUnit(a),
        [`${dir}/${UNITS.nfsServer}.d/incant.conf`]: nfsServerDropIn(),
    };
}
