/**
 * Defaults: the paper's INCANT proof of concept (Marcon et al.), sections 2.2-2.5.
 * A stack file only needs to say what differs from these.
 */
import { FacilityConfig } from "./schema";

/** Everything but the stack identity, which comes from the Pulumi runtime. */
export type ConfigDefaults = Omit<FacilityConfig, "stack" | "stackFile" | "environment" | "namePrefix" | "sshPublicKey">;

export const DEFAULTS: ConfigDefaults = {
    openstack: {
        region: "RegionOne",
        image: "ubuntu-22.04",
        ubuntuRelease: "22.04",
        externalNetwork: "public",
        // Off unless the stack file names its Keystone (authUrl) and turns it on (dev and prod do).
        cloudProvider: false,
        octavia: false,
    },
    // INFN CLOUD's general-purpose flavors; check `openstack flavor list` on your site.
    flavors: {
        small: { vcpus: 1, ramGb: 2 },
        medium: { vcpus: 2, ramGb: 4 },
        large: { vcpus: 4, ramGb: 8 },
        xlarge: { vcpus: 8, ramGb: 16 },
    },
    network: {
        cidr: "192.168.100.0/24",
        dnsServers: ["131.154.1.1", "1.1.1.1"],
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.96.0.0/12",
        adminCidrs: [],
        userCidrs: [],
    },
    // Section 2.3: 8 VMs of 4 vCPU / 8 GB / 100 GB -> 1 control plane + 7 workers.
    nodes: {
        controlPlane: { count: 1, flavor: "large", diskGb: 100 },
        workers: { count: 7, flavor: "large", diskGb: 100 },
        // Quotas are limits, not reservations: their sum may exceed the volume (components/storage/quotas.ts).
        storage: { flavor: "medium", diskGb: 30, dataVolumeGb: 100, homeQuotaGb: 100, scratchQuotaGb: 100 },
        submit: { flavor: "large", diskGb: 50 },
    },
    // Table 1: the INCANT R&D resource pool.
    quota: { vcpus: 92, ramGb: 168, blockStorageGb: 1000 },
    versions: {
        // 1.35 (end of life 2027-02-28) is the last minor for Ubuntu's containerd 1.7: components/kubernetes/versions.ts.
        kubernetes: "1.35",
        kubernetesPatch: "1.35.9",
        // At or above the fixed versions of HTCONDOR-2026-0001 (24.0.22) and -0002 (25.13.3 for 25.x),
        // and 24.0.23 for FS authentication with TCP_FORWARDING_HOST (HTCONDOR-3860), which the pool sets.
        htcondor: "24.0.23",
        // A maintained line tested on Kubernetes 1.35 (docs.tigera.io, requirements; v3.32.3 of 2026-10-28).
        calico: "v3.32.3",
        monitoring: "66.3.1",
        cvmfsCsi: "2.5.0",
        cvmfsService: "2.12.6-1",
    },
    iam: { issuer: "https://iam.cloud.infn.it/", kubernetesGroups: [] },
    s3: {
        endpoint: "https://rgw.cloud.infn.it",
        bucket: "incant-archive",
        region: "us-east-1",
        exportReadWrite: false,
        credentials: "static",
        stsRoleArn: "arn:aws:iam:::role/IAMaccess",
    },
    registry: { project: "incant" },
    images: {
        worker: "harbor.cloud.infn.it/incant/atlas-worker:24.0.23-1",
        scheduler: "harbor.cloud.infn.it/incant/atlas-scheduler:24.0.23-1",
        centralManager: "htcondor/cm:24.0.23-el9",
        submit: "harbor.cloud.infn.it/incant/atlas-submit:24.0.23-1",
    },
    users: [],
    htcondor: {
        trustDomain: "incant.cloud.infn.it",
        collectorPort: 30618,
        schedulerPort: 30619,
        keyGeneration: 1,
        // 90 days, renewed by `pulumi up` in the last 30 (the pool's TLS certificates' margin): the
        // daily drift check shows the renewal for a month before a token could expire, and a leaked
        // token stops working within a quarter even if nobody re-keys.
        tokenLifetimeDays: 90,
        priorityHalfLifeHours: 24,
        // Half of HTCondor's 1200 s: a user with a long queue gives slots back within 10 minutes of
        // its claims (plus the running job), yet keeps them across several short jobs.
        claimWorklifeSeconds: 600,
    },
    cvmfs: {
        repositories: ["atlas.cern.ch", "atlas-condb.cern.ch", "sft.cern.ch", "unpacked.cern.ch"],
    },
    // The site squid (issue 17): OSG's frontier-squid build, release series 24 (its tag follows the
    // series' security rebuilds; pin a digest in a stack file to freeze it: no registry is reachable
    // from the offline render to resolve one).
    cache: {
        enabled: true,
        image: "hub.opensciencegrid.org/opensciencegrid/frontier-squid:24-release",
        diskGb: 20,
        memoryMb: 512,
        directFallback: false,
    },
    // Off unless asked for: it needs an IAM client registered for the hub's URL.
    jupyterhub: {
        enabled: false,
        nodePort: 30443,
        // The chart's own single-user image of the pinned chart version (jupyterhub-singleuser, JupyterLab).
        image: "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0",
        lcgView: "/cvmfs/sft.cern.ch/lcg/views/LCG_107/x86_64-el9-gcc13-opt",
        cpuLimit: 2,
        memoryLimitGb: 2,
        cullIdleSeconds: 3600,
    },
    // Off unless asked for (the kill switch); max defaults to nodes.workers.count (validate.ts).
    autoscaling: {
        enabled: false,
        min: 1,
        max: 0,
        scaleUpCooldownSeconds: 60,
        scaleDownCooldownSeconds: 300,
        idleSeconds: 600,
        intervalSeconds: 30,
    },
    readinessTimeoutSeconds: 900,
};

/**
 * iam.jobTokens without service, scopes or audience: WLCG-profile storage scopes for EOS
 * (WLCG Common JWT Profiles 1.0, "Capability-based authorization: storage.read, storage.modify")
 * and the profile's audience for any resource server.
 */
export const JOB_TOKEN_DEFAULTS = {
    service: "wlcg",
    scopes: ["storage.read:/", "storage.modify:/"],
    audience: "https://wlcg.cern.ch/jwt/v1/any",
} as const;
