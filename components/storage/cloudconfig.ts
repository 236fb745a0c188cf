/**
 * The storage controller's cloud-init: packages, every file of the NFS server and the rclone
 * mount (write_files), and the commands that start them. A pure function of typed inputs; the
 * component calls it inside an apply once the volume id and the secrets are known.
 *
 * Every file is written with `defer: true`, after the packages are installed: the package
 * scripts start nfs-server on installation, and must not find the drop-in that ties it to a
 * volume and a mount that are not ready yet (nor overwrite /etc/fuse.conf after us).
 */
import * as path from "path";
import { CloudConfig, readScript, renderEnvFile, WriteFile } from "../compute/cloudinit";
import { FacilityUser, S3Config } from "../config/schema";
import { sensitive } from "../secrets";
import { LAYOUT, RCLONE_REMOTE, UNITS, volumeDevicePath } from "./layout";
import { nfsExports, renderExports, renderNfsConf } from "./nfs";
import { archiveCacheGb, DIR_CACHE_TIME, rcloneMountArgs, renderAwsConfig, renderFuseConf, renderRcloneConf, StorageCredentials } from "./rclone";
import { BIN, storageUnits } from "./units";

const SCRIPTS = path.join(__dirname, "scripts");

/** How long the preparing service waits for the cloud to attach the volume, in seconds. */
export const DATA_WAIT_SECONDS = 900;

/** Lifetime of STS keys; the AWS SDK asks the helper for new ones before they expire. */
export const STS_DURATION_SECONDS = 3600;

export interface StorageCloudConfigArgs {
    /** Cinder id of the data volume: its /dev/disk/by-id path derives from it. */
    volumeId: string;
    /** Size of the data volume (the rclone cache takes a quarter of it). */
    dataVolumeGb: number;
    /** Addresses or CIDRs allowed to mount the exports: the workers and the submit host. */
    nfsClients: string[];
    s3: Pick<S3Config, "endpoint" | "bucket" | "region" | "exportReadWrite">;
    credentials: StorageCredentials;
    /** Host name, used as the STS session name (it shows in the gateway's logs). */
    hostName: string;
}

/** The storage scripts' parameters (/etc/incant/storage.env). */
export function storageEnv(a: StorageCloudConfigArgs): string {
    return renderEnvFile({
        DATA_DEVICE: volumeDevicePath(a.volumeId),
        DATA_LABEL: "incant-data",
        DATA_WAIT_SECONDS: DATA_WAIT_SECONDS,
        HOME_ROOT: LAYOUT.home,
        SCRATCH_ROOT: LAYOUT.scratch,
        RCLONE_CACHE: LAYOUT.rcloneCache,
    });
}

/** The facility users for the users' directories script (LAYOUT.usersEnv): "name:uid ...". */
export function usersEnv(users: FacilityUser[]): string {
    return renderEnvFile({ FACILITY_USERS: users.map((u) => `${u.name}:${u.uid}`).join(" ") });
}

/** The STS helper's parameters (no secret: the client secret is a separate 0600 file). */
export function stsEnv(c: Extract<StorageCredentials, { kind: "sts" }>, hostName: string, endpoint: string,
    secretFile: string = LAYOUT.iamClientSecret): string {
    return renderEnvFile({
        IAM_TOKEN_ENDPOINT: c.iamTokenEndpoint,
        IAM_CLIENT_ID: c.iamClientId,
        IAM_CLIENT_SECRET_FILE: secretFile,
        IAM_SCOPE: "openid",
        STS_ENDPOINT: endpoint,
        STS_ROLE_ARN: c.roleArn,
        STS_DURATION_SECONDS: STS_DURATION_SECONDS,
        STS_SESSION_NAME: hostName,
    });
}

