/**
 * INCANT on INFN CLOUD: one stack per environment (Pulumi.<env>.yaml).
 * This file only wires the components, in the order of the paper's boxes, and exports outputs.
 */
import * as openstack from "@pulumi/openstack";
import { loadConfig } from "./components/config/load";
import { plannedVms } from "./components/config/quota";
import { VmPlacement, vmImageId } from "./components/compute/placement";
import { Network } from "./components/network/network";
import { KubernetesCluster } from "./components/kubernetes/cluster";
import { StorageController } from "./components/storage/controller";
import { LAYOUT } from "./components/storage/layout";
import { poolArchiveArgs } from "./components/storage/archive-csi";
import { AtlasImages } from "./components/htcondor/images";
import { HTCondorPool, POOL_NAMESPACE } from "./components/htcondor/pool";
import { SiteCache } from "./components/cache/cache";
import { SQUID_NODE_PORT } from "./components/cache/squid";
import { PoolObservability } from "./components/observability/observability";
import { Autoscaler } from "./components/autoscaler";
import { NODE_DIRECTORIES } from "./components/htcondor/manifests";
import { SubmitHost } from "./components/submit/host";
import { SUBMIT_SSH_PORT } from "./components/network/ports";
import { JupyterHub } from "./components/jupyterhub/hub";
import { HUB_DB } from "./components/jupyterhub/values";
import { OUTPUTS_CONTRACT } from "./contracts/outputs";
import { skipUnreadPromiseStacks } from "./components/promiseStacks";

// The SDK's per-promise stack traces are read only when debugging leaks; at a thousand workers
// they were most of the run time (components/promiseStacks.ts, docs/benchmarks.md).
skipUnreadPromiseStacks();

// Validate everything before any resource is registered.
const { config, secrets } = loadConfig();
const vms = plannedVms(config);
const metadata = { stack: config.stack, environment: config.environment, project: "incant" };

const cloud = new openstack.Provider("openstack", {
    cloud: config.openstack.cloud,
    authUrl: config.openstack.authUrl,
    region: config.openstack.region,
    // Application credentials suit CI; otherwise clouds.yaml or OS_* (incl. OS_AUTH_TOKEN) apply.
    applicationCredentialId: config.openstack.applicationCredentialId,
    applicationCredentialSecret: config.openstack.applicationCredentialId ? secrets.osApplicationCredentialSecret : undefined,
});
const onCloud = { provider: cloud };

const network = new Network(config.namePrefix, {
    namePrefix: config.namePrefix,
    cidr: config.network.cidr,
    dnsServers: config.network.dnsServers,
    externalNetwork: config.openstack.externalNetwork,
    adminCidrs: config.network.adminCidrs,
    userCidrs: config.network.userCidrs,
    ports: {
        collectorPort: config.htcondor.collectorPort, schedulerPort: config.htcondor.schedulerPort,
        jupyterhubPort: config.jupyterhub.enabled ? config.jupyterhub.nodePort : undefined,
        squidNodePort: config.cache.enabled ? SQUID_NODE_PORT : undefined,
    },
    tags: Object.entries(metadata).map(([k, v]) => `${k}=${v}`),
}, onCloud);

const imageId = vmImageId(config, onCloud);
const keyPair = new openstack.compute.Keypair(`${config.namePrefix}-operators`, {
    name: `${config.namePrefix}-operators`,
    publicKey: config.sshPublicKey,
}, onCloud);

const placement: VmPlacement = {
    imageId,
    networkId: network.networkId,
    subnetCidr: config.network.cidr,
    keyPairName: keyPair.name,
    securityGroupNames: network.securityGroupNames,
    securityGroupIds: network.securityGroupIds,
    subnetId: network.subnetId,
    externalNetwork: config.openstack.externalNetwork,
    availabilityZone: config.openstack.availabilityZone,
    metadata,
    dependsOn: [network.routerInterface],
};

const cluster = new KubernetesCluster("kubernetes", {
    config,
    vms: vms.filter((v) => v.role === "control-plane" || v.role === "worker"),
    placement,
    // Local volumes only without the Cinder CSI driver (openstack.cloudProvider): then the spools and the hub database are Cinder volumes.
    workerDirectories: config.jupyterhub.enabled && !config.openstack.cloudProvider ? [...NODE_DIRECTORIES, HUB_DB.hostPath] : NODE_DIRECTORIES,
    sshPrivateKey: secrets.sshPrivateKey,
}, onCloud);

