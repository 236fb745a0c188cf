/** What the storage controller offers its NFS clients (the cluster's PersistentVolumes, the submit host). */
export interface NfsShare {
    /** Private address of the NFS server. */
    server: string;
    /** Server paths of the exports (NFSv4). */
    home: string;
    scratch: string;
    /** The S3 archive mounted by rclone and re-exported. */
    archive: string;
    /** True unless `incant:s3.exportReadWrite` is set. */
    archiveReadOnly: boolean;
}
