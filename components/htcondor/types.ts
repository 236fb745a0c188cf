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
}
