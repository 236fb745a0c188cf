/**
 * cloud-init of the submit host: Docker Engine, the NFS client mounts of home and scratch behind
 * automount points, the S3 archive's rclone unit (its credentials come over SSH), /cvmfs prepared
 * for shared propagation, and the AppArmor profile and recovering entrypoint of the CVMFS
 * container. Only host
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
import { S3Config } from "../config/schema";
import { ARCHIVE_CLIENT, archiveUnit } from "../storage/archive";
import { NfsShare } from "../storage/types";
import { HOST } from "./services";
import { METRICS_PORTS } from "../network/ports";
import { dockerAfterMounts, nfsAutomountUnit, nfsMountUnit, sharedBindUnit } from "./units";

/** The S3 settings the submit host's archive unit needs (no credential: those come over SSH). */
export type ArchiveSettings = Pick<S3Config, "bucket" | "exportReadWrite" | "credentials">;

type Shares = Pick<NfsShare, "server" | "home" | "scratch">;

/** systemd syntax and no header: a different text would change the user-data and replace the VM. */
const unitText = (sections: IniSection[]): string => renderIni(sections, { separator: "=" });

/** A mount unit of the host: its name (from its path), mount point and text. */
export interface MountUnit { name: string; where: string; text: string }

const mountUnit = (where: string, sections: IniSection[]): MountUnit => ({ name: mountUnitName(where), where, text: unitText(sections) });
const automountName = (where: string): string => mountUnitName(where).replace(/\.mount$/, ".automount");

/** The shared parent of the S3 archive's mount (the submit container binds it rslave). */
export function s3RootUnit(): MountUnit {
    return mountUnit(HOST.s3, sharedBindUnit(HOST.s3, "the S3 archive's rclone mount propagates into the submit container"));
}

/** The mount units the host needs (the shares once they are known); the NFS ones sit behind automount points. */
export function submitMountUnits(nfs?: Shares): MountUnit[] {
    const cvmfs = mountUnit(HOST.cvmfs, sharedBindUnit(HOST.cvmfs, "CVMFS repositories propagate from the CVMFS container"));
    if (!nfs) return [cvmfs];
    return [
        cvmfs,
        mountUnit(HOST.home, nfsMountUnit({ server: nfs.server, export: nfs.home, where: HOST.home, description: "INCANT homes (NFSv4 from the storage controller)" })),
        mountUnit(HOST.scratch, nfsMountUnit({ server: nfs.server, export: nfs.scratch, where: HOST.scratch, description: "INCANT scratch (NFSv4 from the storage controller)" })),
    ];
}

/** The automount points of the NFS shares (same names as their mount units, `.automount`). */
export function submitAutomountUnits(nfs?: Shares): MountUnit[] {
    if (!nfs) return [];
    return [
        { name: automountName(HOST.home), where: HOST.home, text: unitText(nfsAutomountUnit({ where: HOST.home, description: "INCANT homes" })) },
        { name: automountName(HOST.scratch), where: HOST.scratch, text: unitText(nfsAutomountUnit({ where: HOST.scratch, description: "INCANT scratch" })) },
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
/**
 * The node exporter's arguments (Ubuntu's prometheus-node-exporter reads ARGS from
 * /etc/default/prometheus-node-exporter): the systemd collector for the host's own units only, so
 * Prometheus sees whether the S3 archive is mounted (the IncantArchiveDown alert), Docker runs and
 * the NFS automounts are in place. Port: METRICS_PORTS.submitNodeExporter, admitted from the workers.
 */
export function nodeExporterArgs(port: number): string[] {
    return [
        "--collector.systemd",
        `--collector.systemd.unit-include=(incant-.+|docker|srv-incant-.+)\\.(service|mount|automount)`,
        `--web.listen-address=:${port}`,
    ];
}

export function submitHostCloudConfig(nfs?: Shares, archive?: ArchiveSettings): CloudConfig {
    const units = [...submitMountUnits(nfs), ...(archive ? [s3RootUnit()] : [])];
    const automounts = submitAutomountUnits(nfs);
    const local = [HOST.cvmfs, ...(archive ? [HOST.s3] : [])];
    return {
        packages: ["docker.io", "docker-compose-v2", "nfs-common", "prometheus-node-exporter",
            ...(archive ? ["rclone", "fuse3", ...(archive.credentials === "sts" ? ["curl", "jq"] : [])] : [])],
        write_files: [
            ...[...units, ...automounts].map((u) => ({ path: `/etc/systemd/system/${u.name}`, content: u.text, permissions: "0644" })),
            ...(archive ? [{ path: `/etc/systemd/system/${ARCHIVE_CLIENT.unit}`, content: unitText(archiveUnit(archive)), permissions: "0644" }] : []),
            { path: "/etc/docker/daemon.json", content: JSON.stringify(dockerDaemonConfig(), null, 2) + "\n", permissions: "0644" },
            { path: "/etc/apparmor.d/incant-cvmfs", content: readScript(__dirname, "incant-cvmfs.apparmor"), permissions: "0644" },
            { path: HOST.cvmfsEntry, content: readScript(__dirname, "cvmfs-entry.sh"), permissions: "0755" },
            {
                // Written after the packages: the docker.io postinst starts the daemon first.
                path: "/etc/systemd/system/docker.service.d/10-incant-mounts.conf",
                content: unitText(dockerAfterMounts(local)),
                permissions: "0644", defer: true,
            },
            {
                // After the packages (a file already at a conffile's path would stop dpkg to ask).
                path: "/etc/default/prometheus-node-exporter",
                content: `ARGS="${nodeExporterArgs(METRICS_PORTS.submitNodeExporter).join(" ")}"\n`,
                permissions: "0644", defer: true,
            },
        ],
        runcmd: [
            ["mkdir", "-p", ...local, HOST.home, HOST.scratch, HOST.cvmfsCache, path.dirname(HOST.compose)],
            ["install", "-d", "-m", "0755", HOST.configDir],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", ...local.map((p) => mountUnitName(p))],
            // Automount points need no server: they are in place at once; the shares mount on first
            // use. The readiness gate (ready.sh) mounts them within incant:readinessTimeoutSeconds.
            ...(automounts.length ? [["systemctl", "enable", "--now", ...automounts.map((u) => u.name)]] : []),
            // Enabled, not started: it starts once its configuration arrives over SSH (host.ts).
            ...(archive ? [["systemctl", "enable", ARCHIVE_CLIENT.unit]] : []),
            ["apparmor_parser", "--replace", "--write-cache", "/etc/apparmor.d/incant-cvmfs"],
            ["systemctl", "restart", "prometheus-node-exporter"],
            // The Docker provider connects as the image's default user (ssh://ubuntu@...).
            ["usermod", "--append", "--groups", "docker", "ubuntu"],
        ],
    };
}
