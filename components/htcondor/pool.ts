/**
 * The HTCondor pool on Kubernetes (the paper's Figure 3): a central manager (collector +
 * negotiator) and a scheduler, one replica each, and one worker (startd) per Kubernetes worker
 * node, in their own namespace, with the CVMFS CSI driver and the NFS shares mounted by the
 * kubelet. Credentials are made here: the POOL signing key (mounted only into the central
 * manager), least-privilege IDTOKENs for startds and the schedd (tokens.ts), and a pool CA with
 * TLS certificates for the two daemons users reach with SciTokens.
 *
 * Users (`incant:users`) are applied live, without restarting any pod: their ConfigMap is outside
 * every checksum and each pod's master runs pool-users.sh, which follows it (users.ts).
 *
 * Tokens and key, live (issue 12): the daemons' tokens expire (`exp` from the token clock, a
 * certificate the TLS provider renews: `incant:htcondor.tokenLifetimeDays`), and a bump of
 * `incant:htcondor.keyGeneration` regenerates the key (RandomBytes keepers) and re-mints every
 * token. Neither is in any checksum: the kubelet rewrites the Secret volumes in the running pods
 * and each pod's pool-users.sh copies the new files where HTCondor reads them (tokens.d,
 * passwords.d), which it does at every new authentication. No pod restarts, no job is touched.
 * Re-keying needs no transition with two named keys (SEC_PASSWORD_DIRECTORY and `kid`, both
 * accepted for a while): only the collector verifies tokens, claims and open sessions do not use
 * the key, and a daemon whose new authentication fails in the minute the kubelet takes to reach
 * every pod retries it. So one `pulumi up` is enough, and the old tokens are refused as soon as
 * the central manager has the new key, which is what a re-key after a leak wants.
 *
 * Children run on the cluster's provider: pass `{ providers: { kubernetes: cluster.provider } }`.
 */
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { readScript } from "../compute/cloudinit";
import { FacilityConfig } from "../config/schema";
import { KeyPair, selfSignedCa } from "../kubernetes/pki";
import { sensitive } from "../secrets";
import { NfsShare } from "../storage/types";
import { ArchiveCsi, PoolArchiveArgs } from "../storage/archive-csi";
import {
    centralManagerConfig, poolEndpoints, poolSettings, renderCondorConfig, renderMapfile, renderSubmitHostConfig,
    isReservedAccount, renderUsersFile, schedulerConfig, workerConfig,
} from "./config";
import { CVMFS_CSI_CHART, CVMFS_NAMESPACE, cvmfsClaim, cvmfsCsiValues, cvmfsNamespace } from "./cvmfs";
import { HEALTH_SCRIPTS } from "./health";
import { cvmfsHttpProxy } from "../cache/squid";
import { EXPORTER_SCRIPT } from "../observability/metrics";
import { AtlasImageRefs } from "./images";
import {
    CONFIG_KEY, deployment, DeploymentInputs, labels, networkPolicies, nfsReservedVolume, nfsVolumes,
    CENTRAL_MANAGER_SPOOL, nodePortService, PoolRole, poolNamespace, ReservedVolume, SCHEDD_SPOOL, SECRETS, spoolCinderClaim, spoolReservedVolume, workerResources,
} from "./manifests";
import { keyFileFor, mintRoleToken, SIGNING_KEY_BYTES, TokenRole, tokenRenewalDays, tokenValidity } from "./tokens";
import { PART_OF, PoolEndpoints } from "./types";
import { USERS_CONFIGMAP, USERS_KEYS, USERS_SCRIPT, usersConfig } from "./users";
import { CREDMON_SCRIPT } from "./credentials";

/** The namespace of the pool. */
export const POOL_NAMESPACE = "htcondor";

