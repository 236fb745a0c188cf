/**
 * The facility's configuration: one typed schema for everything that differs per environment.
 *
 * Every field is read from the stack file `Pulumi.<stack>.yaml` under the `incant:` namespace
 * (see `Pulumi.yaml` for the declared keys) and validated by `validateConfig` before any resource
 * is created. Secrets never appear here as plain strings: they are `pulumi.Output<string>` values
 * read with `config.requireSecret`, collected in `FacilitySecrets`.
 */
import * as pulumi from "@pulumi/pulumi";

/** How the program reaches OpenStack. Credentials stay outside the stack file when possible. */
export interface OpenStackAccess {
    /** Entry of clouds.yaml (`OS_CLOUD`); when unset the provider reads the `OS_*` environment variables. */
    cloud?: string;
    /** Keystone URL; INFN CLOUD Bari: https://keystone.recas.ba.infn.it/v3. Optional with `cloud`. */
    authUrl?: string;
    /** OpenStack region, e.g. `RegionOne`. */
    region: string;
    /** Glance image name for every VM (Ubuntu 22.04 or 24.04); used only while `imageId` is unset. */
    image: string;
    /**
     * The image's Glance id: pins every VM to it. Without it the program looks `image` up by name
     * on every run, and a newer image under that name would replace every VM (delete first).
     */
    imageId?: string;
    /** The image's Ubuntu release, which the cloud-init templates depend on. */
    ubuntuRelease: "22.04" | "24.04";
    /** Name of the external (provider) network that floating IPs and the router gateway come from. */
    externalNetwork: string;
    /** Nova availability zone; unset lets the scheduler choose. */
    availabilityZone?: string;
    /** Application credential id (for CI); its secret is the config key `incant:osApplicationCredentialSecret`. */
    applicationCredentialId?: string;
    /**
     * The OpenStack cloud controller manager and Cinder CSI driver in the cluster
     * (components/kubernetes/cloud-provider.ts): Cinder volumes for pods, Nodes of deleted VMs
     * removed. Needs `authUrl`; the cluster gets an application credential of its own.
     */
    cloudProvider: boolean;
    /** The site offers Octavia: LoadBalancer Services get a load balancer with a floating IP. */
    octavia: boolean;
}

/** Size of one Nova flavor, declared so the quota check works offline. Must match `openstack flavor list`. */
export interface FlavorSize {
    vcpus: number;
    ramGb: number;
}

/** Private network layout. */
export interface NetworkConfig {
    /** CIDR of the private subnet every VM lives on. */
    cidr: string;
    /** DNS resolvers handed out by the subnet's DHCP. */
    dnsServers: string[];
    /** Pod network (Calico); must not overlap `cidr` or `serviceCidr`. */
    podCidr: string;
    /** Kubernetes Service network; must not overlap `cidr` or `podCidr`. */
    serviceCidr: string;
    /** Operators' networks: SSH to every VM with a floating IP and the Kubernetes API (6443). */
    adminCidrs: string[];
    /** Physicists' networks: SSH to the submit host only. Defaults to `adminCidrs`. */
    userCidrs: string[];
    /**
     * Lifts the width limits of `adminCidrs` and `userCidrs` (one entry at most a /15, a list at
     * most 2^20 addresses; docs/security.md). Never admits half of IPv4 or more.
     */
    allowWideCidrs?: WideCidrsOverride;
}

/** An explicit, reviewed exception to the CIDR width limits. */
export interface WideCidrsOverride {
    /** Why these networks must be this wide (at least 20 characters: who connects from where). */
    reason: string;
}

/** One group of identical VMs. */
export interface NodeGroup {
    /** How many VMs (control plane: 1 or 3; workers: any positive number). */
    count: number;
    /** Nova flavor name; must be a key of `incant:flavors`. */
    flavor: string;
    /** Size of the boot volume in GB (the VM boots from a Cinder volume). */
    diskGb: number;
}

