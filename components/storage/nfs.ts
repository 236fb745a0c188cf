/**
 * The NFS server's files: the exports table (exports(5)) and the server configuration
 * (nfs.conf(5)) that makes it NFSv4-only on TCP 2049, the one port the security groups open.
 */
import { renderIni } from "../compute/ini";

/** One client entry of an export line: a host or CIDR and its options. */
export interface ExportClient {
    /** An address or CIDR; never a wildcard. */
    host: string;
    /** exports(5) options, in order. */
    options: string[];
}

export interface NfsExport {
    /** Absolute path on the server. */
    path: string;
    /** Who may mount it, each with its options. */
    clients: ExportClient[];
}

export interface ExportsArgs {
    /** Exported paths (components/storage/layout.ts). */
    home: string;
    scratch: string;
    /** The NFS clients: the workers' address block and the submit host's address. */
    clients: string[];
}

/**
 * `sync`: a write is on disk before the server answers (jobs lose nothing when the server dies);
 * `root_squash`: root on a client is nobody here; `no_subtree_check`: home and scratch are
 * subtrees of one file system, and subtree checking breaks renames across them (exports(5)).
 */
const COMMON = ["sync", "root_squash", "no_subtree_check"];

/** The exports as data: every path to the same explicit client list, never `*`. */
export function nfsExports(args: ExportsArgs): NfsExport[] {
    if (args.clients.length === 0) throw new Error("an export needs at least one client");
    for (const host of args.clients) {
        if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(host) || host.endsWith("/0")) {
            throw new Error(`NFS clients must be explicit addresses or CIDRs (got "${host}")`);
        }
    }
    const to = (options: string[]): ExportClient[] => args.clients.map((host) => ({ host, options }));
    return [
        { path: args.home, clients: to(["rw", ...COMMON]) },
        { path: args.scratch, clients: to(["rw", ...COMMON]) },
    ];
}

/** /etc/exports.d/incant.exports: one line per path, `path host(opts) host(opts)`. */
export function renderExports(exports: NfsExport[]): string {
    const lines = exports.map((e) => {
        if (!e.path.startsWith("/") || /\s/.test(e.path)) throw new Error(`bad export path "${e.path}"`);
        return [e.path, ...e.clients.map((c) => `${c.host}(${c.options.join(",")})`)].join(" ");
    });
    return ["# Written by INCANT (Pulumi): NFSv4 exports of the storage controller.", ...lines].join("\n") + "\n";
}

/**
 * NFSv4 lease and grace times, in seconds (nfs.conf(5) [nfsd] lease-time, grace-time; the
 * kernel's defaults, set explicitly so they are a decision). The lease is how long a silent
 * client keeps its locks and opens; the grace period after a server (re)start is how long the
 * server refuses new opens and locks while clients reclaim theirs. Clients mount `hard`: during
 * the grace period their I/O waits, it does not fail. Shorter times would cut the pause after a
 * reboot but make a client whose network hiccups for longer than the lease lose its locks.
 */
export const NFS_LEASE_SECONDS = 90;
export const NFS_GRACE_SECONDS = 90;

/**
 * The one NFS client option list (nfs(5)) for every client: the pool's PersistentVolumes
 * (mountOptions) and the submit host's mount units. NFSv4.2 over TCP (the server offers 4.1+ on
 * 2049 only); `hard` so a server restart pauses I/O instead of failing it (job output is never
 * half-written by an error the job does not expect); timeo/retrans are nfs(5)'s TCP defaults,
 * spelled out; no set-uid programs and no device files from a share every user writes to.
 * components/htcondor/manifests.ts should use this list for its PVs (nfsReservedVolume).
 */
export const NFS_CLIENT_OPTIONS: readonly string[] = ["vers=4.2", "proto=tcp", "hard", "timeo=600", "retrans=2", "nosuid", "nodev", "noatime"];

/**
 * /etc/nfs.conf.d/incant.conf: NFSv4.1+ over TCP only. v2/v3 need rpcbind, mountd and statd on
 * extra ports; v4.0 makes the server open callback connections back to the clients. v4.1 and
 * v4.2 run everything, callbacks included, over the one client connection to 2049. nfsdcld keeps
 * its client records on the data volume (`stateDir`), so they survive a rebuilt VM.
 */
export function renderNfsConf(stateDir: string): string {
    if (!stateDir.startsWith("/")) throw new Error(`nfsdcld needs an absolute storagedir (got "${stateDir}")`);
    return renderIni([
        {
            name: "nfsd",
            entries: {
                udp: "n", tcp: "y", vers2: "n", vers3: "n", vers4: "y", "vers4.0": "n", "vers4.1": "y", "vers4.2": "y",
                "lease-time": NFS_LEASE_SECONDS, "grace-time": NFS_GRACE_SECONDS,
            },
        },
        { name: "nfsdcld", entries: { storagedir: stateDir } },
    ], { separator: " = ", header: ["Written by INCANT (Pulumi): NFSv4.1+ on TCP 2049 only (nfs.conf(5))."] });
}