export interface HTCondorPoolArgs {
    /** The validated stack configuration (htcondor, users, iam, cvmfs, versions, network, nodes). */
    config: FacilityConfig;
    /** The storage controller's exports (StorageController.share): home, scratch, archive. */
    nfs: NfsShare;
    /**
     * Kubernetes node names of the workers (KubernetesCluster.nodeNames): workers 0 and 1 hold the
     * spools' local volumes (without Cinder). The pods select workers by label, not by these names
     * (manifests.ts ON_WORKERS). Must list at least `incant:nodes.workers.count` nodes.
     */
    workerNodeNames: string[];
    /**
     * Fixed address of a node the submit host reaches the NodePorts on
     * (KubernetesCluster.controlPlanes[0].fixedIp); advertised as TCP_FORWARDING_HOST.
     */
    nodeAddress: string;
    /** Images of the three daemons (AtlasImages.refs). Pinned. */
    images: Pick<AtlasImageRefs, "worker" | "scheduler" | "centralManager">;
    /** What pods must wait for (KubernetesCluster.networkReady: the pod network, the metadata block). */
    networkReady?: pulumi.Resource[];
    /** The cluster's block storage (KubernetesCluster.storage): the spools go on its volumes; else on worker disks. */
    storage?: { storageClass: string; ready: pulumi.Resource[] };
    /** The S3 archive for the workers (storage/archive-csi.ts poolArchiveArgs); unset: no archive in the pods. */
    archive?: PoolArchiveArgs;
}

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

/**
 * The checksum annotation of a role's pod template: a digest of what its pods read only at start
 * (configuration files, TLS certificates), so a change of those restarts them. Not the tokens nor
 * the signing key (nor the key generation): those apply live (pool-users.sh), and a restart
 * would kill the running jobs.
 */
export function podChecksum(files: Record<string, string>, certificates: string[]): string {
    const sorted = Object.keys(files).sort().map((k) => [k, files[k]]);
    return sha256([JSON.stringify(sorted), ...certificates.map(sha256)].join("\n"));
}

export class HTCondorPool extends pulumi.ComponentResource {
    /** How the submit host reaches the pool. */
    public readonly endpoints: PoolEndpoints;
    /** The submit container's HTCondor configuration (config.ts, renderSubmitHostConfig). */
    public readonly submitHostConfig: string;
    /** The pool CA (public): the submit host verifies the collector and schedd with it. */
    public readonly caCertPem: pulumi.Output<string>;
    /** The pool CA's key pair (key secret): JupyterHub's certificate is signed with it (components/jupyterhub). */
    public readonly ca: KeyPair;
    public readonly namespace: string;

    constructor(name: string, args: HTCondorPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:htcondor:HTCondorPool", name, {}, opts);
        const { config } = args;
        const workers = config.nodes.workers.count;
        if (args.workerNodeNames.length < workers) {
            throw new pulumi.ResourceError(`${workers} workers are configured (incant:nodes.workers.count) but the cluster names only ${args.workerNodeNames.length} worker nodes`, this);
        }
        const reserved = config.users.filter((u) => isReservedAccount(u.name));
        if (reserved.length) {
            throw new pulumi.ResourceError(`incant:users names ${reserved.map((u) => u.name).join(", ")}, reserved for the pool's own identities [${config.stackFile}]`, this);
        }
        const ns = POOL_NAMESPACE;
        this.namespace = ns;
        const settings = poolSettings(config, ns, args.nodeAddress);
        this.endpoints = poolEndpoints(settings);
        this.submitHostConfig = renderSubmitHostConfig(this.endpoints, config);
        const child = { parent: this };

        // --- Namespaces and shared storage -------------------------------------------------
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, poolNamespace(ns), child);
        const inNs = { parent: this, dependsOn: [namespace] };
        const cvmfsNs = new k8s.core.v1.Namespace(`${name}-cvmfs-csi-namespace`, cvmfsNamespace(), child);
        const cvmfsCsi = new k8s.helm.v3.Release(`${name}-cvmfs-csi`, {
            name: "cvmfs-csi",
            chart: CVMFS_CSI_CHART,
            version: config.versions.cvmfsCsi,
            namespace: CVMFS_NAMESPACE,
            values: cvmfsCsiValues(config.cvmfs, cvmfsHttpProxy(config, { in: "cluster", serviceCidr: config.network.serviceCidr })),
        }, { parent: this, dependsOn: [cvmfsNs, ...(args.networkReady ?? [])] });
        const claims: pulumi.Resource[] = [
            new k8s.core.v1.PersistentVolumeClaim(`${name}-cvmfs`, cvmfsClaim(ns), { parent: this, dependsOn: [namespace, cvmfsCsi] }),
        ];
        const reserve = (id: string, volume: ReservedVolume) => {
            const pv = new k8s.core.v1.PersistentVolume(`${name}-${id}-pv`, volume.pv, child);
            claims.push(new k8s.core.v1.PersistentVolumeClaim(`${name}-${id}`, volume.pvc, { parent: this, dependsOn: [namespace, pv] }));
        };
        const storage = args.storage;
        if (storage) {
            // Cinder volumes that follow the scheduler and central manager pods (spoolCinderClaim).
            for (const spool of [SCHEDD_SPOOL, CENTRAL_MANAGER_SPOOL]) {
                claims.push(new k8s.core.v1.PersistentVolumeClaim(`${name}-${spool.claim}`, spoolCinderClaim(ns, spool, storage.storageClass),
                    { parent: this, dependsOn: [namespace, ...storage.ready] }));
            }
        } else {
            // The schedd's spool lives on the first worker (manifests.ts, SCHEDD_SPOOL).
            reserve("schedd-spool", spoolReservedVolume(ns, args.workerNodeNames[0]));
            // The central manager's on the second worker (the first when there is one), apart from the schedd's.
            reserve("central-manager-spool", spoolReservedVolume(ns, args.workerNodeNames[Math.min(1, args.workerNodeNames.length - 1)], CENTRAL_MANAGER_SPOOL));
        }
        const shares = nfsVolumes(args.nfs, config.nodes.storage.dataVolumeGb);
        for (const v of shares) reserve(v.name, nfsReservedVolume(v, ns));
        // The S3 archive at /s3/archive in the workers, through the rclone CSI driver (storage/archive-csi.ts).
        const archive = args.archive && new ArchiveCsi(`${name}-archive`, { ...args.archive, namespace: ns, dependsOn: [namespace], networkReady: args.networkReady }, child);
        if (archive) claims.push(archive.claim);

