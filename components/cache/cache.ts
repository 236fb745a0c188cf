/**
 * SiteCache: the facility's squid for CVMFS and Frontier (issue 17), in the cluster.
 *
 *   Namespace cache -> ConfigMap squid (squid.conf, squid.ts) -> Deployment squid (control plane)
 *                   -> Service squid: ClusterIP squidClusterIp(serviceCidr):3128, NodePort 30128
 *
 * Clients: the nodes' CVMFS (CSI driver) and the pods at the ClusterIP, the submit host's CVMFS
 * container at the NodePort (cvmfsHttpProxy in squid.ts). Only built when `incant:cache.enabled`.
 */
import * as crypto from "crypto";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { FacilityConfig } from "../config/schema";
import { readScript } from "../compute/cloudinit";
import { EXPORTER_SCRIPT } from "../observability/metrics";
import { cacheNamespace, squidCacheClaim, squidConfigMap, squidDeployment, squidService, SQUID_PATHS } from "./manifests";
import { renderSquidConf, squidClusterIp, squidConf, SquidSettings, SQUID_PORT } from "./squid";

export interface SiteCacheArgs {
    config: Pick<FacilityConfig, "cache" | "network" | "images">;
    /** The cluster's block storage (KubernetesCluster.storage): the cache on its volume; else an emptyDir. */
    storage?: { storageClass: string; ready: pulumi.Resource[] };
}

/** The squid's settings from the configuration: the facility's VM network and pod network may use it. */
export function squidSettings(config: Pick<FacilityConfig, "cache" | "network">): SquidSettings {
    return {
        // Pods come from the pod network; NodePort traffic is source-NATed to a node address.
        clientCidrs: [config.network.cidr, config.network.podCidr],
        diskCacheMb: config.cache.diskGb * 1000,
        memoryCacheMb: config.cache.memoryMb,
        port: SQUID_PORT,
        ...SQUID_PATHS,
    };
}

export class SiteCache extends pulumi.ComponentResource {
    /** The squid's address for in-cluster clients. */
    public readonly clusterIp: string;

    constructor(name: string, args: SiteCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:cache:SiteCache", name, {}, opts);
        const settings = squidSettings(args.config);
        const conf = renderSquidConf(squidConf(settings));
        this.clusterIp = squidClusterIp(args.config.network.serviceCidr);
        const ns = new k8s.core.v1.Namespace(`${name}-namespace`, cacheNamespace(), { parent: this });
        const inNs = { parent: this, dependsOn: [ns] };
        const cm = new k8s.core.v1.ConfigMap(`${name}-squid-conf`, squidConfigMap(conf, readScript(path.join(__dirname, "..", "observability"), EXPORTER_SCRIPT)), inNs);
        const checksum = crypto.createHash("sha256").update(conf).digest("hex");
        const claim = args.storage
            ? new k8s.core.v1.PersistentVolumeClaim(`${name}-squid-cache`, squidCacheClaim(settings, args.storage.storageClass), { parent: this, dependsOn: [ns, ...args.storage.ready] })
            : undefined;
        new k8s.apps.v1.Deployment(`${name}-squid`, squidDeployment({
            image: args.config.cache.image, metricsImage: args.config.images.centralManager, settings, checksum,
            cacheClaim: claim ? squidCacheClaim(settings, "").metadata.name : undefined,
        }), { ...inNs, dependsOn: [ns, cm, ...(claim ? [claim] : [])] });
        new k8s.core.v1.Service(`${name}-squid`, squidService(this.clusterIp), inNs);
        this.registerOutputs({ clusterIp: this.clusterIp });
    }
}
