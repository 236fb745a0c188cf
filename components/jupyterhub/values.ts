/**
 * The zero-to-jupyterhub chart's values for the facility's hub, as typed data (pure functions;
 * hub.ts installs the release). Only the keys set here are typed; the chart's own
 * values.schema.json of the pinned version (vendor/, README.md) checks them in the tests.
 *
 *   physicist ──HTTPS :nodePort──▶ control plane (floating IP) ──kube-proxy──▶ proxy (CHP, TLS) ──▶ hub
 *                                                                                 └────────────▶ jupyter-<user> pod
 *   hub: GenericOAuthenticator (IAM), KubeSpawner (uid = the user's, /home /scratch NFS, /cvmfs/<repo>)
 *   jupyter-<user> ──condor_submit (SciTokens)──▶ schedd ──▶ startd pods run `dask worker tcp://<pod>:8786`
 */
import { FacilityConfig, FacilityUser } from "../config/schema";
import { CVMFS_CLAIM } from "../htcondor/cvmfs";
import { NfsVolume } from "../htcondor/manifests";

/** The chart, pinned: its values schema is vendored from this version (vendor/README.md). */
export const JUPYTERHUB_CHART = {
    repo: "https://hub.jupyter.org/helm-chart/",
    chart: "jupyterhub",
    version: "4.4.0",
} as const;

export const JUPYTERHUB_NAMESPACE = "jupyterhub";
/** The proxy's certificate (kubernetes.io/tls), signed by the pool CA for the hub's address. */
export const HUB_TLS_SECRET = "jupyterhub-tls";
/**
 * The hub's sqlite database (never on NFS): on a Cinder volume when the cluster has the Cinder CSI
 * driver (openstack.cloudProvider), else on a Kubernetes local volume of a worker. The chart's claim is `hub-db-dir`; hub.ts reserves the PV for it.
 */
export const HUB_DB = { hostPath: "/var/lib/incant/jupyterhub-db", claim: "hub-db-dir", capacity: "1Gi" } as const;
/** The Dask scheduler's and dashboard's ports in a user's pod (distributed's defaults). */
export const DASK_PORTS = { scheduler: 8786, dashboard: 8787 } as const;
/** Where the hub reads the facility's users (hub.extraFiles), read by incant_hub_config.py. */
export const HUB_USERS_FILE = "/usr/local/etc/jupyterhub/incant/users.json";
/** Files every user's server gets (singleuser.extraFiles). */
export const USER_FILES = {
    condorConfig: "/etc/incant/condor_config",
    poolCa: "/etc/incant/pool-ca.pem",
    bashrc: "/etc/incant/bashrc",
    serverConfig: "/usr/local/etc/jupyter/jupyter_server_config.json",
    kernel: "/usr/local/share/jupyter/kernels/incant-lcg/kernel.json",
} as const;
/**
 * The hub's requests are small; a user's server guarantees little and may burst to its limits:
 * the nodes are mostly taken by the HTCondor startd pods (manifests.ts workerResources), and
 * heavy work belongs on Dask workers in the pool.
 */
export const USER_GUARANTEES = { cpu: 0.25, memory: "512M" } as const;

/** What hub.extraFiles and the hub config snippet read: the facility's users by IAM subject. */
export interface HubUsersFile {
    users: Pick<FacilityUser, "name" | "uid" | "iamSubject">[];
}

export function hubUsersFile(users: FacilityUser[]): HubUsersFile {
    return { users: users.map(({ name, uid, iamSubject }) => ({ name, uid, iamSubject })) };
}

/** IAM's OpenID Connect endpoints (INDIGO-IAM: /authorize, /token, /userinfo under the issuer). */
export function iamEndpoints(issuer: string): { authorize: string; token: string; userinfo: string } {
    const base = issuer.replace(/\/$/, "");
    return { authorize: `${base}/authorize`, token: `${base}/token`, userinfo: `${base}/userinfo` };
}

/** The hub's public URL: the NodePort on the cluster's floating IP (the certificate names that IP). */
export function hubUrl(host: string, nodePort: number): string {
    return `https://${host}:${nodePort}/`;
}

/** The redirect URI registered with the hub's IAM client. */
export function callbackUrl(host: string, nodePort: number): string {
    return `${hubUrl(host, nodePort)}hub/oauth_callback`;
}

