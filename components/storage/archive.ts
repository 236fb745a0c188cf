/**
 * The S3 archive, mounted by each client itself (issue 15). The storage controller no longer
 * re-exports an rclone FUSE mount over kernel NFS: rclone implements no export operations, so an
 * NFS client's handle resolved only while the inode was in the server's cache, and went stale
 * after an eviction or an rclone restart (FACTS.md "NFS + rclone", rclone issue 9830). Instead:
 *
 *   submit host   rclone mount as a systemd unit (archiveUnit), credentials over SSH
 *   workers       an rclone CSI driver mounts the bucket for the pods (archiveCsiVolume)
 *
 * A client's own FUSE mount has no NFS file handles to go stale. A restarted rclone is a new
 * mount: it is mounted under a shared parent directory (`root`), which containers bind with
 * rslave propagation, so the new mount reaches them (binding the mount point itself would pin the
 * dead mount in the container: tests/storage-rclone.test.ts shows both). Trade-offs (README "Storage
 * controller"): each client keeps its own VFS cache, and a file written on one client shows up
 * on the others after the listing cache (`--dir-cache-time`), not at once; concurrent writers of
 * one object: the last upload wins. Writes only when `s3.exportReadWrite`.
 *
 * The credentials never travel in user-data: they are installed over SSH (the submit host) or
 * kept in a Kubernetes Secret (the CSI driver), and STS is the default where IAM is configured.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readScript, renderEnvFile } from "../compute/cloudinit";
import { IniSection, systemdCommand } from "../compute/ini";
import { FacilityConfig, FacilitySecrets, S3Config } from "../config/schema";
import { RCLONE_REMOTE } from "./layout";
import { DIR_CACHE_TIME, rcloneMountArgs, renderAwsConfig, renderRcloneConf, StorageCredentials } from "./rclone";

/** Paths of the archive on a client host. */
export const ARCHIVE_CLIENT = {
    /** A shared bind mount of itself: the parent the containers bind (rslave), like /cvmfs. */
    root: "/srv/incant/s3",
    /** The bucket's mount point, under `root`. */
    mountPoint: "/srv/incant/s3/archive",
    /** rclone configuration (mode 0600: may hold the static keys). */
    rcloneConfig: "/etc/rclone/rclone.conf",
    /** AWS shared config naming the STS credential helper (s3.credentials "sts"). */
    awsConfig: "/etc/rclone/aws-config",
    /** Parameters of the STS credential helper. */
    stsEnv: "/etc/incant/s3-sts.env",
    /** The IAM client secret used by the STS helper (mode 0600). */
    iamClientSecret: "/etc/incant/iam-client-secret",
    /** The STS credential helper (components/storage/scripts/s3-sts-credentials.sh). */
    stsHelper: "/usr/local/sbin/incant-s3-credentials.sh",
    /** The VFS cache, on the host's disk: pending uploads resume from it after a crash. */
    cacheDir: "/var/cache/incant/rclone",
    unit: "incant-archive.service",
} as const;

/** The VFS cache's bound on a client, in GB (the submit host's 100 GB root disk keeps the rest). */
export const ARCHIVE_CACHE_GB = 20;

/** Lifetime of STS keys; the AWS SDK asks the helper for new ones before they expire. */
export const STS_DURATION_SECONDS = 3600;

const RCLONE = "/usr/bin/rclone";
const FUSERMOUNT = "/usr/bin/fusermount3";
const MKDIR = "/usr/bin/mkdir";

/** The `rclone mount` arguments of a client. */
export function archiveMountArgs(s3: Pick<S3Config, "bucket" | "exportReadWrite">): string[] {
    return rcloneMountArgs({
        remote: RCLONE_REMOTE, bucket: s3.bucket, mountPoint: ARCHIVE_CLIENT.mountPoint,
        configFile: ARCHIVE_CLIENT.rcloneConfig, cacheDir: ARCHIVE_CLIENT.cacheDir,
        cacheMaxGb: ARCHIVE_CACHE_GB, readWrite: s3.exportReadWrite, dirCacheTime: DIR_CACHE_TIME,
    });
}

/**
 * incant-archive.service on a client. Nothing depends on it and it depends on no NFS mount:
 * an S3 outage or a wrong key degrades the archive only. It retries for ever (every 10 s, no
 * start limit), so the archive comes back by itself when S3 does, and logs each failure
 * (`journalctl -u incant-archive`). It waits for its configuration, which arrives over SSH.
 */
