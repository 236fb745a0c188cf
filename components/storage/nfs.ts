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
    archive: string;
    /** The NFS clients: the workers' address block and the submit host's address. */
    clients: string[];
    /** Export the S3 archive read-write (`incant:s3.exportReadWrite`); default read-only. */
    archiveReadWrite: boolean;
}

/**
 * fsid of the archive export. A FUSE file system has no device number nfsd can build stable file
 * handles from, so exporting it needs an explicit fsid (exports(5), "fsid="); any number unique
 * among the exports will do. The data volume's exports get theirs from the ext4 UUID.
 */
export const ARCHIVE_FSID = 1001;

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
        { path: args.archive, clients: to([args.archiveReadWrite ? "rw" : "ro", ...COMMON, `fsid=${ARCHIVE_FSID}`]) },
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
 * /etc/nfs.conf.d/incant.conf: NFSv4.1+ over TCP only. v2/v3 need rpcbind, mountd and statd on
 * extra ports; v4.0 makes the server open callback connections back to the clients. v4.1 and
 * v4.2 run everything, callbacks included, over the one client connection to 2049.
 */
export function renderNfsConf(): string {
    return renderIni([{
        name: "nfsd",
        entries: { udp: "n", tcp: "y", vers2: "n", vers3: "n", vers4: "y", "vers4.0": "n", "vers4.1": "y", "vers4.2": "y" },
    }], { separator: " = ", header: ["Written by INCANT (Pulumi): NFSv4.1+ on TCP 2049 only (nfs.conf(5))."] });
}
