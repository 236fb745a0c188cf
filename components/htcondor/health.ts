/**
 * Worker health from real checks (issue #17):
 *
 *   startd cron CVMFS (every CVMFS_CHECK_PERIOD_SECONDS) -> cvmfs-health.sh <repos>
 *       -> HasCvmfs, CvmfsFailedRepositories in every slot ad (published when they change)
 *   START requires HasCvmfs: a worker whose CVMFS is broken takes no new job
 *   pod probes: liveness = the startd answers; readiness = and HasCvmfs (this worker can run jobs)
 *
 * HTCondor manual (24.0): admin-manual/hooks.rst "Startd Cron and Schedd Cron Daemon ClassAd Hooks"
 * (STARTD_CRON_JOBLIST, STARTD_CRON_<name>_EXECUTABLE/_ARGS/_PERIOD/_MODE), configuration-macros.rst
 * (STARTD_CRON_AUTOPUBLISH: If_Changed sends the ad as soon as an attribute changes, instead of at
 * the next UPDATE_INTERVAL, 5 minutes by default).
 */
import * as k8s from "@pulumi/kubernetes";
import { USER_UID_MAX, USER_UID_MIN } from "../config/accounts";
import type { ConfigEntry } from "./config";

/** Where the worker pods mount the health scripts (a ConfigMap volume, mode 0555). */
export const HEALTH_DIR = "/etc/condor/incant-health";
/** The startd cron script and the probe script, by their ConfigMap keys (= file names). */
export const HEALTH_SCRIPTS = { cvmfs: "cvmfs-health.sh", probe: "worker-probe.sh", tmp: "tmp-guard.sh" } as const;
/** How often the startd checks CVMFS (a directory listing per repository, served from the CVMFS cache). */
export const CVMFS_CHECK_PERIOD_SECONDS = 60;
/** The startd cron job's name. */
export const CVMFS_CRON_JOB = "CVMFS";

/** The worker's startd cron, the attributes it publishes and the START policy that requires them. */
export function startdHealth(repositories: readonly string[]): ConfigEntry[] {
    for (const r of repositories) if (!/^[a-z0-9][a-z0-9.-]*$/.test(r)) throw new Error(`not a CVMFS repository name: ${JSON.stringify(r)}`);
    return [
        { comment: "Worker health (components/htcondor/health.ts): a startd cron checks every CVMFS repository and\npublishes HasCvmfs; a slot starts jobs only while it is true." },
        { key: "STARTD_CRON_JOBLIST", value: `$(STARTD_CRON_JOBLIST) ${CVMFS_CRON_JOB}` },
        { key: `STARTD_CRON_${CVMFS_CRON_JOB}_EXECUTABLE`, value: `${HEALTH_DIR}/${HEALTH_SCRIPTS.cvmfs}` },
        { key: `STARTD_CRON_${CVMFS_CRON_JOB}_ARGS`, value: repositories.join(" ") },
        { key: `STARTD_CRON_${CVMFS_CRON_JOB}_MODE`, value: "Periodic" },
        { key: `STARTD_CRON_${CVMFS_CRON_JOB}_PERIOD`, value: `${CVMFS_CHECK_PERIOD_SECONDS}s` },
        { key: "STARTD_CRON_AUTOPUBLISH", value: "If_Changed" },
        { key: "CvmfsRepositories", value: `"${repositories.join(",")}"` },
        { key: "STARTD_ATTRS", value: "$(STARTD_ATTRS) CvmfsRepositories" },
        // Undefined (before the first check) is not true: no job starts on an unchecked worker.
        { key: "START", value: "($(START:True)) && (MY.HasCvmfs =?= true)" },
    ];
}

/** The worker container's probes: the startd answers (liveness), and it can run jobs (readiness). */
export function workerProbes(): Pick<k8s.types.input.core.v1.Container, "livenessProbe" | "readinessProbe"> {
    const probe = (mode: "live" | "ready") => ({ exec: { command: [`${HEALTH_DIR}/${HEALTH_SCRIPTS.probe}`, mode] }, timeoutSeconds: 10 });
    return {
        // Restarting the pod kills its jobs and cannot mend CVMFS (the node's CSI plugin does): only a
        // startd that no longer answers is restarted.
        livenessProbe: { ...probe("live"), periodSeconds: 60, failureThreshold: 3 },
        // Not ready = the pod shows 0/1 READY and kube_pod_status_ready alerts; the START policy
        // already keeps jobs off it.
        readinessProbe: { ...probe("ready"), periodSeconds: 30, failureThreshold: 2 },
    };
}

/**
 * MiB one facility user may keep under a worker's /tmp and /var/tmp (all their jobs there together)
 * before their jobs on that worker are held. Those are the worker container's own directories, on
 * the node's boot disk (100 GB for the workers, components/config/defaults.ts), which also holds the
 * CVMFS cache (cvmfs.ts CVMFS_CACHE_MB, 20 GB), up to 50 GiB of sandboxes (config.ts
 * WORKER_EXECUTE_SIZE_LIMIT_GIB, 53.7 GB), the system and the images (about 10 GB), and the 10 %
 * the kubelet keeps free before it evicts pods (its default hard eviction, nodefs.available<10%):
 * some 6 GB are left, for up to 4 users' jobs at once (4 cores) and what a job writes before the
 * guard sees it (up to TMP_GUARD_PERIOD_SECONDS twice): 1 GiB each.
 */
