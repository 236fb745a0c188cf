/**
 * systemd units of the submit host, built as data: the NFS client mounts of home and scratch,
 * the /cvmfs bind mount with shared propagation, and the ordering of Docker after them.
 * Reference: systemd.mount(5), systemd.unit(5) (RequiresMountsFor=), mount(8) "propagation flags".
 * Serialised with renderIni (components/compute/ini.ts), like the storage controller's units.
 */
import { IniSection } from "../compute/ini";

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
 * NFS options: v4.2 over TCP only (the storage controller opens nothing but 2049), `hard` so a
 * server restart stalls I/O instead of corrupting job output, no suid or device files from a
 * share that every user writes to, and `_netdev` so systemd orders it after the network.
 */
export const NFS_OPTIONS = ["vers=4.2", "proto=tcp", "hard", "timeo=600", "retrans=2", "noatime", "nosuid", "nodev", "_netdev"];

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
                // A hung server must not hang boot forever; the readiness gate retries the start.
                TimeoutSec: "90",
            },
        },
        { name: "Install", entries: { WantedBy: "remote-fs.target" } },
    ];
}

/**
 * /cvmfs as a bind mount of itself marked `shared`: the CVMFS container's FUSE mounts under its
 * `/cvmfs:shared` bind then propagate to the host and on to every `rslave` consumer, whatever the
 * propagation of the root file system is (cvmfs.readthedocs.io, "Container Images and CernVM-FS").
 */
export function sharedBindUnit(path: string): IniSection[] {
    return [
        {
            name: "Unit", entries: {
                Description: `${path} as a shared mount point (CVMFS repositories propagate from the CVMFS container)`,
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
 * Drop-in for docker.service: the daemon (and so every container with a restart policy) starts
 * only once the shares and /cvmfs are mounted, so a container never binds an empty directory.
 */
export function dockerAfterMounts(paths: string[]): IniSection[] {
    return [{ name: "Unit", entries: { RequiresMountsFor: paths.join(" ") } }];
}
