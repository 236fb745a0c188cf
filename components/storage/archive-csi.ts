/**
 * The S3 archive in the pool's worker pods (issue 15), through the rclone CSI driver
 * (github.com/SwissDataScienceCenter/csi-rclone, the maintained fork of wunderio's, used by Renku).
 *
 *   csi-rclone namespace (privileged)   the chart: node plugin DaemonSet + controller (csi-attacher)
 *   htcondor namespace                  Secret (remote, remotePath, configData: the keys)
 *   cluster                             static PersistentVolume (driver csi-rclone) ── claimRef ──┐
 *   htcondor namespace                  PersistentVolumeClaim `archive` (ReadOnlyMany) ◀───────────┘
 *   worker pods                         /s3/archive, read-only: the path jobs see on the submit side
 *
 * How the driver mounts (v0.6.0, read in its source): the node plugin runs `rclone rcd` and, on
 * NodePublishVolume (it implements no NodeStageVolume), takes `remote`, `remotePath` and
 * `configData` from the Secret the kubelet hands it (the PV's nodePublishSecretRef) merged with the
 * PV's volumeAttributes (pkg/rclone/nodeserver.go extractFlags), then POSTs `config/create` with the
 * one section of configData renamed `rclone-mounter-<volumeHandle>` and `mount/mount` with
 * `<that name>:<remotePath>`, vfsOpt {CacheMode writes, DirCacheTime 60s, ReadOnly = the request's
 * readonly flag} and mountOpt {AllowOther, AllowNonEmpty} (pkg/rclone/rclone.go Mount).
 * tests/storage-archive-csi-rclone.test.ts replays exactly those two requests against Debian's
 * rclone and a local S3 server.
 *
 * Static S3 keys only: the node plugin's rclone reads the keys from configData and cannot run the
 * STS credential helper (no helper, no IAM client secret in its image), so with s3.credentials
 * "sts" the pool gets no archive and the program says so (archiveCsiPlan).
 *
 * Restarts: the node plugin's rclone holds the FUSE mounts; when the node plugin restarts it
 * unmounts every fuse.rclone mount of the node (cmd/csi-rclone-plugin/main.go unmountOldVols) and
 * remounts one only when the kubelet publishes it again, so running worker pods see an empty
 * /s3/archive until they restart (README "Storage controller" tells operators what to do).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FacilityConfig, FacilitySecrets, S3Config } from "../config/schema";
import { privilegedNamespaceLabels, RCLONE_CSI_NAMESPACE } from "../kubernetes/podsecurity";
import { sensitive } from "../secrets";
import { ArchiveCsiVolume, archiveCsiSecretData, archiveCsiVolume } from "./archive";
import { StorageCredentials } from "./rclone";

type StaticKeys = Extract<StorageCredentials, { kind: "static" }>;
type Metadata = k8s.types.input.meta.v1.ObjectMeta;

const PART_OF = { "app.kubernetes.io/part-of": "incant" };

/**
 * The chart, as chartpress publishes it from the driver's repository (chartpress.yaml: repo
 * swissdatasciencecenter.github.io/helm-charts, chart version = the git tag, image
 * renku/csi-rclone tagged with it). Pinned; the image is pinned to the same tag in the values.
 */
export const RCLONE_CSI_CHART = {
    chart: "csi-rclone",
    repo: "https://swissdatasciencecenter.github.io/helm-charts",
    version: "0.6.0",
    image: { repository: "renku/csi-rclone", tag: "0.6.0" },
    /** Release name: contains the chart's name, so the chart's objects are `csi-rclone-*` (_helpers.tpl). */
    release: "csi-rclone",
} as const;

/** The driver's name: the chart's storageClassName value, which it passes as DRIVER_NAME. */
export const RCLONE_CSI_DRIVER = "csi-rclone";

/** Names in the pool's namespace, and where pods see the archive. */
export const ARCHIVE_CSI = {
    secret: "archive-s3",
    claim: "archive",
    /** The pod volume's name. */
    volume: "archive",
    /** The submit container's `/s3/archive` (components/submit/services.ts IN_SUBMIT.s3 + "archive"). */
    mountPath: "/s3/archive",
    /** Nominal: the driver ignores the size, but a PV and its claim need one. */
    capacity: "1Ti",
} as const;