export const TMP_LIMIT_MIB = 1024;
/** How often the root daemon measures (and cleans) /tmp and /var/tmp, and the cron publishes it. */
export const TMP_GUARD_PERIOD_SECONDS = 30;
/** The directories measured: those a job can write outside its sandbox on the container's disk. */
export const TMP_GUARD_DIRS = ["/tmp", "/var/tmp"] as const;
/** The master's daemon (root) that measures and cleans, and the startd cron job that publishes. */
export const TMP_GUARD_DAEMON = "INCANT_TMP_GUARD";
export const TMP_CRON_JOB = "INCANT_TMP";
/**
 * WANT_HOLD_SUBCODE of the hold (HoldReasonCode 21, "startd held job"): none HTCondor's own
 * POLICY metaknobs use (101-104, src/condor_utils/param_info.in).
 */
export const TMP_HOLD_SUBCODE = 110;

/**
 * The /tmp guard (issue 12): a job that writes outside its sandbox, under /tmp or /var/tmp, is held
 * with a reason that says so, before the node's disk fills and the kubelet evicts the worker pod.
 * MOUNT_UNDER_SCRATCH would give each job its own /tmp inside the sandbox, but it needs
 * CAP_SYS_ADMIN, which the worker pod does not have. The startd runs its cron as condor, which
 * cannot read users' private directories nor delete their files, so a root daemon of the master
 * measures and cleans (tmp-guard.sh watch) and the cron publishes what it wrote (tmp-guard.sh publish).
 * Policy composed like POLICY:WANT_HOLD_IF (param_info.in), which cannot be used as is because its
 * reason is a fixed text: PREEMPT_IF, then WANT_HOLD, WANT_HOLD_SUBCODE and WANT_HOLD_REASON
 * or-ed / chained onto the memory and disk metaknobs' own, which keep working.
 */
export function tmpGuard(): ConfigEntry[] {
    const exceeded = "INCANT_TMP_EXCEEDED";
    // The owner's MiB from IncantTmpOverUsage ("<login>:<MiB>,..."); logins are [a-z_][a-z0-9_-]*, no regex metacharacter.
    const mib = `regexps(strcat("(^|,)", TARGET.Owner, ":([0-9]+)"), MY.IncantTmpOverUsage, "\\2")`;
    return [
        { comment: `/tmp guard (components/htcondor/health.ts): ${TMP_GUARD_DAEMON} (root) measures each facility user's files under\n${TMP_GUARD_DIRS.join(" and ")} and removes those of users with no process left; the ${TMP_CRON_JOB} cron publishes the users\nabove ${TMP_LIMIT_MIB} MiB, whose jobs on this worker are held and who start no new one here.` },
        { key: "DAEMON_LIST", value: `$(DAEMON_LIST) ${TMP_GUARD_DAEMON}` },
        { key: TMP_GUARD_DAEMON, value: `${HEALTH_DIR}/${HEALTH_SCRIPTS.tmp}` },
        { key: `${TMP_GUARD_DAEMON}_ARGS`, value: `watch ${TMP_GUARD_PERIOD_SECONDS} ${USER_UID_MIN} ${USER_UID_MAX} ${TMP_GUARD_DIRS.join(" ")}` },
        { key: "STARTD_CRON_JOBLIST", value: `$(STARTD_CRON_JOBLIST) ${TMP_CRON_JOB}` },
        { key: `STARTD_CRON_${TMP_CRON_JOB}_EXECUTABLE`, value: `${HEALTH_DIR}/${HEALTH_SCRIPTS.tmp}` },
        // A state file older than 4 periods (the daemon stopped) lists nobody: IncantTmpGuardOk = false.
        { key: `STARTD_CRON_${TMP_CRON_JOB}_ARGS`, value: `publish ${TMP_LIMIT_MIB} ${4 * TMP_GUARD_PERIOD_SECONDS}` },
        { key: `STARTD_CRON_${TMP_CRON_JOB}_MODE`, value: "Periodic" },
        { key: `STARTD_CRON_${TMP_CRON_JOB}_PERIOD`, value: `${TMP_GUARD_PERIOD_SECONDS}s` },
        // Every job of the owner on this worker: the files are the uid's, not one job's.
        { key: exceeded, value: "(StringListMember(TARGET.Owner, MY.IncantTmpOverUsers) =?= true)" },
        { use: `POLICY:PREEMPT_IF(${exceeded})` },
        { key: "WANT_HOLD", value: `(TARGET.JobUniverse != 1 && $(${exceeded})) || $(WANT_HOLD:false)` },
        { key: "WANT_HOLD_SUBCODE", value: `ifThenElse($(${exceeded}), ${TMP_HOLD_SUBCODE}, $(WANT_HOLD_SUBCODE:UNDEFINED))` },
        { key: "WANT_HOLD_REASON", value: `ifThenElse($(${exceeded}), strcat(TARGET.Owner, " holds ", ${mib}, " MiB under ${TMP_GUARD_DIRS.join(" and ")} on this worker, over the ${TMP_LIMIT_MIB} MiB a user may; write temporary files under $TMPDIR (the job's sandbox)"), $(WANT_HOLD_REASON:UNDEFINED))` },
        // Until the held job's files are gone (the next pass), no new job of that user starts here.
        { key: "START", value: `($(START:True)) && ($(${exceeded}) =!= true)` },
    ];
}