        // --- Credentials ---------------------------------------------------------------------
        const key = new random.RandomBytes(`${name}-pool-signing-key`, {
            length: SIGNING_KEY_BYTES,
            keepers: { keyGeneration: String(config.htcondor.keyGeneration) },
        }, child);
        // The file HTCondor reads (scrambled key bytes), base64 for the Secret's data.
        const keyFile = pulumi.secret(key.base64).apply((b64) => sensitive(keyFileFor(Buffer.from(b64, "base64")).toString("base64")));
        // The tokens' clock: its validity is their iat/exp, and the provider replaces it (so the tokens
        // are re-minted) on the first `pulumi up` inside the renewal window, like the TLS certificates.
        const clock = this.tokenClock(name, config.htcondor.tokenLifetimeDays);
        const token = (role: TokenRole) => pulumi.secret(pulumi.all([keyFile, clock.validityStartTime, clock.validityEndTime]).apply(([file, start, end]) =>
            sensitive(mintRoleToken(Buffer.from(file, "base64"), role, settings.trustDomain, tokenValidity(start, end)))));
        const startdToken = token("startd");
        const scheddToken = token("schedd");
        // The autoscaler's (components/autoscaler): READ at the collector only.
        const autoscalerToken = token("autoscaler");
        const secrets: pulumi.Resource[] = [
            new k8s.core.v1.Secret(`${name}-signing-key`, {
                metadata: { name: SECRETS.signingKey, namespace: ns, labels: labels("central-manager") },
                type: "Opaque",
                data: { POOL: keyFile },
            }, inNs),
            new k8s.core.v1.Secret(`${name}-startd-token`, {
                metadata: { name: SECRETS.startdToken, namespace: ns, labels: labels("worker") },
                type: "Opaque",
                stringData: { token: startdToken },
            }, inNs),
            new k8s.core.v1.Secret(`${name}-autoscaler-token`, {
                metadata: { name: SECRETS.autoscalerToken, namespace: ns, labels: { "app.kubernetes.io/name": "htcondor-autoscaler", "app.kubernetes.io/part-of": "incant" } },
                type: "Opaque",
                stringData: { token: autoscalerToken },
            }, inNs),
            new k8s.core.v1.Secret(`${name}-schedd-token`, {
                metadata: { name: SECRETS.scheddToken, namespace: ns, labels: labels("scheduler") },
                type: "Opaque",
                stringData: { token: scheddToken },
            }, inNs),
        ];
        // The pool's own CA (`${name}-ca-key`, `${name}-ca`): signs the collector's and the schedd's certificates.
        const ca = selfSignedCa(`${name}-ca`, { commonName: "INCANT HTCondor pool CA", organization: settings.trustDomain }, this,
            ["cert_signing", "crl_signing", "digital_signature"]);
        this.caCertPem = ca.certPem;
        this.ca = ca;
        const cmTls = this.serverCertificate(name, "central-manager", settings.collectorHostName, ca);
        const scheddTls = this.serverCertificate(name, "scheduler", settings.scheddHostName, ca);
        secrets.push(
            this.tlsSecret(name, "central-manager", SECRETS.centralManagerTls, cmTls, inNs),
            this.tlsSecret(name, "scheduler", SECRETS.schedulerTls, scheddTls, inNs),
        );

