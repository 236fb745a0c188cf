/** What the storage controller offers its NFS clients (the cluster's PersistentVolumes, the submit host). */
export interface NfsShare {
    /** Private address of the NFS server. */
    server: string;
    /** Server paths of the exports (NFSv4). */
    home: string;
    scratch: string;
    /**
     * Not exported any more (issue 15: the rclone re-export gave stale handles). Kept so the
     * pool's manifests compile until they mount the bucket themselves (archive.ts archiveCsiVolume).
     */
    archive: string;
    /** True unless `incant:s3.exportReadWrite` is set. */
    archiveReadOnly: boolean;
}