/** Whether the pool's pods get the archive, and if not, why (a warning the operator reads). */
export type ArchiveCsiPlan = { enabled: true } | { enabled: false; reason: string };

export function archiveCsiPlan(s3: Pick<S3Config, "credentials">): ArchiveCsiPlan {
    if (s3.credentials === "static") return { enabled: true };
    return {
        enabled: false,
        reason: "incant:s3.credentials is \"sts\": the pool's worker pods get no /s3/archive (the rclone CSI driver " +
            "mounts with the keys in its Secret and cannot run the STS credential helper); jobs read the bucket with S3 " +
            "or XRootD clients, physicists use /s3/archive on the submit host. Use static keys to mount it in the pool.",
    };
}

/**
 * Helm values of csi-rclone 0.6.0 (deploy/csi-rclone/values.yaml at tag v0.6.0). Only what
 * differs from the chart's defaults, or what the facility relies on and restates.
 */
export function rcloneCsiValues(): Record<string, unknown> {
    const image = { repository: RCLONE_CSI_CHART.image.repository, tag: RCLONE_CSI_CHART.image.tag };
    return {
        // The driver's name comes from this value (DRIVER_NAME in both pods).
        storageClassName: RCLONE_CSI_DRIVER,
        // Static PV only: no class lets a claim in any namespace provision a volume from a Secret.
        storageClass: { create: false },
        // chartpress sets the image in the published chart; pinned here anyway (the source
        // values.yaml says `csi-rclone:latest`).
        csiControllerRclone: { rclone: { image } },
        csiNodepluginRclone: {
            rclone: {
                image,
                // Mounts FUSE file systems and propagates them to the kubelet's pod directories
                // (Bidirectional): hence the privileged namespace (podsecurity.ts).
                containerSecurityContext: { privileged: true },
                // rclone's buffers per open file; GOMEMLIMIT below the limit, as values.yaml advises.
                resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "1Gi" } },
                goMemLimit: "900MiB",
            },
        },
    };
}

/** The driver's namespace: Pod Security privileged, listed in podsecurity.ts with its reason. */
export function rcloneCsiNamespace(): { metadata: Metadata } {
    return { metadata: { name: RCLONE_CSI_NAMESPACE, labels: { ...privilegedNamespaceLabels(RCLONE_CSI_NAMESPACE), ...PART_OF } } };
}

/** The static PV (cluster-scoped `<namespace>-archive`), reserved for the claim and kept on delete. */
export function archivePersistentVolume(v: ArchiveCsiVolume, namespace: string): { metadata: Metadata; spec: k8s.types.input.core.v1.PersistentVolumeSpec } {
    return {
        metadata: { name: `${namespace}-${ARCHIVE_CSI.claim}`, labels: PART_OF },
        spec: {
            capacity: { storage: ARCHIVE_CSI.capacity },
            accessModes: v.accessModes,
            // Retain: deleting the PV must never reach the driver's DeleteVolume for the bucket.
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: "",
            csi: v.csi,
            claimRef: { namespace, name: ARCHIVE_CSI.claim },
        },
    };
}

/** The claim, bound to that PV by name. */
export function archiveClaim(v: ArchiveCsiVolume, namespace: string): { metadata: Metadata; spec: k8s.types.input.core.v1.PersistentVolumeClaimSpec } {
    return {
        metadata: { name: ARCHIVE_CSI.claim, namespace, labels: PART_OF },
        spec: {
            accessModes: v.accessModes,
            storageClassName: "",
            volumeName: `${namespace}-${ARCHIVE_CSI.claim}`,
            resources: { requests: { storage: ARCHIVE_CSI.capacity } },
        },
    };
}

/**
 * The pod's volume and mount. `readOnly` on the claim reference is what the kubelet passes to
 * NodePublishVolume (desired_state_of_world_populator.go: getPVSpec(pvName, pvcSource.ReadOnly)),
 * which the driver turns into rclone's read-only VFS; the PV's csi.readOnly only reaches
 * ControllerPublishVolume. HostToContainer: a remount by the node plugin (its NodePublishVolume
 * remounts a dead target) reaches the running container.
 */