        // --- Configuration -------------------------------------------------------------------
        const preExec = readScript(__dirname, "pre-exec.sh");
        const exporter = readScript(path.join(__dirname, "..", "observability"), EXPORTER_SCRIPT);
        const usersScript = readScript(__dirname, USERS_SCRIPT);
        const configData: Record<PoolRole, Record<string, string>> = {
            "central-manager": { [CONFIG_KEY]: renderCondorConfig(centralManagerConfig(settings)), "pre-exec.sh": preExec, [USERS_SCRIPT]: usersScript, [EXPORTER_SCRIPT]: exporter },
            scheduler: { [CONFIG_KEY]: renderCondorConfig(schedulerConfig(settings)), "pre-exec.sh": preExec, [USERS_SCRIPT]: usersScript, [EXPORTER_SCRIPT]: exporter,
                // The credential monitor (credentials.ts), with job tokens only.
                ...(settings.jobTokens ? { [CREDMON_SCRIPT]: readScript(__dirname, CREDMON_SCRIPT) } : {}) },
            worker: {
                [CONFIG_KEY]: renderCondorConfig(workerConfig(settings)), "pre-exec.sh": preExec, [USERS_SCRIPT]: usersScript,
                ...Object.fromEntries(Object.values(HEALTH_SCRIPTS).map((s) => [s, readScript(__dirname, s)])),
            },
        };
        // The users, the map file and the users' part of the collector's and schedd's configuration:
        // in no checksum (users.ts), so a users change updates this object only and the pods follow it live.
        const usersData: Record<string, string> = {
            [USERS_KEYS.users]: renderUsersFile(config.users),
            [USERS_KEYS.mapfile]: renderMapfile(settings),
            [USERS_KEYS.config("central-manager")]: renderCondorConfig(usersConfig("central-manager", config.users, settings.trustDomain)),
            [USERS_KEYS.config("scheduler")]: renderCondorConfig(usersConfig("scheduler", config.users, settings.trustDomain)),
        };
        new k8s.core.v1.ConfigMap(`${name}-users`, {
            metadata: { name: USERS_CONFIGMAP, namespace: ns, labels: { "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": "users", ...PART_OF } },
            data: usersData,
        }, inNs);
        const configMaps = Object.fromEntries(Object.entries(configData).map(([role, data]) => [role,
            new k8s.core.v1.ConfigMap(`${name}-${role}`, {
                metadata: { name: `htcondor-${role}`, namespace: ns, labels: labels(role as PoolRole) },
                data,
            }, inNs)])) as Record<PoolRole, k8s.core.v1.ConfigMap>;

        const checksum = (role: PoolRole, certificates: pulumi.Input<string>[]) =>
            pulumi.all(certificates).apply((c) => podChecksum(configData[role], c));

