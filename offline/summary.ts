/** summary.md: the VMs, the quota use against the pool, and resource counts by type. */
import { plannedVms, quotaUse } from "../components/config/quota";
import { FacilityConfig } from "../components/config/schema";
import { OfflineRun } from "./engine";

export function renderSummary(config: FacilityConfig, run: OfflineRun, placeholders: string[]): string {
    const vms = plannedVms(config);
    const use = quotaUse(vms);
    const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;
    const counts = new Map<string, number>();
    for (const r of run.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    const lines = [
        `# INCANT offline plan: stack \`${config.stack}\``,
        "",
        "Rendered by the offline engine (Pulumi mocks): cloud-assigned values are placeholders",
        "(ids `offline-*`, floating IPs in 203.0.113.0/24), keys and certificates are throwaway.",
        placeholders.length ? `Secrets not decryptable offline, replaced by placeholders: ${placeholders.map((p) => `\`${p}\``).join(", ")}.` : "",
        "",
        "## VMs",
        "",
        "| name | role | flavor | vCPU | RAM (GB) | boot disk (GB) | extra volume (GB) |",
        "|---|---|---|---:|---:|---:|---:|",
        ...vms.map((v) => `| ${v.name} | ${v.role} | ${v.flavor} | ${v.vcpus} | ${v.ramGb} | ${v.diskGb} | ${v.extraVolumeGb || ""} |`),
        "",
        "## Quota use against the pool",
        "",
        "| resource | used | pool | share |",
        "|---|---:|---:|---:|",
        `| vCPU | ${use.vcpus} | ${config.quota.vcpus} | ${pct(use.vcpus, config.quota.vcpus)} |`,
        `| RAM (GB) | ${use.ramGb} | ${config.quota.ramGb} | ${pct(use.ramGb, config.quota.ramGb)} |`,
        `| block storage (GB) | ${use.blockStorageGb} | ${config.quota.blockStorageGb} | ${pct(use.blockStorageGb, config.quota.blockStorageGb)} |`,
        "",
        `## Resources by type (${run.resources.length} in all)`,
        "",
        "| type | count |",
        "|---|---:|",
        ...[...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `| \`${t}\` | ${n} |`),
        "",
    ];
    return lines.join("\n");
}