/** The storage controller VM and its data volume. */
export interface StorageNode {
    flavor: string;
    diskGb: number;
    /** Cinder data volume for homes and scratch, in GB. */
    dataVolumeGb: number;
    /** Each user's home quota in GB (ext4 project quota; 0: no limit); users[].homeQuotaGb overrides it. */
    homeQuotaGb: number;
    /** Each user's scratch quota in GB (0: no limit); users[].scratchQuotaGb overrides it. */
    scratchQuotaGb: number;
}

/** The detached submit host VM. */
export interface SubmitNode {
    flavor: string;
    diskGb: number;
}

export interface NodesConfig {
    controlPlane: NodeGroup;
    workers: NodeGroup;
    storage: StorageNode;
    submit: SubmitNode;
}

/** The project's resource pool (the paper's Table 1 by default). */
export interface QuotaConfig {
    vcpus: number;
    ramGb: number;
    /** Block storage: every boot volume and data volume counts. */
    blockStorageGb: number;
}

/** Pinned versions of everything the facility installs. Never `latest`. */
export interface VersionsConfig {
    /** Kubernetes minor version, e.g. "1.31" (pkgs.k8s.io repository). */
    kubernetes: string;
    /** Exact kubelet/kubeadm package version inside that minor, e.g. "1.31.4". */
    kubernetesPatch: string;
    /** HTCondor image tag of the official images (htcondor/cm, execute, submit). */
    htcondor: string;
    /** tigera-operator Helm chart version (Calico). */
    calico: string;
    /** kube-prometheus-stack Helm chart version. */
    monitoring: string;
    /** cvmfs-csi Helm chart version. */
    cvmfsCsi: string;
    /** Tag of registry.cern.ch/cvmfs/service used on the submit host. */
    cvmfsService: string;
}

/** INDIGO-IAM federation. */
export interface IamConfig {
    /** Token issuer, with trailing slash as IAM prints it. */
    issuer: string;
    /** Audience the schedd accepts in SciTokens; defaults to the HTCondor TRUST_DOMAIN. */
    audience?: string;
    /** IAM groups allowed to use kubectl with their IAM token; empty disables OIDC on the API server. */
    kubernetesGroups: string[];
    /** Tokens for jobs (condor_credd + the facility's credmon, components/htcondor/credentials.ts); unset: none. */
    jobTokens?: JobTokensConfig;
}

/** The IAM client and tokens jobs get with `use_oauth_services` (docs/security.md, "Credentials for jobs"). */
export interface JobTokensConfig {
    /** The IAM client registered for job tokens: device code and refresh token grants, public (no secret). */
    clientId: string;
    /** The name jobs ask for (`use_oauth_services = <service>`), the sandbox file `<service>.use`; default `wlcg`. */
    service: string;
    /** Scopes of the tokens (WLCG profile); default `storage.read:/`, `storage.modify:/`. */
    scopes: string[];
    /** Audience of the tokens; default `https://wlcg.cern.ch/jwt/v1/any` (the WLCG profile's any). */
    audience: string;
    /**
     * The IAM that issues them, with its trailing slash; default `iam.issuer`. CERN's EOS accepts
     * tokens of the experiment's IAM (ATLAS: https://atlas-auth.cern.ch/), not INFN CLOUD's.
     */
    issuer?: string;
}

/** S3-compatible archive mounted on the storage controller with rclone. */
export interface S3Config {
    /** Endpoint URL; INFN CLOUD: https://rgw.cloud.infn.it. */
    endpoint: string;
    bucket: string;
    region: string;
    /** Let the submit host's rclone mount of the archive write (default read-only; the pool never mounts it). */
    exportReadWrite: boolean;
    /** Where credentials come from: static keys in config secrets, or STS with an IAM token. */
    credentials: "static" | "sts";
    /**
     * IAM client whose tokens (client credentials grant) the gateway's STS accepts; required with
     * `credentials: sts`. Its secret is the config secret `incant:s3IamClientSecret`.
     */
    iamClientId?: string;
    /** Role assumed with AssumeRoleWithWebIdentity (INFN CLOUD: arn:aws:iam:::role/IAMaccess). */
    stsRoleArn: string;
}

