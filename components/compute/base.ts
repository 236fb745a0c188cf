/**
 * The cloud-init every VM starts from: host name, the operators' SSH key, no passwords, package
 * updates with automatic security upgrades. Role components extend it with their own files.
 */
import { FacilityConfig } from "../config/schema";
import { PlannedVm } from "../config/quota";
import { CloudConfig } from "./cloudinit";

export function baseCloudConfig(vm: Pick<PlannedVm, "name" | "role">, config: Pick<FacilityConfig, "sshPublicKey">): CloudConfig {
    return {
        hostname: vm.name,
        manage_etc_hosts: true,
        ssh_authorized_keys: [config.sshPublicKey],
        ssh_pwauth: false,
        disable_root: true,
        package_update: true,
        packages: ["unattended-upgrades", "chrony"],
        final_message: `INCANT ${vm.role} ${vm.name} finished cloud-init after $UPTIME seconds`,
    };
}

/** Merges role-specific cloud-config into a base: lists are appended, scalars overridden. */
export function extendCloudConfig(base: CloudConfig, ...parts: CloudConfig[]): CloudConfig {
    const out: CloudConfig = { ...base };
    for (const part of parts) {
        for (const [key, value] of Object.entries(part) as [keyof CloudConfig, unknown][]) {
            const current = out[key];
            if (Array.isArray(current) && Array.isArray(value)) {
                (out as Record<string, unknown>)[key] = [...current, ...value];
            } else if (key === "apt" && current && value) {
                out.apt = { sources: { ...out.apt?.sources, ...(value as CloudConfig["apt"])?.sources } };
            } else {
                (out as Record<string, unknown>)[key] = value;
            }
        }
    }
    return out;
}
