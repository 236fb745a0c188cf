/**
 * Per-user quotas on homes and scratch: ext4 project quotas, one project per directory tree.
 *
 * Why project quotas, not user quotas: a user quota counts everything a uid owns on the volume,
 * so homes and scratch would share one limit, and files a job writes for a user elsewhere would
 * count too. A project is a directory tree: its files inherit the project id (the PROJINHERIT
 * flag, `chattr +P -p ID`), whoever writes them. And a client sees its limit without any quota
 * service: ext4 reports a PROJINHERIT directory's project limit and usage as the size of the file
 * system (ext4_statfs), and knfsd answers a client's statfs for the exported directory it asks
 * about, so `df -h ~` on the submit host or in a job shows the home's quota and what is left.
 * (`quota(1)` over NFS asks rpc.rquotad, which reports user and group quotas only.)
 *
 * Limits, not reservations: their sum may exceed the volume; a full volume still stops everyone.
 * The file system gets the `quota` and `project` features when it is made, or at the next boot
 * before it is mounted (scripts/prepare-data-volume.sh), and is mounted with `prjquota`
 * (ext4(5)): usage is tracked by the file system itself, no quotacheck, no quotaon.
 */
import { FacilityUser, StorageNode } from "../config/schema";

/** A scratch area's project id is its owner's uid plus this; a home's is the uid itself. */
export const SCRATCH_PROJECT_OFFSET = 1_000_000;

export interface UserQuotas {
    /** GB; 0 means no limit. */
    homeGb: number;
    scratchGb: number;
}

export function userQuotas(storage: Pick<StorageNode, "homeQuotaGb" | "scratchQuotaGb">, user: FacilityUser): UserQuotas {
    return { homeGb: user.homeQuotaGb ?? storage.homeQuotaGb, scratchGb: user.scratchQuotaGb ?? storage.scratchQuotaGb };
}

/** One FACILITY_USERS entry for the users' directories script: "name:uid:homeGb:scratchGb". */
export function facilityUserEntry(storage: Pick<StorageNode, "homeQuotaGb" | "scratchQuotaGb">, user: FacilityUser): string {
    const q = userQuotas(storage, user);
    return `${user.name}:${user.uid}:${q.homeGb}:${q.scratchGb}`;
}