/** Everything the values are built from. */
export interface HubValuesInputs {
    config: Pick<FacilityConfig, "jupyterhub" | "iam" | "users" | "cvmfs">;
    /** hubUrl(...) + "hub/oauth_callback" (an Output in the program: the floating IP is the cloud's). */
    callbackUrl: unknown;
    /** The pool's NFS volumes (home, scratch): the same exports, new claims in the hub's namespace. */
    nfs: NfsVolume[];
    /** Secrets, as whatever the caller holds them (pulumi.Output in the program, strings in tests). */
    secrets: { clientSecret: unknown; cookieSecret: unknown; proxyToken: unknown; cryptKey: unknown };
    /** The hub config snippet (incant_hub_config.py). */
    hubConfigSnippet: string;
    /** Files of every user's server (userfiles.ts). */
    userFiles: UserFiles;
    /** The pool's address ranges and ports, for the user pods' egress. */
    pool: { ranges: { vmCidr: string; podCidr: string }; ports: { collector: number; scheduler: number } };
    /** The hub database's StorageClass: the cluster's Cinder class, or "" for the reserved local volume (hubDbVolume). */
    dbStorageClass?: string;
}

/** The text of the files in USER_FILES (the pool CA: an Output in the program). */
export type UserFiles = Record<Exclude<keyof typeof USER_FILES, "poolCa">, string> & { poolCa: unknown };

type Volume = Record<string, unknown>;
type VolumeMount = { name: string; mountPath: string; subPath?: string; readOnly?: boolean; mountPropagation?: string };

/** Volumes of a user's pod: the pool's NFS shares (claims in the hub's namespace) and CVMFS read-only. */
export function userVolumes(nfs: NfsVolume[], repositories: string[]): { volumes: Volume[]; mounts: VolumeMount[] } {
    const volumes: Volume[] = nfs.map((v) => ({ name: v.name, persistentVolumeClaim: { claimName: v.name, readOnly: v.readOnly } }));
    const mounts: VolumeMount[] = nfs.map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: v.readOnly }));
    volumes.push({ name: "cvmfs", persistentVolumeClaim: { claimName: CVMFS_CLAIM, readOnly: true } });
    // As the workers mount them (cvmfs.ts cvmfsVolumeMounts): one read-only subPath per repository.
    mounts.push(...repositories.map((repo) => ({ name: "cvmfs", mountPath: `/cvmfs/${repo}`, subPath: repo, readOnly: true, mountPropagation: "HostToContainer" })));
    return { volumes, mounts };
}

/** singleuser.extraFiles entries for USER_FILES (read-only, world-readable: nothing secret). */
function extraFiles(files: UserFiles): Record<string, { mountPath: string; stringData: unknown; mode: number }> {
    return Object.fromEntries(Object.entries(USER_FILES).map(([key, mountPath]) =>
        [key, { mountPath, stringData: files[key as keyof UserFiles], mode: 0o444 }]));
}

