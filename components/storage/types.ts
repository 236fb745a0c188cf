/** What the storage controller offers its NFS clients (the cluster's PersistentVolumes, the submit host). */
export interface NfsShare {
    /** Private address of the NFS server. */
    server: string;
    /** Server paths of the exports (NFSv4). */
    home: string;
    scratch: string;
}
