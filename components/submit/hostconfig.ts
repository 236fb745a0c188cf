/**
 * cloud-init of the submit host: Docker Engine, the NFS client mounts of home and scratch, /cvmfs
 * prepared for shared propagation, and the AppArmor profile of the CVMFS container. Only host
 * set-up lives here: user-data changes replace the VM (FACTS.md) and every process on the VM can
 * read it from the metadata service, so container configuration and secrets travel over SSH
 * after the readiness gate instead (host.ts).
 *
 * Docker comes from Ubuntu's archive (docker.io, docker-compose-v2) rather than Docker's own apt
 * repository: it is signed by the archive key the image already trusts (no third-party key to
 * embed and rotate), and unattended-upgrades, enabled on every VM, applies its security updates;
 * `live-restore` keeps the containers running while such an update restarts the daemon.
 */
import * as path from "path";
import { CloudConfig, readScript } from "../compute/cloudinit";
import { IniSection, mountUnitName, renderIni } from "../compute/ini";
import { NfsShare } from "../storage/types";
import { HOST } from "./services";
import { dockerAfterMounts, nfsMountUnit, sharedBindUnit } from "./units";

type Shares = Pick<NfsShare, "server" | "home" | "scratch">;

/** systemd syntax and no header: a different text would change the user-data and replace the VM. */
const unitText = (sections: IniSection[]): string => renderIni(sections, { separator: "=" });

/** A mount unit of the host: its name (from its path), mount point and text. */
export interface MountUnit { name: string; where: string; text: string }

const mountUnit = (where: string, sections: IniSection[]): MountUnit => ({ name: mountUnitName(where), where, text: unitText(sections) });

/** The mount units the host needs before its containers may start (the shares once they are known). */
export function submitMountUnits(nfs?: Shares): MountUnit[] {
    const cvmfs = mountUnit(HOST.cvmfs, sharedBindUnit(HOST.cvmfs));
    if (!nfs) return [cvmfs];
    return [
        cvmfs,
        mountUnit(HOST.home, nfsMountUnit({ server: nfs.server, export: nfs.home, where: HOST.home, description: "INCANT homes (NFSv4 from the storage controller)" })),
        mountUnit(HOST.scratch, nfsMountUnit({ server: nfs.server, export: nfs.scratch, where: HOST.scratch, description: "INCANT scratch (NFSv4 from the storage controller)" })),
    ];
}

/** /etc/docker/daemon.json: bounded logs, and containers that survive a daemon restart. */
export function dockerDaemonConfig(): Record<string, unknown> {
    return {
        "live-restore": true,
        "log-driver": "json-file",
        "log-opts": { "max-size": "20m", "max-file": "5" },
    };
}

/** The role-specific part of the submit host's cloud-config (extends baseCloudConfig). */
export function submitHostCloudConfig(nfs?: Shares): CloudConfig {
    const units = submitMountUnits(nfs);
    const [cvmfsUnit, ...nfsUnits] = units.map((u) => u.name);
    return {
        packages: ["docker.io", "docker-compose-v2", "nfs-common"],
        write_files: [
            ...units.map((u) => ({ path: `/etc/systemd/system/${u.name}`, content: u.text, permissions: "0644" })),
            { path: "/etc/docker/daemon.json", content: JSON.stringify(dockerDaemonConfig(), null, 2) + "\n", permissions: "0644" },
            { path: "/etc/apparmor.d/incant-cvmfs", content: readScript(__dirname, "incant-cvmfs.apparmor"), permissions: "0644" },
            {
                // Written after the packages: the docker.io postinst starts the daemon before the
                // shares exist; from the next boot on, Docker waits for them.
                path: "/etc/systemd/system/docker.service.d/10-incant-mounts.conf",
                content: unitText(dockerAfterMounts(units.map((u) => u.where))),
                permissions: "0644", defer: true,
            },
        ],
        runcmd: [
            ["mkdir", "-p", HOST.cvmfs, HOST.home, HOST.scratch, HOST.cvmfsCache, path.dirname(HOST.compose)],
            ["install", "-d", "-m", "0755", HOST.configDir],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", cvmfsUnit],
            // No waiting here: the storage controller may still be booting. The readiness gate
            // (ready.sh) retries these until they are mounted, within incant:readinessTimeoutSeconds.
            ...(nfsUnits.length ? [["systemctl", "enable", "--now", "--no-block", ...nfsUnits]] : []),
            ["apparmor_parser", "--replace", "--write-cache", "/etc/apparmor.d/incant-cvmfs"],
            // The Docker provider connects as the image's default user (ssh://ubuntu@...).
            ["usermod", "--append", "--groups", "docker", "ubuntu"],
        ],
    };
}