export function archiveUnit(s3: Pick<S3Config, "bucket" | "exportReadWrite" | "credentials">): IniSection[] {
    const mountPoint = ARCHIVE_CLIENT.mountPoint;
    return [
        {
            name: "Unit", entries: {
                Description: `INCANT S3 archive (bucket ${s3.bucket}, ${s3.exportReadWrite ? "read-write" : "read-only"}) mounted by rclone at ${mountPoint}`,
                Documentation: "https://rclone.org/commands/rclone_mount/",
                Wants: "network-online.target",
                After: "network-online.target",
                // The shared parent must be in place first, or the mount would not propagate.
                RequiresMountsFor: ARCHIVE_CLIENT.root,
                // Installed over SSH by the program after boot, which then (re)starts this unit.
                ConditionPathExists: ARCHIVE_CLIENT.rcloneConfig,
                // Never give up: S3 may be down for longer than any burst limit (systemd.unit(5)).
                StartLimitIntervalSec: 0,
            },
        },
        {
            name: "Service", entries: {
                // rclone signals READY=1 once the FUSE mount is in place.
                Type: "notify",
                Environment: s3.credentials === "sts" ? `AWS_CONFIG_FILE=${ARCHIVE_CLIENT.awsConfig}` : undefined,
                ExecStartPre: systemdCommand([MKDIR, "-p", mountPoint, ARCHIVE_CLIENT.cacheDir]),
                ExecStart: systemdCommand([RCLONE, ...archiveMountArgs(s3)]),
                // rclone unmounts on SIGTERM; after a crash the dead mount must go, or the
                // restart fails with "transport endpoint is not connected".
                ExecStopPost: `-${systemdCommand([FUSERMOUNT, "-u", "-z", mountPoint])}`,
                Restart: "always",
                RestartSec: 10,
            },
        },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ];
}

/** One file of a client's archive configuration, installed over SSH. */
export interface ArchiveFile {
    key: string;
    path: string;
    content: string;
    mode: "0644" | "0755" | "0600";
}

/** The STS helper's parameters (no secret: the client secret is a separate 0600 file). */
export function stsEnv(c: Extract<StorageCredentials, { kind: "sts" }>, sessionName: string, endpoint: string,
    secretFile: string = ARCHIVE_CLIENT.iamClientSecret): string {
    return renderEnvFile({
        IAM_TOKEN_ENDPOINT: c.iamTokenEndpoint,
        IAM_CLIENT_ID: c.iamClientId,
        IAM_CLIENT_SECRET_FILE: secretFile,
        IAM_SCOPE: "openid",
        STS_ENDPOINT: endpoint,
        STS_ROLE_ARN: c.roleArn,
        STS_DURATION_SECONDS: STS_DURATION_SECONDS,
        STS_SESSION_NAME: sessionName,
    });
}

/**
 * Every file a client's archive needs, with the credentials in clear: call it only inside an
 * apply whose output is secret (the submit host's install commands take it as stdin).
 */
export function archiveClientFiles(s3: Pick<S3Config, "endpoint" | "region">, credentials: StorageCredentials, sessionName: string): ArchiveFile[] {
    const c = credentials;
    return [
        { key: "rclone-conf", path: ARCHIVE_CLIENT.rcloneConfig, content: renderRcloneConf({ remote: RCLONE_REMOTE, endpoint: s3.endpoint, region: s3.region, credentials: c }), mode: "0600" },
        ...(c.kind === "sts" ? [
            { key: "aws-config", path: ARCHIVE_CLIENT.awsConfig, content: renderAwsConfig(ARCHIVE_CLIENT.stsHelper, ARCHIVE_CLIENT.stsEnv), mode: "0644" },
            { key: "sts-env", path: ARCHIVE_CLIENT.stsEnv, content: stsEnv(c, sessionName, s3.endpoint), mode: "0644" },
            // No trailing newline: the helper reads the file whole.
            { key: "iam-client-secret", path: ARCHIVE_CLIENT.iamClientSecret, content: c.iamClientSecret, mode: "0600" },
            { key: "sts-helper", path: ARCHIVE_CLIENT.stsHelper, content: readScript(path.join(__dirname, "scripts"), "s3-sts-credentials.sh"), mode: "0755" },
        ] satisfies ArchiveFile[] : []),
    ];
}

/** The credentials the archive clients need, as one secret output. */
export function archiveCredentials(config: Pick<FacilityConfig, "s3" | "iam">, secrets: FacilitySecrets): pulumi.Output<StorageCredentials> {
    const need = (value: pulumi.Output<string> | undefined, key: string): pulumi.Output<string> => {
        if (!value) throw new pulumi.RunError(`incant:${key} is required with s3.credentials "${config.s3.credentials}"`);
        return value;
    };
    if (config.s3.credentials === "static") {
        return pulumi.secret(pulumi.all([need(secrets.s3AccessKeyId, "s3AccessKeyId"), need(secrets.s3SecretAccessKey, "s3SecretAccessKey")])
            .apply(([accessKeyId, secretAccessKey]): StorageCredentials => ({ kind: "static", accessKeyId, secretAccessKey })));
    }
    const { iamClientId, stsRoleArn } = config.s3;
    if (!iamClientId) throw new pulumi.RunError("incant:s3.iamClientId is required with s3.credentials \"sts\"");
    return pulumi.secret(need(secrets.s3IamClientSecret, "s3IamClientSecret").apply((iamClientSecret): StorageCredentials => ({
        kind: "sts",
        // INDIGO IAM's token endpoint is the issuer's /token.
        iamTokenEndpoint: `${config.iam.issuer}token`,
        iamClientId, iamClientSecret, roleArn: stsRoleArn,
    })));
}