/** The mount's arguments on the VM (the integration test uses the same function). */
export function archiveMountArgs(a: Pick<StorageCloudConfigArgs, "s3" | "dataVolumeGb">): string[] {
    return rcloneMountArgs({
        remote: RCLONE_REMOTE, bucket: a.s3.bucket, mountPoint: LAYOUT.archive,
        configFile: LAYOUT.rcloneConfig, cacheDir: LAYOUT.rcloneCache,
        cacheMaxGb: archiveCacheGb(a.dataVolumeGb), readWrite: a.s3.exportReadWrite, dirCacheTime: DIR_CACHE_TIME,
    });
}

/** Every file the storage controller receives, by path. */
export function storageFiles(a: StorageCloudConfigArgs): WriteFile[] {
    const c = a.credentials;
    const sts = c.kind === "sts";
    const file = (p: string, content: string, permissions = "0644"): WriteFile => ({ path: p, content, permissions, owner: "root:root", defer: true });
    const units = storageUnits({
        dataDevice: volumeDevicePath(a.volumeId),
        dataWaitSeconds: DATA_WAIT_SECONDS,
        rcloneArgs: archiveMountArgs(a),
        rcloneEnvironment: sts ? { AWS_CONFIG_FILE: LAYOUT.awsConfig } : {},
        bucket: a.s3.bucket,
    });
    return [
        file(LAYOUT.storageEnv, storageEnv(a)),
        file(BIN.prepareVolume, readScript(SCRIPTS, "prepare-data-volume.sh"), "0755"),
        file(BIN.userDirs, readScript(SCRIPTS, "user-dirs.sh"), "0755"),
        file(BIN.updateUsers, readScript(SCRIPTS, "update-users.sh"), "0755"),
        ...Object.entries(units).map(([p, text]) => file(p, text)),
        file("/etc/exports.d/incant.exports", renderExports(nfsExports({
            home: LAYOUT.home, scratch: LAYOUT.scratch, archive: LAYOUT.archive,
            clients: a.nfsClients, archiveReadWrite: a.s3.exportReadWrite,
        }))),
        file("/etc/nfs.conf.d/incant.conf", renderNfsConf()),
        file("/etc/fuse.conf", renderFuseConf()),
        // Holds the static keys: secret end to end (the whole user-data is a secret output).
        file(LAYOUT.rcloneConfig, sensitive(renderRcloneConf({ remote: RCLONE_REMOTE, endpoint: a.s3.endpoint, region: a.s3.region, credentials: c })), "0600"),
        ...(c.kind === "sts" ? [
            file(LAYOUT.awsConfig, renderAwsConfig(BIN.stsHelper, LAYOUT.stsEnv)),
            file(LAYOUT.stsEnv, stsEnv(c, a.hostName, a.s3.endpoint)),
            // No trailing newline: the helper reads the file whole.
            file(LAYOUT.iamClientSecret, sensitive(c.iamClientSecret), "0600"),
            file(BIN.stsHelper, readScript(SCRIPTS, "s3-sts-credentials.sh"), "0755"),
        ] : []),
    ];
}

/** The storage role's part of the cloud-config (merged into the base with extendCloudConfig). */
export function storageCloudConfig(a: StorageCloudConfigArgs): CloudConfig {
    return {
        packages: ["nfs-kernel-server", "rclone", "fuse3", ...(a.credentials.kind === "sts" ? ["curl", "jq"] : [])],
        write_files: storageFiles(a),
        runcmd: [
            ["systemctl", "daemon-reload"],
            // NFSv4-only: nothing needs the portmapper or the NFSv3 lock daemon (nfs.conf(5)).
            ["systemctl", "mask", "--now", "rpcbind.service", "rpcbind.socket", "rpc-statd.service"],
            ["systemctl", "enable", UNITS.dataMount, UNITS.archive, UNITS.nfsServer],
            // Pulls in the volume, the users' directories and the archive mount first (drop-in);
            // blocks until the cloud has attached the volume.
            ["systemctl", "restart", UNITS.nfsServer],
        ],
    };
}
