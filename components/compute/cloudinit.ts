/**
 * cloud-init user-data built as data and serialised with a YAML library: never pasted text.
 * Field names follow the cloud-config schema (cloudinit.readthedocs.io, "Module reference").
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import YAML from "yaml";

export interface WriteFile {
    path: string;
    content: string;
    /** Octal mode as a string, e.g. "0600". */
    permissions?: string;
    owner?: string;
    /** Write after packages are installed (users and groups they create exist by then). */
    defer?: boolean;
}

export interface AptSource {
    /** One-line deb source, with `signed-by=$KEY_FILE` when a key is given. */
    source: string;
    /** ASCII-armoured signing key (cloud-init stores it and substitutes $KEY_FILE). */
    key?: string;
}

/** A command run by cloud-init: an argv list (never a shell string). */
export type Command = string[];

/** The subset of cloud-config this facility uses. */
export interface CloudConfig {
    hostname?: string;
    fqdn?: string;
    prefer_fqdn_over_hostname?: boolean;
    manage_etc_hosts?: boolean;
    ssh_authorized_keys?: string[];
    ssh_pwauth?: boolean;
    disable_root?: boolean;
    package_update?: boolean;
    package_upgrade?: boolean;
    package_reboot_if_required?: boolean;
    packages?: string[];
    apt?: { sources?: Record<string, AptSource> };
    write_files?: WriteFile[];
    bootcmd?: Command[];
    runcmd?: Command[];
    final_message?: string;
}

/** The user-data document exactly as the VM receives it (before any compression). */
export function renderCloudConfig(doc: CloudConfig): string {
    const body = YAML.stringify(doc, { lineWidth: 0, blockQuote: "literal" });
    return `#cloud-config\n${body}`;
}

/** The values that tell one VM of a role from another in its user-data. */
export interface VmIdentity {
    name: string;
    address: string;
}

/**
 * Rendered into a role's user-data template in place of a VM's name and address. Neither can
 * belong to a real VM: VM names end in their role, and 203.0.113.0/24 is RFC 5737's
 * documentation range.
 */
export const VM_STANDIN: VmIdentity = { name: "incant-standin-vm-name", address: "203.0.113.254" };

/**
 * One VM's user-data from its role's template (rendered once with VM_STANDIN). Workers differ only
 * in name and address, and rendering the YAML once per worker was the program's own largest cost
 * per worker (docs/benchmarks.md). Throws when the template lacks a stand-in: it was not made
 * for this, and a VM would silently get another's identity.
 */
export function fillVmTemplate(template: string, vm: VmIdentity): string {
    let text = template;
    for (const key of ["name", "address"] as const) {
        if (!text.includes(VM_STANDIN[key])) throw new Error(`user-data template has no stand-in for the VM's ${key}`);
        text = text.split(VM_STANDIN[key]).join(vm[key]);
    }
    return text;
}

/** Nova rejects user-data above 65535 bytes once base64-encoded (FACTS.md). */
export const NOVA_USER_DATA_LIMIT = 65535;

export function base64Size(bytes: number): number {
    return 4 * Math.ceil(bytes / 3);
}

/**
 * What goes into the instance's `userData`: the text itself when it fits, otherwise gzip
 * (cloud-init detects and inflates gzip user-data) passed base64-encoded, which the OpenStack
 * provider forwards without encoding it again. Throws when even compressed it does not fit.
 */
export function encodeUserData(text: string): string {
    if (base64Size(Buffer.byteLength(text)) <= NOVA_USER_DATA_LIMIT) return text;
    const gz = zlib.gzipSync(Buffer.from(text), { level: 9 }).toString("base64");
    if (gz.length > NOVA_USER_DATA_LIMIT) {
        throw new Error(`user-data is ${gz.length} bytes after gzip+base64, over Nova's ${NOVA_USER_DATA_LIMIT}`);
    }
    return gz;
}

/** Reads a shell script shipped beside a component (checked by shellcheck in the tests). */
export function readScript(dir: string, file: string): string {
    return fs.readFileSync(path.join(dir, file), "utf8");
}

/** A KEY=value environment file for systemd `EnvironmentFile=` and scripts (`set -a; . file`). */
export function renderEnvFile(values: Record<string, string | number | boolean>): string {
    return Object.entries(values).map(([k, v]) => {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`bad variable name ${k}`);
        const s = String(v);
        // Single quotes are literal for both systemd and sh; refuse the one character that breaks them.
        if (s.includes("'") || s.includes("\n")) throw new Error(`value of ${k} cannot contain quotes or newlines`);
        return `${k}='${s}'`;
    }).join("\n") + "\n";
}