/** Container registry for the ATLAS-enabled images. */
export interface RegistryConfig {
    /** Registry host, e.g. harbor.cloud.infn.it. Empty: use `images` references as given, build nothing. */
    server?: string;
    /** Project/namespace in the registry, e.g. `incant`. */
    project: string;
    /** Robot account user name; its password is the secret `incant:registryPassword`. */
    username?: string;
}

/** Image references used when no registry is configured (or to pin what was built elsewhere). */
export interface ImagesConfig {
    worker: string;
    scheduler: string;
    centralManager: string;
    submit: string;
}

/** One physicist with an account on the facility. */
export interface FacilityUser {
    /** POSIX login name. */
    name: string;
    /** POSIX uid (and gid of the user's private group); identical on every host. */
    uid: number;
    /** IAM `sub` claim of the user's tokens. */
    iamSubject: string;
    /**
     * The user's share of the pool, relative to the other users' (1-100, default 1: equal shares):
     * the dynamic quota of the user's accounting group (components/htcondor/fairshare.ts).
     */
    share?: number;
    /**
     * OpenSSH public key the user logs in with, as themselves, to the submit container's sshd
     * (components/submit/access.ts). Unset: no login for this user until one is set.
     */
    sshPublicKey?: string;
    /** This user's home quota in GB (0: no limit); default nodes.storage.homeQuotaGb. */
    homeQuotaGb?: number;
    /** This user's scratch quota in GB (0: no limit); default nodes.storage.scratchQuotaGb. */
    scratchQuotaGb?: number;
}

/** HTCondor pool settings. */
export interface HTCondorConfig {
    /** TRUST_DOMAIN and UID_DOMAIN of the pool; also the IDTOKEN issuer. */
    trustDomain: string;
    /** NodePort of the collector (also its container port, so CCB addresses are reachable). */
    collectorPort: number;
    /** NodePort of the schedd's shared port, reached by the submit host. */
    schedulerPort: number;
    /** Bump to re-key the pool and re-mint every token (rotation): applied live, no pod restarts (docs/operations.md). */
    keyGeneration: number;
    /**
     * Lifetime of the daemons' IDTOKENs (their `exp`), in days. `pulumi up` re-mints them in the last
     * third of it (the token clock, components/htcondor/tokens.ts); the pods take the new ones live.
     */
    tokenLifetimeDays: number;
    /** PRIORITY_HALFLIFE in hours: how fast the negotiator forgets a user's past usage (HTCondor's default 24). */
    priorityHalfLifeHours: number;
    /**
     * CLAIM_WORKLIFE in seconds: how long the schedd may keep starting one user's next jobs on a slot
     * it claimed, before the slot goes back to the negotiator (and so to the user with the best priority).
     */
    claimWorklifeSeconds: number;
}

/** CVMFS client settings shared by the CSI driver and the submit host. */
export interface CvmfsConfig {
    repositories: string[];
    /**
     * CVMFS_HTTP_PROXY for every client, overriding the facility's squid (incant:cache): "DIRECT"
     * or a site's own proxies, as an explicit opt-out. Unset (the default): the facility's squid.
     */
    httpProxy?: string;
}

/** The facility's squid for CVMFS and Frontier (components/cache). */
export interface CacheConfig {
    /** Run it (default true). Off: `cvmfs.httpProxy` must say which proxy (or DIRECT) clients use. */
    enabled: boolean;
    /** The frontier-squid image (pinned tag or digest). */
    image: string;
    /** Disk cache, GB (an emptyDir on the control plane's disk). */
    diskGb: number;
    /** Memory cache, MB. */
    memoryMb: number;
    /** Clients fall back to DIRECT (the Stratum-1s themselves) when the squid does not answer (default false). */
    directFallback: boolean;
}

/**
 * The elastic pool (components/autoscaler, docs/elasticity.md): worker pods follow the queue
 * between `min` and `max`, inside the quota; scale-in drains first and removes idle workers only.
 */