        // --- Services and workloads ----------------------------------------------------------
        const services = [
            new k8s.core.v1.Service(`${name}-collector`, nodePortService("central-manager", ns, settings.collectorPort), inNs),
            new k8s.core.v1.Service(`${name}-schedd`, nodePortService("scheduler", ns, settings.schedulerPort), inNs),
        ];
        const common = {
            namespace: ns,
            collectorPort: settings.collectorPort, schedulerPort: settings.schedulerPort,
        };
        const byName = (names: string[]) => shares.filter((v) => names.includes(v.name));
        const daemons: DeploymentInputs[] = [
            { ...common, role: "central-manager", image: args.images.centralManager, replicas: 1, nfs: [], checksum: checksum("central-manager", [cmTls.certPem]) },
            { ...common, role: "scheduler", image: args.images.scheduler, replicas: 1, nfs: byName(["home", "scratch"]), checksum: checksum("scheduler", [scheddTls.certPem]), credmon: settings.jobTokens !== undefined },
            {
                ...common, role: "worker", image: args.images.worker, replicas: workers, nfs: shares, checksum: checksum("worker", []),
                workerResources: workerResources(config.flavors[config.nodes.workers.flavor]), cvmfsRepositories: config.cvmfs.repositories,
                archive: archive !== undefined,
            },
        ];
        for (const d of daemons) {
            new k8s.apps.v1.Deployment(`${name}-${d.role}`, deployment(d), {
                // With autoscaling on, the autoscaler owns the workers' replicas (docs/elasticity.md); off, Pulumi resets them.
                ignoreChanges: d.role === "worker" && config.autoscaling.enabled ? ["spec.replicas"] : [],
                // Not on the users ConfigMap: pulumi-kubernetes replaces a ConfigMap whose data changes
                // (unless the provider sets enableConfigMapMutable), which must not reach the pods; the
                // kubelet waits for the volume's ConfigMap anyway.
                parent: this, dependsOn: [namespace, configMaps[d.role], ...secrets, ...claims, ...services, ...(args.networkReady ?? [])],
            });
        }
        networkPolicies(ns, { collector: settings.collectorPort, scheduler: settings.schedulerPort },
            { vmCidr: config.network.cidr, podCidr: config.network.podCidr, serviceCidr: config.network.serviceCidr })
            .forEach((p) => new k8s.networking.v1.NetworkPolicy(`${name}-policy-${p.metadata.name}`, p, inNs));

        this.registerOutputs({ endpoints: this.endpoints, caCertPem: this.caCertPem, namespace: ns });
    }

    /**
     * The daemons' tokens' clock: a certificate nobody uses as one, valid `lifetimeDays` from its
     * creation, which the provider plans to replace once `tokenRenewalDays` or fewer are left.
     */
    private tokenClock(name: string, lifetimeDays: number): tls.SelfSignedCert {
        const key = new tls.PrivateKey(`${name}-token-clock-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        return new tls.SelfSignedCert(`${name}-token-clock`, {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: "INCANT HTCondor token clock (not a TLS identity)" },
            validityPeriodHours: lifetimeDays * 24,
            earlyRenewalHours: tokenRenewalDays(lifetimeDays) * 24,
            allowedUses: ["digital_signature"],
        }, { parent: this });
    }

    /** A server certificate for `host` (the name clients check), renewed a month before it expires. */
    private serverCertificate(name: string, role: PoolRole, host: string, ca: KeyPair): KeyPair {
        const key = new tls.PrivateKey(`${name}-${role}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const request = new tls.CertRequest(`${name}-${role}-tls-request`, {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: host, organization: "INCANT HTCondor pool" },
            dnsNames: [host],
        }, { parent: this });
        const cert = new tls.LocallySignedCert(`${name}-${role}-tls`, {
            certRequestPem: request.certRequestPem,
            caPrivateKeyPem: ca.keyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: 2 * 8760,
            earlyRenewalHours: 30 * 24,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        }, { parent: this });
        return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }

    private tlsSecret(name: string, role: PoolRole, secretName: string, tlsPair: KeyPair,
        opts: pulumi.CustomResourceOptions): k8s.core.v1.Secret {
        return new k8s.core.v1.Secret(`${name}-${role}-tls-secret`, {
            metadata: { name: secretName, namespace: POOL_NAMESPACE, labels: labels(role) },
            type: "kubernetes.io/tls",
            stringData: { "tls.crt": tlsPair.certPem, "tls.key": tlsPair.keyPem },
        }, opts);
    }
}