const storage = new StorageController("storage", {
    config, secrets, vm: vms.find((v) => v.role === "storage")!, placement,
    bastion: cluster.apiHost,
}, onCloud);

// The site squid for CVMFS and Frontier (issue 17): the nodes', the pods' and the submit host's proxy.
const cache = config.cache.enabled ? new SiteCache("cache", { config, storage: cluster.storage }, { providers: { kubernetes: cluster.provider } }) : undefined;

// The ATLAS images: built and pushed only when incant:registry.server is set.
const images = new AtlasImages("atlas-images", { config, secrets });

const pool = new HTCondorPool("htcondor", {
    config,
    nfs: storage.share,
    workerNodeNames: cluster.nodeNames,
    nodeAddress: cluster.controlPlanes[0].fixedIp,
    images: images.refs,
    networkReady: cluster.networkReady,
    storage: cluster.storage,
    // The S3 archive in the workers (static S3 keys only; a warning says why not otherwise).
    archive: poolArchiveArgs(config, secrets),
}, { providers: { kubernetes: cluster.provider } });

// The elastic pool (issue 19): worker pods follow the queue when incant:autoscaling.enabled.
new Autoscaler("autoscaler", { config, namespace: pool.namespace, dependsOn: [pool, cluster] }, { providers: { kubernetes: cluster.provider } });

// HTCondor and squid metrics, dashboards and alerts in the cluster's Prometheus and Grafana (issue 17).
new PoolObservability("observability", { poolNamespace: POOL_NAMESPACE, squid: cache !== undefined },
    { providers: { kubernetes: cluster.provider }, dependsOn: [cluster, pool, ...(cache ? [cache] : [])] });

const submit = new SubmitHost("submit", {
    config, secrets, vm: vms.find((v) => v.role === "submit")!, placement,
    nfs: storage.share,
    pool: { endpoints: pool.endpoints, condorConfig: pool.submitHostConfig, caCertificate: pool.caCertPem },
    submitImage: images.refs.submit,
}, onCloud);

// The interactive platform (issue 18): on the same identities, shares, CVMFS and pool.
const hub = config.jupyterhub.enabled ? new JupyterHub("jupyterhub", {
    config, secrets, host: cluster.apiHost, workerNodeNames: cluster.nodeNames, nfs: storage.share,
    pool: { namespace: pool.namespace, endpoints: pool.endpoints, ca: pool.ca, resource: pool }, storage: cluster.storage,
}, { providers: { kubernetes: cluster.provider } }) : undefined;

/** The outputs follow a versioned contract for other teams: contracts/outputs.ts, docs/outputs.md. */
export const outputsContract = OUTPUTS_CONTRACT;
export const environment = config.environment;
export const networkId = network.networkId;
export const kubernetesApiHost = cluster.apiHost;
export const apiEndpoint = cluster.apiEndpoint;
/** The program's admin kubeconfig (secret): `pulumi stack output kubeconfig --show-secrets > kubeconfig`. */
export const kubeconfig = cluster.kubeconfig;
export const grafanaAdminPassword = cluster.grafanaAdminPassword;
export const nfsServer = storage.nfsServer;
// archive and archiveReadOnly: deprecated in contract 1.1 (no NFS archive any more), their 1.0 values until v2.
export const nfsExports = { home: storage.share.home, scratch: storage.share.scratch, archive: LAYOUT.archive, archiveReadOnly: !config.s3.exportReadWrite };
/** Keep it: the volume id is what re-attaches user data to a rebuilt storage VM (README "Storage controller"). */
export const storageDataVolumeId = storage.dataVolume.id;
/** Where the submit host reaches the pool (collector and schedd NodePorts). */
export const htcondorEndpoints = pool.endpoints;
export const submitHostAddress = submit.publicIp;
/** The physicists' own SSH endpoint: the submit container's sshd and its host key to pin (issue 14). */
export const submitSsh = { address: submit.publicIp, port: SUBMIT_SSH_PORT, hostKey: submit.sshHostKey! };
export const s3Archive = { endpoint: config.s3.endpoint, bucket: config.s3.bucket, region: config.s3.region };
export const archive = { bucket: config.s3.bucket, readOnly: !config.s3.exportReadWrite, submitPath: submit.archivePath };
export const imageRefs = images.refs;
export const vmCount = vms.length;
/** JupyterHub's URL (https, from incant:network.userCidrs); empty when incant:jupyterhub.enabled is false. */
export const jupyterhubUrl = hub ? hub.url : "";
