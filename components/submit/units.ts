/**
 * systemd units of the submit host, built as data: the NFS client mounts of home and scratch
 * behind automount points, the /cvmfs bind mount with shared propagation, and the ordering of
 * Docker after /cvmfs only. Reference: systemd.mount(5), systemd.automount(5), systemd.unit(5)
 * (RequiresMountsFor=), mount(8) "propagation flags". Serialised with renderIni
 * (components/compute/ini.ts), like the storage controller's units.
 */
import { IniSection } from "../compute/ini";
import { NFS_CLIENT_OPTIONS } from "../storage/nfs";

export interface NfsMount {
    /** NFS server address. */
    server: string;
    /** Exported path on the server (NFSv4 namespace). */
    export: string;
    /** Mount point on the host. */
    where: string;
    description: string;
}

/**
 * NFS options: the facility's one client list (storage/nfs.ts NFS_CLIENT_OPTIONS, also the pool's
 * PVs), plus `_netdev`, which only systemd reads (it orders the mount after the network).
 */
export const NFS_OPTIONS: readonly string[] = [...NFS_CLIENT_OPTIONS, "_netdev"];

/**
 * The mount behind an automount point: no [Install] section, so nothing at boot waits for it;
 * the first access to the path mounts it (and a failed attempt is retried on the next access).
 */
export function nfsMountUnit(m: NfsMount): IniSection[] {
    return [
        {
            name: "Unit", entries: {
                Description: m.description,
                // systemd adds network-online.target and remote-fs-pre.target ordering for nfs4 itself.
                Documentation: "man:systemd.mount(5) man:nfs(5)",
            },
        },
        {
            name: "Mount", entries: {
                What: `${m.server}:${m.export}`,
                Where: m.where,
                Type: "nfs4",
                Options: NFS_OPTIONS.join(","),
                // One attempt is bounded; the automount point triggers the next one on the next access.
                TimeoutSec: "90",
            },
        },
    ];
}

/**
 * The automount point of an NFS share: active from early boot without the server, so the host
 * (Docker, the containers, the users' logins) comes up in any boot order, and the share is
 * mounted when first used, by whoever uses it first, as soon as the storage controller answers.
 * Never unmounted for idleness (a hard mount with jobs' open files must stay).
 */
export function nfsAutomountUnit(m: Pick<NfsMount, "where" | "description">): IniSection[] {
    return [
        { name: "Unit", entries: { Description: `${m.description} (automount point)`, Documentation: "man:systemd.automount(5)" } },
        { name: "Automount", entries: { Where: m.where, TimeoutIdleSec: "0" } },
        { name: "Install", entries: { WantedBy: "remote-fs.target" } },
    ];
}

/**
 * A directory as a bind mount of itself marked `shared`: FUSE mounts made under it (the CVMFS
 * container's repositories under its `/cvmfs:shared` bind, rclone's archive under /srv/incant/s3)
 * then propagate to every `rslave` consumer, whatever the propagation of the root file system
 * is, and so do their unmounts and remounts (cvmfs.readthedocs.io, "Container Images and
 * CernVM-FS"; mount(8) "propagation flags").
 */
export function sharedBindUnit(path: string, why: string): IniSection[] {
    return [
        {
            name: "Unit", entries: {
                Description: `${path} as a shared mount point (${why})`,
                Documentation: "man:mount(8)",
                DefaultDependencies: "no",
                After: "local-fs-pre.target",
                Before: "local-fs.target",
            },
        },
        { name: "Mount", entries: { What: path, Where: path, Type: "none", Options: "bind,shared" } },
        { name: "Install", entries: { WantedBy: "local-fs.target" } },
    ];
}

/**
 * Drop-in for docker.service: the daemon starts only once these local mounts are in place. Only
 * local ones (/cvmfs, the archive's shared parent): the NFS shares are automount points (ready at boot without the server) and
 * the archive is its own service, so a slow storage VM or S3 never holds Docker back.
 */
export function dockerAfterMounts(paths: string[]): IniSection[] {
    return [{ name: "Unit", entries: { RequiresMountsFor: paths.join(" ") } }];
}