/**
 * The workers' side (wired into the pool by archive-csi.ts): a static PersistentVolume of the
 * rclone CSI driver (github.com/SwissDataScienceCenter/csi-rclone v0.6.0, driver name
 * `csi-rclone`) and its Secret (`remote`, `remotePath`, `configData`: the same rclone.conf as the
 * submit host's). Checked against the driver's source at tag v0.6.0:
 * - The node plugin implements NodePublishVolume only (NodeStageVolume is Unimplemented,
 *   pkg/rclone/nodeserver.go), so the kubelet hands it the PV's `nodePublishSecretRef`; a
 *   `nodeStageSecretRef` would never be read. It also requires `secretName` and
 *   `secretNamespace` in volumeAttributes (the README's static-PV example sets both).
 * - It merges the Secret with the volumeAttributes (extractFlags) and mounts through rclone's
 *   remote control: `config/create` with configData's only section (it refuses more than one)
 *   renamed `rclone-mounter-<volumeHandle>`, then `mount/mount` of `<that name>:<remotePath>`
 *   (pkg/rclone/rclone.go Mount). The Secret's `remote` is not used to mount; it names the section
 *   for the driver's saved-secrets feature only, so it stays the section's name.
 * - It checks no access mode at publish time (validatePublishVolumeRequest wants a capability,
 *   any), and read-only comes from the request's readonly flag, which the kubelet sets from the
 *   pod's claim reference (archive-csi.ts archivePodVolume).
 * Read-only in the pool whatever s3.exportReadWrite says, by choice: each node would keep its own
 * write cache in the node plugin's emptyDir (pending uploads lost with the pod), and concurrent
 * writers of one object race (last upload wins). Jobs write to scratch; users copy results into
 * the archive from the submit host, where it is writable when s3.exportReadWrite is set. STS would
 * need the helper inside the driver: the cluster side takes static keys.
 */
export interface ArchiveCsiVolume {
    /** `spec.csi` of the PersistentVolume. */
    csi: {
        driver: "csi-rclone";
        volumeHandle: string;
        /** Reaches ControllerPublishVolume only; the pods' claim reference carries it to the node. */
        readOnly: true;
        /** The driver finds its Secret by these attributes (static PVs must set them). */
        volumeAttributes: { secretName: string; secretNamespace: string };
        /** The same Secret, handed to NodePublishVolume by the kubelet. */
        nodePublishSecretRef: { name: string; namespace: string };
    };
    accessModes: ["ReadOnlyMany"];
}

/** `stringData` of the driver's Secret (secret: holds the keys). */
export interface ArchiveCsiSecretData {
    remote: string;
    remotePath: string;
    configData: string;
}

/** The PV side of the archive's CSI volume (no credentials in it). */
export function archiveCsiVolume(a: { s3: Pick<S3Config, "bucket">; secretName: string; namespace: string }): ArchiveCsiVolume {
    for (const n of [a.secretName, a.namespace]) {
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n)) throw new Error(`bad Kubernetes name "${n}"`);
    }
    return {
        csi: {
            driver: "csi-rclone",
            volumeHandle: `incant-archive-${a.s3.bucket}`,
            readOnly: true,
            volumeAttributes: { secretName: a.secretName, secretNamespace: a.namespace },
            nodePublishSecretRef: { name: a.secretName, namespace: a.namespace },
        },
        accessModes: ["ReadOnlyMany"],
    };
}

/**
 * Characters the driver's INI parser changes in a value: gopkg.in/ini.v1 1.67 (its go.mod) cuts
 * a value at the first `#` or `;` (inline comments, parser.go readValue) and strips surrounding
 * quotes, backticks or whitespace; the driver then hands rclone the altered key.
 */
const GO_INI_UNSAFE = /[#;`]|^["'\s]|["'\s]$/;

/** The Secret's data: call it only inside an apply whose output is secret. Never shows a key in an error. */
export function archiveCsiSecretData(s3: Pick<S3Config, "endpoint" | "region" | "bucket">, credentials: Extract<StorageCredentials, { kind: "static" }>): ArchiveCsiSecretData {
    for (const [key, value] of [["s3AccessKeyId", credentials.accessKeyId], ["s3SecretAccessKey", credentials.secretAccessKey]] as const) {
        if (GO_INI_UNSAFE.test(value)) {
            throw new Error(`incant:${key} contains #, ; or a backtick, or starts or ends with a quote or a space: the rclone CSI driver's INI parser would alter it (the pool's archive would not mount); use keys without them`);
        }
    }
    return {
        remote: RCLONE_REMOTE,
        // The bucket itself: the driver's README wants remotePath to start with the bucket.
        remotePath: `${s3.bucket}/`,
        configData: renderRcloneConf({ remote: RCLONE_REMOTE, endpoint: s3.endpoint, region: s3.region, credentials }),
    };
}
