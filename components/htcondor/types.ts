/**
 * Names of the collector's and the schedd's Services (manifests.ts), here so config.ts can derive
 * their DNS names without importing manifests.ts, which imports config.ts.
 * `condor` is the official images' contract (CONDOR_SERVICE_HOST).
 */
export const COLLECTOR_SERVICE = "condor";
export const SCHEDD_SERVICE = "schedd";

/** The label every object the pool component makes carries (manifests.ts, cvmfs.ts). */
export const PART_OF = { "app.kubernetes.io/part-of": "incant" } as const;

/** How clients outside the pod network (the detached submit host) reach the HTCondor pool. */
export interface PoolEndpoints {
    /** host:port of the collector (a node's fixed address and the collector NodePort). */
    collectorAddress: string;
    /** host:port of the schedd's shared port (NodePort), used with `condor_submit -remote`. */
    scheddAddress: string;
    /** SCHEDD_NAME of the pool's scheduler. */
    scheddName: string;
    /** TRUST_DOMAIN / UID_DOMAIN of the pool. */
    trustDomain: string;
    /**
     * DNS name of the collector: its Service name inside the cluster and the name in its TLS
     * certificate. The submit host maps it to the node address of `collectorAddress` in
     * /etc/hosts (compose `extra_hosts`) and uses it in COLLECTOR_HOST, so the SSL host check
     * of SciTokens authentication has a name to verify.
     */
    collectorHostName: string;
    /**
     * Name in the schedd's TLS certificate (its HOST_ALIAS). Clients read it from the schedd's
     * advertised address and verify it; nobody resolves it.
     */
    scheddHostName: string;
}
