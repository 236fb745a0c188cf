/**
 * The controller's Prometheus metrics in the text exposition format (version 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/), served on /metrics by main.ts and
 * scraped through the ServiceMonitor of manifests.ts. A pure function of the controller's counters.
 */
import { ControllerMetrics } from "./controller";

interface Metric { name: keyof ControllerMetrics; type: "gauge" | "counter"; help: string; exported: string }

const METRICS: Metric[] = [
    { name: "enabled", type: "gauge", exported: "incant_autoscaler_enabled", help: "1 when the autoscaler acts, 0 when the kill switch is on (incant:autoscaling.enabled false)" },
    { name: "min", type: "gauge", exported: "incant_autoscaler_min_workers", help: "incant:autoscaling.min" },
    { name: "max", type: "gauge", exported: "incant_autoscaler_max_workers", help: "incant:autoscaling.max" },
    { name: "quotaWorkers", type: "gauge", exported: "incant_autoscaler_quota_workers", help: "Worker VMs the OpenStack quota allows beside the other VMs" },
    { name: "workers", type: "gauge", exported: "incant_autoscaler_workers", help: "Worker pods (not terminating)" },
    { name: "desired", type: "gauge", exported: "incant_autoscaler_desired_workers", help: "Worker pods the last decision asked for" },
    { name: "busyWorkers", type: "gauge", exported: "incant_autoscaler_busy_workers", help: "Workers whose startd has a claim or a job" },
    { name: "drainingWorkers", type: "gauge", exported: "incant_autoscaler_draining_workers", help: "Workers drained by the autoscaler" },
    { name: "idleJobs", type: "gauge", exported: "incant_autoscaler_idle_jobs", help: "Idle jobs in the submitter ads" },
    { name: "idleCpus", type: "gauge", exported: "incant_autoscaler_idle_cpus", help: "CPUs the idle jobs request (WeightedIdleJobs)" },
    { name: "unplaceableJobs", type: "gauge", exported: "incant_autoscaler_unplaceable_jobs", help: "Idle jobs larger than an empty worker" },
    { name: "scaleOuts", type: "counter", exported: "incant_autoscaler_scale_outs_total", help: "Scale-ups carried out" },
    { name: "scaleIns", type: "counter", exported: "incant_autoscaler_scale_ins_total", help: "Scale-ins carried out" },
    { name: "drains", type: "counter", exported: "incant_autoscaler_drains_total", help: "Workers drained" },
    { name: "removedWorkers", type: "counter", exported: "incant_autoscaler_removed_workers_total", help: "Drained idle workers removed" },
    { name: "cycles", type: "counter", exported: "incant_autoscaler_cycles_total", help: "Control cycles" },
    { name: "cycleErrors", type: "counter", exported: "incant_autoscaler_cycle_errors_total", help: "Control cycles that failed (nothing more changed)" },
    { name: "lastCycleSeconds", type: "gauge", exported: "incant_autoscaler_last_cycle_timestamp_seconds", help: "Unix time of the last complete cycle" },
];

/** The exported metric names (the alert rules and the dashboard use them; tests check they exist). */
export const METRIC_NAMES = METRICS.map((m) => m.exported);

export function renderMetrics(m: ControllerMetrics): string {
    return METRICS.map((d) => `# HELP ${d.exported} ${d.help}\n# TYPE ${d.exported} ${d.type}\n${d.exported} ${m[d.name]}\n`).join("");
}
