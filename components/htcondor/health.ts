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
import type { ConfigEntry } from "./config";

/** Where the worker pods mount the health scripts (a ConfigMap volume, mode 0555). */
export const HEALTH_DIR = "/etc/condor/incant-health";
/** The startd cron script and the probe script, by their ConfigMap keys (= file names). */
export const HEALTH_SCRIPTS = { cvmfs: "cvmfs-health.sh", probe: "worker-probe.sh" } as const;
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