export function archivePodVolume(): {
    volume: { name: string; persistentVolumeClaim: { claimName: string; readOnly: boolean } };
    mount: { name: string; mountPath: string; readOnly: boolean; mountPropagation: "HostToContainer" };
} {
    return {
        volume: { name: ARCHIVE_CSI.volume, persistentVolumeClaim: { claimName: ARCHIVE_CSI.claim, readOnly: true } },
        mount: { name: ARCHIVE_CSI.volume, mountPath: ARCHIVE_CSI.mountPath, readOnly: true, mountPropagation: "HostToContainer" },
    };
}

/** What the pool needs to mount the archive (HTCondorPoolArgs.archive). */
export interface PoolArchiveArgs {
    s3: Pick<S3Config, "endpoint" | "region" | "bucket">;
    /** The static keys (secret). */
    credentials: pulumi.Output<StaticKeys>;
}

/**
 * The pool's archive inputs, or undefined (with a warning) when the pool cannot mount it:
 * s3.credentials "sts" (archiveCsiPlan).
 */
export function poolArchiveArgs(config: Pick<FacilityConfig, "s3">, secrets: Pick<FacilitySecrets, "s3AccessKeyId" | "s3SecretAccessKey">): PoolArchiveArgs | undefined {
    const plan = archiveCsiPlan(config.s3);
    if (!plan.enabled) {
        pulumi.log.warn(plan.reason);
        return undefined;
    }
    const { s3AccessKeyId, s3SecretAccessKey } = secrets;
    if (!s3AccessKeyId || !s3SecretAccessKey) throw new pulumi.RunError("incant:s3AccessKeyId and incant:s3SecretAccessKey are required with s3.credentials \"static\"");
    return {
        s3: config.s3,
        credentials: pulumi.secret(pulumi.all([s3AccessKeyId, s3SecretAccessKey])
            .apply(([accessKeyId, secretAccessKey]): StaticKeys => ({ kind: "static", accessKeyId, secretAccessKey }))),
    };
}

export interface ArchiveCsiArgs extends PoolArchiveArgs {
    /** The pool's namespace (the Secret and the claim live there). */
    namespace: string;
    /** The namespace resource, and what the driver's pods wait for (the pod network). */
    dependsOn: pulumi.Resource[];
    networkReady?: pulumi.Resource[];
}

/** The driver's release and the pool's Secret, PV and claim. Children run on the parent's Kubernetes provider. */
export class ArchiveCsi extends pulumi.ComponentResource {
    /** The claim the worker pods mount (archivePodVolume). */
    public readonly claim: k8s.core.v1.PersistentVolumeClaim;

    constructor(name: string, args: ArchiveCsiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:storage:ArchiveCsi", name, {}, opts);
        const child = { parent: this };
        const ns = new k8s.core.v1.Namespace(`${name}-csi-namespace`, rcloneCsiNamespace(), child);
        const release = new k8s.helm.v3.Release(`${name}-csi`, {
            name: RCLONE_CSI_CHART.release,
            chart: RCLONE_CSI_CHART.chart,
            version: RCLONE_CSI_CHART.version,
            repositoryOpts: { repo: RCLONE_CSI_CHART.repo },
            namespace: RCLONE_CSI_NAMESPACE,
            values: rcloneCsiValues(),
        }, { parent: this, dependsOn: [ns, ...(args.networkReady ?? [])] });
        const volume = archiveCsiVolume({ s3: args.s3, secretName: ARCHIVE_CSI.secret, namespace: args.namespace });
        // The keys stay inside the secret output (and the offline render redacts the file holding them).
        const secretData = pulumi.secret(args.credentials.apply((credentials) => {
            const d = archiveCsiSecretData(args.s3, credentials);
            return { ...d, configData: sensitive(d.configData) };
        }));
        const secret = new k8s.core.v1.Secret(`${name}-secret`, {
            metadata: { name: ARCHIVE_CSI.secret, namespace: args.namespace, labels: PART_OF },
            type: "Opaque",
            stringData: secretData,
        }, { parent: this, dependsOn: args.dependsOn });
        const pv = new k8s.core.v1.PersistentVolume(`${name}-pv`, archivePersistentVolume(volume, args.namespace), { parent: this, dependsOn: [release, secret] });
        this.claim = new k8s.core.v1.PersistentVolumeClaim(`${name}-claim`, archiveClaim(volume, args.namespace), { parent: this, dependsOn: [...args.dependsOn, pv] });
        this.registerOutputs({ claim: this.claim });
    }
}