/** The Helm values of the z2jh chart (jupyterhub/values.yaml of JUPYTERHUB_CHART.version). */
export function hubValues(i: HubValuesInputs) {
    const hub = i.config.jupyterhub;
    const iam = iamEndpoints(i.config.iam.issuer);
    const { volumes, mounts } = userVolumes(i.nfs, i.config.cvmfs.repositories);
    const users = hubUsersFile(i.config.users);
    return {
        hub: {
            cookieSecret: i.secrets.cookieSecret,
            config: {
                JupyterHub: {
                    authenticator_class: "generic-oauth",
                    // No hub admins: operators use kubectl (an admin could act as any user).
                    admin_access: false,
                },
                // oauthenticator 17 (the chart's hub image): IAM's OIDC endpoints; the allowed users and the
                // sub -> login mapping are set by incant_hub_config.py from HUB_USERS_FILE.
                GenericOAuthenticator: {
                    client_id: hub.iamClientId,
                    client_secret: i.secrets.clientSecret,
                    oauth_callback_url: i.callbackUrl,
                    authorize_url: iam.authorize,
                    token_url: iam.token,
                    userdata_url: iam.userinfo,
                    // condor:/READ and /WRITE: the schedd refuses a token without them (FACTS.md, SciTokens).
                    scope: ["openid", "profile", "offline_access", "condor:/READ", "condor:/WRITE"],
                    // The access token goes to the user's server (auth_state_hook); refreshed before a spawn.
                    enable_auth_state: true,
                    refresh_pre_spawn: true,
                    auth_refresh_age: 300,
                },
                // Encrypts auth_state (the users' IAM tokens) in the hub's database.
                CryptKeeper: { keys: [i.secrets.cryptKey] },
            },
            extraConfig: { "10-incant": i.hubConfigSnippet },
            extraFiles: {
                "incant-users": { mountPath: HUB_USERS_FILE, data: users, mode: 0o444 },
            },
            // The database on the local volume reserved for it (hub.ts): the cluster has no storage class.
            db: { type: "sqlite-pvc", pvc: { storage: HUB_DB.capacity, accessModes: ["ReadWriteOnce"], storageClassName: i.dbStorageClass ?? "" } },
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
            // The chart lets the hub and proxy reach the metadata service by default; Calico's platform
            // tier denies it anyway (components/kubernetes/calico.ts), and so do we here.
            networkPolicy: { enabled: true, egressAllowRules: { cloudMetadataServer: false } },
        },
        proxy: {
            secretToken: i.secrets.proxyToken,
            service: {
                type: "NodePort",
                nodePorts: { https: hub.nodePort },
                // HTTPS only: no plain-HTTP port on the Service at all.
                disableHttpPort: true,
            },
            // CHP terminates TLS with the pool CA's certificate for the hub's address ("secret": no autohttps pod).
            https: { enabled: true, type: "secret", secret: { name: HUB_TLS_SECRET, key: "tls.key", crt: "tls.crt" } },
            chp: {
                resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } },
                // From anywhere only to HTTPS (the chart's default also admits http).
                networkPolicy: { allowedIngressPorts: ["https"], egressAllowRules: { cloudMetadataServer: false } },
            },
        },
        singleuser: {
            image: imageValues(hub.image),
            // uid/gid per user come from incant_hub_config.py; no fsGroup: it would make the kubelet
            // chown what it mounts (CVMFS), and NFS homes are already owned by their users.
            uid: null,
            fsGid: null,
            // Calico's platform tier blocks the metadata service for every pod (components/kubernetes/calico.ts);
            // the chart's iptables init container would need NET_ADMIN, which Pod Security baseline refuses.
            cloudMetadata: { blockWithIptables: false },
            storage: { type: "none", extraVolumes: volumes, extraVolumeMounts: mounts },
            extraFiles: extraFiles(i.userFiles),
            extraEnv: {
                CONDOR_CONFIG: USER_FILES.condorConfig,
                INCANT_LCG_VIEW: hub.lcgView,
            },
            cpu: { limit: hub.cpuLimit, guarantee: USER_GUARANTEES.cpu },
            memory: { limit: `${hub.memoryLimitGb}G`, guarantee: USER_GUARANTEES.memory },
            startTimeout: 600,
            networkPolicy: {
                enabled: true,
                // Dask workers (HTCondor jobs in startd pods) connect back to the user's scheduler.
                ingress: [{
                    from: [POOL_WORKER_PODS],
                    ports: [{ protocol: "TCP", port: DASK_PORTS.scheduler }],
                }],
                // The Internet (data, package indexes) but no private range, except the pool's flows.
                egressAllowRules: { privateIPs: false, nonPrivateIPs: true, cloudMetadataServer: false },
                egress: userEgress(i.pool.ranges, i.pool.ports),
            },
        },
        // The user scheduler and image pullers are not needed at this size (and the pullers' hook
        // would hold every deploy until all nodes pulled the image).
        scheduling: { userScheduler: { enabled: false } },
        prePuller: { hook: { enabled: false }, continuous: { enabled: false } },
        cull: { enabled: true, timeout: hub.cullIdleSeconds, every: Math.min(600, hub.cullIdleSeconds), users: false },
        debug: { enabled: false },
    };
}

/** `name:tag` -> the chart's image {name, tag}. */
export function imageValues(ref: string): { name: string; tag: string } {
    const at = ref.lastIndexOf(":");
    if (at <= ref.lastIndexOf("/")) throw new Error(`image ${ref} has no tag`);
    return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
}

/** Labels of the pool's worker pods and of users' servers (KubeSpawner's component label). */
export const POOL_WORKER_PODS = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "htcondor" } }, podSelector: { matchLabels: { "app.kubernetes.io/component": "worker" } } };
export const USER_PODS = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": JUPYTERHUB_NAMESPACE } }, podSelector: { matchLabels: { component: "singleuser-server" } } };

/** The HTCondor and Dask egress of user pods (networkPolicy.egress, beside the chart's rules). */
export function userEgress(ranges: { vmCidr: string; podCidr: string }, ports: { collector: number; scheduler: number }) {
    return [
        { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "htcondor" } } }], ports: [{ protocol: "TCP", port: ports.collector }, { protocol: "TCP", port: ports.scheduler }] },
        // The schedd advertises its NodePort on a node address (TCP_FORWARDING_HOST).
        { to: [{ ipBlock: { cidr: ranges.vmCidr } }], ports: [{ protocol: "TCP", port: ports.scheduler }, { protocol: "TCP", port: ports.collector }] },
        // Dask: the scheduler reaches its workers (worker and nanny ports are random: any TCP to worker pods).
        { to: [POOL_WORKER_PODS] },
    ];
}