export interface AutoscalingConfig {
    /** The kill switch: false = the controller observes and reports but changes nothing (and Pulumi keeps `nodes.workers.count` worker pods). Default false. */
    enabled: boolean;
    /** Worker pods at least (0 allowed: the central manager and the schedd do not run on worker pods' slots). */
    min: number;
    /** Worker pods at most; at most `nodes.workers.count` (one worker pod per worker VM). Default: `nodes.workers.count`. */
    max: number;
    /** Seconds after any change before the next scale-up. */
    scaleUpCooldownSeconds: number;
    /** Seconds after any change before the next scale-in step (a drain, then a removal). */
    scaleDownCooldownSeconds: number;
    /** A worker must have run nothing this long before it is drained. */
    idleSeconds: number;
    /** Seconds between two controller cycles. */
    intervalSeconds: number;
}

/**
 * JupyterHub, the interactive analysis platform (components/jupyterhub/README.md): IAM login,
 * each user's server as their own uid with the pool's NFS shares and CVMFS.
 */
export interface JupyterHubConfig {
    /** Install the hub (default false; on in dev). */
    enabled: boolean;
    /**
     * IAM client of the hub (authorization-code flow; redirect URI
     * `https://<kubernetesApiHost>:<nodePort>/hub/oauth_callback`). Its secret is the config
     * secret `incant:jupyterhubIamClientSecret`. Required when enabled.
     */
    iamClientId?: string;
    /** HTTPS NodePort of the hub, opened to `network.userCidrs` on the control planes (30000-32767). */
    nodePort: number;
    /** The single-user server image (pinned tag): provides `jupyterhub-singleuser`. */
    image: string;
    /** The LCG view on sft.cern.ch offered as the analysis kernel (uproot, awkward, coffea, dask, HTCondor bindings). */
    lcgView: string;
    /** Per-user CPU limit, cores. */
    cpuLimit: number;
    /** Per-user memory limit, GiB. */
    memoryLimitGb: number;
    /** Servers idle this long (seconds) are stopped. */
    cullIdleSeconds: number;
}

/** Everything the program reads from the stack configuration, validated. */
export interface FacilityConfig {
    /** Stack name, e.g. "dev" (from the Pulumi runtime). */
    stack: string;
    /** Name of the stack file, used in error messages and docs. */
    stackFile: string;
    /** Environment label put on every resource; defaults to the stack name. */
    environment: string;
    /** Short prefix of every cloud resource name, e.g. "incant-dev". */
    namePrefix: string;
    openstack: OpenStackAccess;
    flavors: Record<string, FlavorSize>;
    network: NetworkConfig;
    nodes: NodesConfig;
    quota: QuotaConfig;
    sshPublicKey: string;
    versions: VersionsConfig;
    iam: IamConfig;
    s3: S3Config;
    registry: RegistryConfig;
    images: ImagesConfig;
    users: FacilityUser[];
    htcondor: HTCondorConfig;
    cvmfs: CvmfsConfig;
    cache: CacheConfig;
    jupyterhub: JupyterHubConfig;
    autoscaling: AutoscalingConfig;
    /** How long the program waits for the Kubernetes API and the submit host, in seconds. */
    readinessTimeoutSeconds: number;
}

/** Secret configuration values, kept as Pulumi secrets end to end. */
export interface FacilitySecrets {
    /** OpenStack application credential secret, when `openstack.applicationCredentialId` is set. */
    osApplicationCredentialSecret?: pulumi.Output<string>;
    /** S3 access key id and secret key (static credentials). */
    s3AccessKeyId?: pulumi.Output<string>;
    s3SecretAccessKey?: pulumi.Output<string>;
    /** Secret of the IAM client `s3.iamClientId` (s3.credentials "sts"). */
    s3IamClientSecret?: pulumi.Output<string>;
    /** Registry robot password, when a registry is configured. */
    registryPassword?: pulumi.Output<string>;
    /** Secret of the IAM client `jupyterhub.iamClientId`. */
    jupyterhubIamClientSecret?: pulumi.Output<string>;
    /** Private SSH key the program uses to reach the submit host's Docker daemon. */
    sshPrivateKey?: pulumi.Output<string>;
}
