/**
 * rclone for the archive clients (archive.ts): the S3 remote (rclone.conf), the mount's options,
 * and the AWS shared config naming the STS credential helper.
 * Sources: rclone.org/s3 (Ceph provider, env_auth), rclone.org/commands/rclone_mount (VFS cache,
 * systemd notify, --allow-other), docs.aws.amazon.com "Sourcing credentials with an external
 * process" (credential_process).
 */
import { renderIni } from "../compute/ini";

/**
 * Where the S3 keys come from: static keys from the stack's secrets, or temporary keys through
 * STS (what the STS helper needs). The secret values are in clear: only ever inside an apply.
 */
export type StorageCredentials =
    | { kind: "static"; accessKeyId: string; secretAccessKey: string }
    | {
        kind: "sts";
        /** IAM token endpoint (the issuer's `/token`). */
        iamTokenEndpoint: string;
        iamClientId: string;
        iamClientSecret: string;
        roleArn: string;
    };

export interface RcloneRemoteArgs {
    /** Remote name (the section of rclone.conf). */
    remote: string;
    /** S3 endpoint URL (INFN CLOUD: https://rgw.cloud.infn.it). */
    endpoint: string;
    /** Signing region (SigV4); the gateway accepts its zonegroup name or us-east-1. */
    region: string;
    credentials: StorageCredentials;
}

/**
 * rclone.conf with the one S3 remote. Written mode 0600: with static credentials it holds the
 * keys. With STS it holds none: `env_auth` makes the AWS SDK read the shared config, whose
 * `credential_process` returns short-lived keys and is run again when they expire.
 */
export function renderRcloneConf(args: RcloneRemoteArgs): string {
    const c = args.credentials;
    return renderIni([{
        name: args.remote,
        entries: {
            type: "s3",
            // RADOS Gateway; rclone applies Ceph's quirks (path-style bucket addressing).
            provider: "Ceph",
            endpoint: args.endpoint,
            region: args.region,
            env_auth: c.kind === "sts" ? "true" : "false",
            access_key_id: c.kind === "static" ? c.accessKeyId : undefined,
            secret_access_key: c.kind === "static" ? c.secretAccessKey : undefined,
            // The bucket is the facility's archive and exists: never try to create it.
            no_check_bucket: "true",
        },
    }], { separator: " = ", header: ["Written by INCANT (Pulumi). Mode 0600: may hold S3 credentials."] });
}

/** The AWS shared config for STS: the default profile gets its keys from the helper. */
export function renderAwsConfig(helper: string, helperEnv: string): string {
    for (const p of [helper, helperEnv]) if (!p.startsWith("/")) throw new Error(`credential_process needs absolute paths (got "${p}")`);
    return renderIni([{ name: "default", entries: { credential_process: `${helper} ${helperEnv}` } }],
        { separator: " = ", header: ["Written by INCANT (Pulumi): temporary S3 keys from IAM through STS."] });
}

export interface RcloneMountArgs {
    /** Remote name in rclone.conf. */
    remote: string;
    /** The bucket mounted (the whole bucket is the archive). */
    bucket: string;
    /** Absolute mount point. */
    mountPoint: string;
    /** Absolute path of rclone.conf. */
    configFile: string;
    /** Absolute, persistent cache directory (pending uploads resume from it after a crash). */
    cacheDir: string;
    /** Upper bound of the VFS cache, in GB (dirty files waiting for upload are never evicted). */
    cacheMaxGb: number;
    /** The archive is writable (s3.exportReadWrite): show modes that say everyone may write (see below). */
    readWrite: boolean;
    /** How long directory listings are cached; objects put directly into S3 appear after it. */
    dirCacheTime: string;
}

/** The default listing cache: objects uploaded with other S3 tools appear within a minute. */
export const DIR_CACHE_TIME = "1m";

/** The `rclone mount` arguments (after the executable), used verbatim by the unit and the tests. */
export function rcloneMountArgs(a: RcloneMountArgs): string[] {
    for (const p of [a.mountPoint, a.configFile, a.cacheDir]) {
        if (!p.startsWith("/")) throw new Error(`rclone mount needs absolute paths (got "${p}")`);
    }
    if (!Number.isInteger(a.cacheMaxGb) || a.cacheMaxGb < 1) throw new Error(`bad cache size ${a.cacheMaxGb}`);
    return [
        "mount", `${a.remote}:${a.bucket}`, a.mountPoint,
        // Absolute paths: a systemd service has no HOME to find ~/.config/rclone or ~/.cache in.
        `--config=${a.configFile}`,
        `--cache-dir=${a.cacheDir}`,
        // "full": written files go to the cache and are uploaded from it, so uploads pending at a
        // crash or reboot resume when rclone starts again; reads are cached too (sparse files),
        // so jobs re-reading the same inputs are served from local disk, not from S3.
        "--vfs-cache-mode=full",
        `--vfs-cache-max-size=${a.cacheMaxGb}G`,
        "--vfs-cache-max-age=24h",
        `--dir-cache-time=${a.dirCacheTime}`,
        // rclone runs as root, the users' jobs do not: without allow_other FUSE refuses them all.
        "--allow-other",
        // Read-only unless s3.exportReadWrite: the kernel refuses writes (EROFS) before rclone sees them.
        ...(a.readWrite ? [] : ["--read-only"]),
        // rclone does not check permissions itself: a read-write mount lets every user write
        // whatever the modes say, so show 0777/0666 then; read-only shows 0755/0644.
        `--umask=${a.readWrite ? "0000" : "0022"}`,
        "--log-level=INFO",
    ];
}
