/**
 * A downstream team's program on top of the INCANT facility: it reads the facility stack's
 * outputs with a StackReference, refuses a facility that speaks another outputs contract, and
 * gives the team a namespace on the facility's cluster with a ConfigMap that tells its pods
 * where the HTCondor pool and the shared storage are.
 *
 *   cd examples/consumer && npm install
 *   pulumi stack init my-team && pulumi config set facilityStack my-org/incant/dev
 *   pulumi preview
 *
 * The types come from the contract (contracts/outputs.ts); the secrets (kubeconfig) stay
 * secrets through the StackReference.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { IncantOutputs, OUTPUTS_CONTRACT } from "../../contracts/outputs";

const config = new pulumi.Config();
const facility = new pulumi.StackReference(config.require("facilityStack"));

/** One facility output, typed by the contract. */
function facilityOutput<K extends keyof IncantOutputs>(name: K): pulumi.Output<IncantOutputs[K]> {
    return facility.requireOutput(name) as pulumi.Output<IncantOutputs[K]>;
}

// Every value read below passes through this check first.
const contract = facilityOutput("outputsContract").apply((version) => {
    if (version !== OUTPUTS_CONTRACT) {
        throw new Error(`the facility stack publishes ${version}; this program reads ${OUTPUTS_CONTRACT} (docs/outputs.md)`);
    }
    return version;
});
const checked = <T>(value: pulumi.Output<T>): pulumi.Output<T> => contract.apply(() => value);

const pool = checked(facilityOutput("htcondorEndpoints"));
const nfs = checked(facilityOutput("nfsExports"));

// The kubeconfig is a secret output of the facility: it stays one here.
const provider = new k8s.Provider("facility", { kubeconfig: checked(facilityOutput("kubeconfig")) });
const namespace = new k8s.core.v1.Namespace("team", {
    metadata: { name: config.get("namespace") ?? "analysis-team" },
}, { provider });

new k8s.core.v1.ConfigMap("facility-endpoints", {
    metadata: { namespace: namespace.metadata.name, name: "incant-facility" },
    data: {
        CONDOR_COLLECTOR: pool.apply((p) => p.collectorAddress),
        CONDOR_SCHEDD: pool.apply((p) => p.scheddAddress),
        CONDOR_SCHEDD_NAME: pool.apply((p) => p.scheddName),
        TRUST_DOMAIN: pool.apply((p) => p.trustDomain),
        NFS_SERVER: checked(facilityOutput("nfsServer")),
        NFS_HOME: nfs.apply((n) => n.home),
        NFS_SCRATCH: nfs.apply((n) => n.scratch),
        // Since 1.1: the archive is a bucket each client mounts, not an NFS export.
        S3_ARCHIVE_BUCKET: checked(facilityOutput("archive")).apply((a) => a.bucket),
        // Since 1.2: where the team's physicists open notebooks ("" without a hub).
        JUPYTERHUB_URL: checked(facilityOutput("jupyterhubUrl")),
    },
}, { provider });

export const facilityContract = contract;
export const collectorAddress = pool.apply((p) => p.collectorAddress);
export const teamNamespace = namespace.metadata.name;
