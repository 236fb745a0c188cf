/**
 * JupyterHub on the facility's cluster (the paper's interactive workflow): the zero-to-jupyterhub
 * chart, pinned (values.ts), in its own namespace, with IAM login, users' servers as their own
 * uid on the pool's NFS shares and CVMFS, and Dask scale-out to the HTCondor pool.
 *
 * Exposure: the proxy's Service is a NodePort (HTTPS only, no HTTP port) that ports.ts opens to
 * `network.userCidrs` on the control planes, reached at the cluster's floating IP; CHP terminates
 * TLS with a certificate for that IP signed by the pool CA. Secrets (IAM client secret, cookie
 * secret, proxy token, auth-state key, TLS key) are Pulumi secrets.
 *
 * Children run on the cluster's provider: pass `{ providers: { kubernetes: cluster.provider } }`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { readScript } from "../compute/cloudinit";
import { FacilityConfig, FacilitySecrets } from "../config/schema";
import { cvmfsClaim } from "../htcondor/cvmfs";
import { nfsReservedVolume, nfsVolumes } from "../htcondor/manifests";
import { NfsShare } from "../storage/types";
import { PoolEndpoints } from "../htcondor/types";
import { KeyPair } from "../kubernetes/pki";
import { daskPoolPolicy, hubDbVolume, hubNamespace } from "./manifests";
import { userFiles } from "./userfiles";
import { callbackUrl, HUB_TLS_SECRET, hubUrl, hubValues, JUPYTERHUB_CHART, JUPYTERHUB_NAMESPACE } from "./values";

export interface JupyterHubArgs {
    config: FacilityConfig;
    /** `jupyterhubIamClientSecret` (validated present when the hub is enabled). */
    secrets: FacilitySecrets;
    /** The floating IP of the cluster (KubernetesCluster.apiHost): the hub's address. */
    host: pulumi.Input<string>;
    /** Worker node names (KubernetesCluster.nodeNames): the hub database's volume is on one. */
    workerNodeNames: string[];
    /** The storage controller's exports (StorageController.share), mounted as the pool's workers mount them. */
    nfs: NfsShare;
    /** The pool (HTCondorPool): namespace, endpoints, CA, and the component (its CVMFS driver). */
    pool: { namespace: string; endpoints: PoolEndpoints; ca: KeyPair; resource: pulumi.Resource };
    /** The cluster's block storage (KubernetesCluster.storage): the hub database on its volume; else a worker's local volume. */
    storage?: { storageClass: string; ready: pulumi.Resource[] };
}

/** Which worker holds the hub database: the third (the first two hold the pool's spools), or the last. */
export function hubDbNode(workerNodeNames: string[]): string {
    return workerNodeNames[Math.min(2, workerNodeNames.length - 1)];
}

export class JupyterHub extends pulumi.ComponentResource {
    /** https://<floating IP>:<nodePort>/ */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: JupyterHubArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:jupyterhub:JupyterHub", name, {}, opts);
        const { config } = args;
        const hub = config.jupyterhub;
        const clientSecret = args.secrets.jupyterhubIamClientSecret;
        if (!clientSecret) throw new pulumi.ResourceError(`incant:jupyterhubIamClientSecret is not set [${config.stackFile}]`, this);
        const child = { parent: this };
        const ns = JUPYTERHUB_NAMESPACE;
        const host = pulumi.output(args.host);
        this.url = host.apply((h) => hubUrl(h, hub.nodePort));

        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, hubNamespace(), child);
        const inNs = { parent: this, dependsOn: [namespace] };
        const claims: pulumi.Resource[] = [
            new k8s.core.v1.PersistentVolumeClaim(`${name}-cvmfs`, cvmfsClaim(ns), { parent: this, dependsOn: [namespace, args.pool.resource] }),
        ];
        const shares = nfsVolumes(args.nfs, config.nodes.storage.dataVolumeGb);
        for (const v of shares) {
            const volume = nfsReservedVolume(v, ns);
            const pv = new k8s.core.v1.PersistentVolume(`${name}-${v.name}-pv`, volume.pv, child);
            claims.push(new k8s.core.v1.PersistentVolumeClaim(`${name}-${v.name}`, volume.pvc, { parent: this, dependsOn: [namespace, pv] }));
        }
        if (args.storage) claims.push(...args.storage.ready);
        else claims.push(new k8s.core.v1.PersistentVolume(`${name}-db-pv`, hubDbVolume(hubDbNode(args.workerNodeNames)), child));

        // The proxy's certificate: the floating IP users type, signed by the pool CA.
        const key = new tls.PrivateKey(`${name}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, child);
        const request = new tls.CertRequest(`${name}-tls-request`, {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: "INCANT JupyterHub", organization: config.htcondor.trustDomain },
            ipAddresses: [host],
        }, child);
        const cert = new tls.LocallySignedCert(`${name}-tls`, {
            certRequestPem: request.certRequestPem,
            caPrivateKeyPem: args.pool.ca.keyPem,
            caCertPem: args.pool.ca.certPem,
            validityPeriodHours: 2 * 8760,
            earlyRenewalHours: 30 * 24,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        }, child);
        const tlsSecret = new k8s.core.v1.Secret(`${name}-tls-secret`, {
            metadata: { name: HUB_TLS_SECRET, namespace: ns },
            type: "kubernetes.io/tls",
            stringData: { "tls.crt": pulumi.interpolate`${cert.certPem}${args.pool.ca.certPem}`, "tls.key": pulumi.secret(key.privateKeyPem) },
        }, inNs);

        // 32 random bytes, hex: what the chart and JupyterHub expect for each.
        const hex32 = (id: string) => pulumi.secret(new random.RandomBytes(`${name}-${id}`, { length: 32 }, child).hex);
        const values = hubValues({
            config,
            callbackUrl: host.apply((h) => callbackUrl(h, hub.nodePort)),
            nfs: shares,
            secrets: { clientSecret: pulumi.secret(clientSecret), cookieSecret: hex32("cookie-secret"), proxyToken: hex32("proxy-token"), cryptKey: hex32("crypt-key") },
            hubConfigSnippet: readScript(__dirname, "incant_hub_config.py"),
            userFiles: userFiles({ endpoints: args.pool.endpoints, collectorPort: config.htcondor.collectorPort, poolCaPem: args.pool.ca.certPem, config }),
            pool: {
                ranges: { vmCidr: config.network.cidr, podCidr: config.network.podCidr },
                ports: { collector: config.htcondor.collectorPort, scheduler: config.htcondor.schedulerPort },
            },
            dbStorageClass: args.storage?.storageClass,
        });
        new k8s.helm.v3.Release(name, {
            name: "jupyterhub",
            chart: JUPYTERHUB_CHART.chart,
            version: JUPYTERHUB_CHART.version,
            repositoryOpts: { repo: JUPYTERHUB_CHART.repo },
            namespace: ns,
            createNamespace: false,
            values,
            // The hub and proxy images, and the first user image pull.
            timeout: 900,
        }, { parent: this, dependsOn: [namespace, tlsSecret, ...claims] });

        new k8s.networking.v1.NetworkPolicy(`${name}-dask-pool-policy`, daskPoolPolicy(args.pool.namespace), { parent: this, dependsOn: [args.pool.resource] });
        this.registerOutputs({ url: this.url });
    }
}
