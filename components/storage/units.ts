/**
 * The storage controller's systemd units, as data. Boot order:
 *
 *   incant-data-volume.service   wait for the volume (any by-id name), format it only if blank,
 *                                fsck it, link it at /run/incant/data-volume
 *   srv-incant.mount             mount it (through the link: no device job and its 90 s timeout)
 *   incant-user-dirs.service     grow the file system, create homes, scratch and the NFS state dir
 *   nfsdcld.service              NFSv4 client records, on the data volume (drop-in)
 *   nfs-server.service           exports homes and scratch once all of the above are up (drop-in)
 *
 * No unit here touches S3: the archive is mounted by each client itself (archive.ts), so an S3
 * outage, a wrong key or an rclone restart never reaches the NFS server (issue 15).
 * Sources: systemd.unit(5), systemd.service(5), systemd.mount(5), nfsdcld(8).
 */
import { IniSection, renderIni, systemdCommand } from "../compute/ini";
import { LAYOUT, UNITS } from "./layout";

export const BIN = {
    resize2fs: "/usr/sbin/resize2fs",
    prepareVolume: `${LAYOUT.scripts}/incant-prepare-data-volume.sh`,
    userDirs: `${LAYOUT.scripts}/incant-user-dirs.sh`,
    updateUsers: `${LAYOUT.scripts}/incant-update-users`,
    growVolume: `${LAYOUT.scripts}/incant-grow-data-volume`,
} as const;

export interface UnitArgs {
    /** How long the volume may take to appear, in seconds (the preparing script's wait). */
    dataWaitSeconds: number;
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

export function dataMountUnit(): string {
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
                // The preparing script's link, not /dev/disk/by-id/...: see LAYOUT.dataLink.
                What: LAYOUT.dataLink,
                Where: LAYOUT.dataMount,
                Type: "ext4",
                // prjquota: enforce the per-user project quotas (quotas.ts, ext4(5)).
                Options: "defaults,noatime,prjquota",
            },
        },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ]);
}

export function userDirsUnit(): string {
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
                // Grow ext4 online to the volume's size at boot (no-op when it fills it); while
                // running, the program grows it over SSH (incant-grow-data-volume).
                ExecStartPre: systemdCommand([BIN.resize2fs, LAYOUT.dataLink]),
                ExecStart: systemdCommand([BIN.userDirs]),
            },
        },
    ]);
}

/** Drop-in for nfsdcld.service: its database (storagedir in nfs.conf) is on the data volume. */
export function nfsdcldDropIn(): string {
    const needs = [UNITS.dataMount, UNITS.userDirs];
    return unit([{ name: "Unit", entries: { Requires: needs, After: needs } }]);
}

/**
 * Drop-in for nfs-server.service. Requires= as well as After=: exporting homes before the volume
 * is mounted would export the empty directories of the root disk. Nothing S3-related: homes and
 * scratch are served whatever the object store does.
 */
export function nfsServerDropIn(): string {
    const needs = [UNITS.dataMount, UNITS.userDirs];
    return unit([{ name: "Unit", entries: { Requires: needs, After: [...needs, UNITS.nfsdcld] } }]);
}

/** Every unit file by its path on the VM. */
export function storageUnits(a: UnitArgs): Record<string, string> {
    const dir = "/etc/systemd/system";
    return {
        [`${dir}/${UNITS.prepareVolume}`]: prepareVolumeUnit(a),
        [`${dir}/${UNITS.dataMount}`]: dataMountUnit(),
        [`${dir}/${UNITS.userDirs}`]: userDirsUnit(),
        [`${dir}/${UNITS.nfsdcld}.d/incant.conf`]: nfsdcldDropIn(),
        [`${dir}/${UNITS.nfsServer}.d/incant.conf`]: nfsServerDropIn(),
    };
}
