/**
 * The two containers of the detached submit host (the paper's Figures 5 and 6) as ONE typed
 * model. The docker.Container resources the program deploys (`containerFields`) and the compose
 * file operators can run by hand (`renderCompose`) are both generated from it, so they cannot
 * drift apart; tests/submit.test.ts compares them field by field.
 *
 * Layout on the host:
 *   /cvmfs                      shared mount point; the CVMFS container mounts repositories here
 *   /srv/incant/{home,scratch}  NFSv4 mounts from the storage controller (automount points)
 *   /srv/incant/s3              shared mount point; rclone mounts the S3 archive at s3/archive (storage/archive.ts)
 *   /etc/incant/submit/         the pool's client configuration, bind-mounted read-only into the submit container
 *   /etc/incant/submit/access/  the physicists' users and keys, rewritten live (access.ts), bound read-only
 *   /var/lib/incant/submit-ssh/ the host key of the physicists' sshd, kept across container re-creation
 *   /opt/incant/compose.yaml    this layout for operators
 */
import * as path from "path";
import YAML from "yaml";
import { CvmfsConfig } from "../config/schema";
import { PATHS as CONDOR_PATHS } from "../htcondor/config";
import { TOKEN_SETUP_PATH } from "../htcondor/credentials";
import { ARCHIVE_CLIENT } from "../storage/archive";
import { SUBMIT_SSH_PORT, SUBMIT_TOOL_PORTS } from "../network/ports";
import { ACCESS } from "./access";

/** Paths on the submit host. */
export const HOST = {
    cvmfs: "/cvmfs",
    /** Survives container replacement, so a new CVMFS container starts with a warm cache. */
    cvmfsCache: "/var/lib/incant/cvmfs-cache",
    home: "/srv/incant/home",
    scratch: "/srv/incant/scratch",
    /** Shared parent of the archive's rclone mount (bound into the submit container, rslave). */
    s3: ARCHIVE_CLIENT.root,
    /** The CVMFS container's entrypoint wrapper (cvmfs-entry.sh), bind-mounted read-only into it. */
    cvmfsEntry: "/etc/incant/cvmfs/incant-cvmfs-entry.sh",
    configDir: "/etc/incant/submit",
    condorConfig: "/etc/incant/submit/50-incant-pool.conf",
    /** The tools' reverse-connection settings (tools.ts). */
    toolsConfig: "/etc/incant/submit/60-incant-tools.conf",
    poolCa: "/etc/incant/submit/pool-ca.pem",
    tokensDir: "/etc/incant/submit/tokens.d",
    token: "/etc/incant/submit/tokens.d/incant-submit",
    /** The submit container's pre-exec: its account sync (access-sync.sh). */
    preExec: "/etc/incant/submit/pre-exec.sh",
    /** incant-token-setup (job tokens, components/htcondor/credentials.ts). */
    tokenSetup: "/etc/incant/submit/incant-token-setup",
    compose: "/opt/incant/compose.yaml",
} as const;

/** Paths inside the submit container (the HTCondor image contract, FACTS.md). */
export const IN_SUBMIT = {
    cvmfs: "/cvmfs",
    home: "/home",
    scratch: "/scratch",
    /** The S3 mounts: the archive is `/s3/archive`. */
    s3: "/s3",
    /** Read by condor after the image's own config.d files. */
    condorConfig: "/etc/condor/config.d/50-incant-pool.conf",
    /** Read after it: condor_tail and condor_ssh_to_job from the container (tools.ts). */
    toolsConfig: "/etc/condor/config.d/60-incant-tools.conf",
    /** Where the pool's configuration expects the CA of the collector's and schedd's certificates. */
    poolCa: CONDOR_PATHS.submitHostCa,
    /** The image copies these into /etc/condor/tokens.d with mode 0600 at start. */
    tokens: "/etc/condor/tokens-orig.d",
    /**
     * The image's start.sh runs /root/config/pre-exec.sh before the daemons start; here it is
     * the account sync (components/submit/access-sync.sh), which creates the facility users with
     * their facility uids (as the pool's pre-exec does in the pods) from the access directory.
     */
    preExec: "/root/config/pre-exec.sh",
    /** incant-token-setup, which condor_submit runs too (SEC_CREDENTIAL_STORER): a path of its own, bound read-only. */
    tokenSetup: TOKEN_SETUP_PATH,
} as const;

/** The archive inside the submit container: its rclone mount point, under the bound parent. */
export function archiveInSubmit(): string {
    return path.posix.join(IN_SUBMIT.s3, path.posix.relative(ARCHIVE_CLIENT.root, ARCHIVE_CLIENT.mountPoint));
}

/** The official CernVM-FS service container (cvmfs/cvmfs, packaging/container). */
export const CVMFS_IMAGE_REPOSITORY = "registry.cern.ch/cvmfs/service";
/** The image's own entrypoint (packaging/container/Dockerfile ENTRYPOINT), run by our wrapper. */
export const CVMFS_IMAGE_ENTRYPOINT = "/usr/bin/mount_cvmfs.sh";
/** Where the wrapper appears inside the CVMFS container. */
export const CVMFS_ENTRY_IN_CONTAINER = "/usr/local/sbin/incant-cvmfs-entry.sh";
/** AppArmor profile loaded on the host: docker-default plus FUSE mounts under /cvmfs only. */
export const CVMFS_APPARMOR_PROFILE = "incant-cvmfs";

export type Propagation = "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate";

export interface BindMount {
    /** Host path; must exist (bind mounts of the Mount API never create it). */
    source: string;
    target: string;
    readOnly: boolean;
    /** Bind propagation; unset means Docker's default (rprivate). */
    propagation?: Propagation;
}

export interface Device {
    hostPath: string;
    containerPath: string;
    /** cgroup device permissions, e.g. "rwm". */
    permissions: string;
}

export interface HostAlias {
    host: string;
    ip: string;
}

/** A container port Docker publishes on every host address (the security group decides who reaches it). */
export interface PublishedPort {
    host: number;
    container: number;
}

export interface HealthCheck {
    /** Docker form: ["CMD", argv...] or ["CMD-SHELL", "command"]. */
    test: string[];
    intervalSeconds: number;
    timeoutSeconds: number;
    retries: number;
    startPeriodSeconds: number;
}

/** One container, in terms both Docker's API and the Compose specification express. */
export interface ServiceSpec {
    /** Compose service name; also the key of its image. */
    service: "cvmfs" | "submit";
    containerName: string;
    hostname: string;
    restart: "unless-stopped";
    /** Literally false: the type system refuses a privileged container. */
    privileged: false;
    /** Replaces the image's entrypoint (unset: the image's own). */
    entrypoint?: string[];
    capAdd: string[];
    devices: Device[];
    securityOpt: string[];
    /** Docker's default bridge: outbound, plus the published ports only. */
    networkMode: "bridge";
    ports: PublishedPort[];
    /** Memory limit, MB (unset: none). */
    memoryMb?: number;
    environment: Record<string, string>;
    /** Extra /etc/hosts entries. */
    extraHosts: HostAlias[];
    mounts: BindMount[];
    healthcheck: HealthCheck;
    /** Services that must be healthy before this one starts. */
    dependsOnHealthy: ServiceSpec["service"][];
    labels: Record<string, string>;
}

export interface CvmfsServiceArgs {
    /** Stack name, put in a label so operators can tell stacks apart with `docker ps --filter`. */
    stack: string;
    /** Host name of the submit container (the VM's name). */
    hostname: string;
    /** The repositories and the CVMFS_HTTP_PROXY of this host (the facility's squid at its NodePort, unless configured otherwise). */
    cvmfs: Pick<CvmfsConfig, "repositories"> & { httpProxy: string };
}

export interface SubmitServicesArgs extends CvmfsServiceArgs {
    /** name:port of the pool's collector, as the pool's certificates name it (CONDOR_HOST). */
    collectorHost: string;
    /** /etc/hosts entries mapping the pool's names to node addresses (the collector's NodePort). */
    poolHostAliases: HostAlias[];
    /** Name of the pool's schedd (PoolEndpoints.scheddName), for `condor_submit -remote`. */
    scheddName: string;
    /** INDIGO-IAM issuer, for oidc-agent (`oidc-gen --issuer "$INCANT_IAM_ISSUER"`). */
    iamIssuer: string;
    /** Audience the pool's schedd and collector accept in SciTokens (`oidc-token --aud`). */
    tokenAudience: string;
    /** Mount the HTCondor token directory (only when the pool issued a token for this host). */
    withToken: boolean;
    /** Job tokens (incant:iam.jobTokens): incant-token-setup in the container. */
    withTokenSetup?: boolean;
    /** Mount the S3 archive (at /s3/archive; read-only unless s3.exportReadWrite, enforced by rclone); unset: no archive. */
    archive?: { readOnly: boolean };
    /** Memory limit of the submit container, MB (access.ts submitMemoryMb: the VM's less the host's reserve); unset: none. */
    memoryMb?: number;
}

const labels = (stack: string, service: ServiceSpec["service"]) => ({ "org.incant.stack": stack, "org.incant.service": service });
const ro = (source: string, target: string): BindMount => ({ source, target, readOnly: true });

/** The CVMFS service container and the ATLAS submit container, in start order. */
export function submitHostServices(a: SubmitServicesArgs): [ServiceSpec, ServiceSpec] {
    return [cvmfsService(a), submitService(a)];
}

/** The official CVMFS service container: mounts the repositories on the host's /cvmfs. */
export function cvmfsService(a: CvmfsServiceArgs): ServiceSpec {
    return {
        service: "cvmfs",
        containerName: "incant-cvmfs",
        hostname: `${a.hostname}-cvmfs`,
        restart: "unless-stopped",
        privileged: false,
        // Clears dead repository mounts left by a crash with a lazy unmount, then runs the image's
        // entrypoint (cvmfs-entry.sh: the image's plain umount fails with EBUSY and loops).
        entrypoint: [CVMFS_ENTRY_IN_CONTAINER, CVMFS_IMAGE_ENTRYPOINT],
        // FUSE needs exactly this: CAP_SYS_ADMIN for mount(2) and the /dev/fuse device
        // (the image's own usage note: --cap-add SYS_ADMIN --device /dev/fuse).
        capAdd: ["SYS_ADMIN"],
        devices: [{ hostPath: "/dev/fuse", containerPath: "/dev/fuse", permissions: "rwm" }],
        // Ubuntu's docker-default AppArmor profile denies every mount: use ours, which allows only
        // FUSE mounts under /cvmfs (moby issue 16233), never "unconfined".
        securityOpt: [`apparmor=${CVMFS_APPARMOR_PROFILE}`, "no-new-privileges=true"],
        networkMode: "bridge",
        ports: [],
        environment: {
            // The entrypoint writes every CVMFS_* variable into the client configuration.
            CVMFS_CLIENT_PROFILE: "single",
            CVMFS_REPOSITORIES: a.cvmfs.repositories.join(","),
            CVMFS_HTTP_PROXY: a.cvmfs.httpProxy,
        },
        extraHosts: [],
        mounts: [
            { source: HOST.cvmfs, target: "/cvmfs", readOnly: false, propagation: "shared" },
            { source: HOST.cvmfsCache, target: "/var/lib/cvmfs", readOnly: false },
            ro(HOST.cvmfsEntry, CVMFS_ENTRY_IN_CONTAINER),
        ],
        // The image's own probe (check_cvmfs.sh liveness: every repository mounted and listable),
        // run more often than its 5-minute default so dependants start soon after the mounts.
        healthcheck: {
            test: ["CMD", "/usr/bin/check_cvmfs.sh", "liveness"],
            intervalSeconds: 30, timeoutSeconds: 60, retries: 3, startPeriodSeconds: 120,
        },
        dependsOnHealthy: [],
        labels: labels(a.stack, "cvmfs"),
    };
}

/**
 * The ATLAS submit container: HTCondor clients, with the Kerberos (CERN.CH) and VOMS (ATLAS)
 * clients and their configuration built into the image (images/common, shared with the pool's
 * images); /cvmfs read-only from the CVMFS container, homes and scratch from the NFS shares.
 */
export function submitService(a: SubmitServicesArgs): ServiceSpec {
    return {
        service: "submit",
        containerName: "incant-submit",
        hostname: a.hostname,
        restart: "unless-stopped",
        privileged: false,
        capAdd: [],
        devices: [],
        // no-new-privileges: nothing a user runs gains privileges (no setuid). sshd starts as root
        // under supervisord and changes to the user itself, which needs no new privileges.
        securityOpt: ["no-new-privileges=true"],
        networkMode: "bridge",
        // The physicists' sshd (access.ts), the same port inside and out; and the ports where
        // condor_tail and condor_ssh_to_job wait for the job's starter to connect back (tools.ts).
        ports: [SUBMIT_SSH_PORT, ...toolPorts()].map((port) => ({ host: port, container: port })),
        // The VM keeps memory for itself; the users' per-process limits sit inside this one.
        memoryMb: a.memoryMb,
        environment: {
            // The HTCondor image writes CONDOR_HOST into config.d/01-env.conf; the pool's own file
            // (50-incant-pool.conf, read after it) sets COLLECTOR_HOST to the same name:port.
            CONDOR_HOST: a.collectorHost,
            INCANT_SCHEDD: a.scheddName,
            INCANT_IAM_ISSUER: a.iamIssuer,
            INCANT_TOKEN_AUDIENCE: a.tokenAudience,
        },
        // The collector's certificate carries its in-cluster name: resolve that name to the node
        // address of its NodePort, so the TLS host check of SciTokens authentication passes.
        extraHosts: a.poolHostAliases,
        mounts: [
            // Read-only, and rslave so repositories the CVMFS container (re)mounts later show up.
            { source: HOST.cvmfs, target: IN_SUBMIT.cvmfs, readOnly: true, propagation: "rslave" },
            // rslave: a share the host mounts after the container started (on its automount
            // point) shows up inside it, so the container never holds an empty directory.
            { source: HOST.home, target: IN_SUBMIT.home, readOnly: false, propagation: "rslave" },
            { source: HOST.scratch, target: IN_SUBMIT.scratch, readOnly: false, propagation: "rslave" },
            // The archive's shared parent, not the mount point: a restarted rclone is a new mount
            // under it, which propagates; a bind of the mount itself would keep the dead one.
            // Read-only here; writes to the archive are rclone's to allow (s3.exportReadWrite).
            ...(a.archive ? [{ source: HOST.s3, target: IN_SUBMIT.s3, readOnly: true, propagation: "rslave" } satisfies BindMount] : []),
            ro(HOST.condorConfig, IN_SUBMIT.condorConfig),
            ro(HOST.toolsConfig, IN_SUBMIT.toolsConfig),
            ro(HOST.poolCa, IN_SUBMIT.poolCa),
            ...(a.withToken ? [ro(HOST.tokensDir, IN_SUBMIT.tokens)] : []),
            ro(HOST.preExec, IN_SUBMIT.preExec),
            ...(a.withTokenSetup ? [ro(HOST.tokenSetup, IN_SUBMIT.tokenSetup)] : []),
            // The physicists' logins (access.ts): users and keys as a directory, so files the host
            // rewrites live show up; the host key directory outlives the container.
            ro(ACCESS.host.dir, ACCESS.container.dir),
            ro(ACCESS.host.hostKeyDir, ACCESS.container.hostKeyDir),
            ro(ACCESS.host.sshdConfig, ACCESS.container.sshdConfig),
            ro(ACCESS.host.limits, ACCESS.container.limits),
        ],
        // Healthy when every repository is visible through the propagated mount.
        healthcheck: {
            test: ["CMD-SHELL", a.cvmfs.repositories.map((r) => `mountpoint -q /cvmfs/${r}`).join(" && ")],
            intervalSeconds: 60, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 30,
        },
        dependsOnHealthy: ["cvmfs"],
        labels: labels(a.stack, "submit"),
    };
}

/** Every port of SUBMIT_TOOL_PORTS, in order (Docker publishes each on its own). */
export function toolPorts(): number[] {
    return Array.from({ length: SUBMIT_TOOL_PORTS.last - SUBMIT_TOOL_PORTS.first + 1 }, (_, i) => SUBMIT_TOOL_PORTS.first + i);
}

/** The CVMFS image reference for a pinned tag. */
export function cvmfsImage(tag: string): string {
    return `${CVMFS_IMAGE_REPOSITORY}:${tag}`;
}

const seconds = (n: number) => `${n}s`;

/** One service in Compose-specification form (accepted by docker-compose 1.29 and `docker compose`). */
function composeService(s: ServiceSpec, image: string): Record<string, unknown> {
    return {
        image,
        container_name: s.containerName,
        hostname: s.hostname,
        restart: s.restart,
        privileged: s.privileged,
        ...(s.entrypoint ? { entrypoint: s.entrypoint } : {}),
        ...(s.capAdd.length ? { cap_add: s.capAdd } : {}),
        ...(s.devices.length ? { devices: s.devices.map((d) => `${d.hostPath}:${d.containerPath}:${d.permissions}`) } : {}),
        security_opt: s.securityOpt,
        network_mode: s.networkMode,
        ...(s.ports.length ? { ports: s.ports.map((p) => `${p.host}:${p.container}`) } : {}),
        ...(s.memoryMb ? { mem_limit: `${s.memoryMb}m` } : {}),
        environment: s.environment,
        ...(s.extraHosts.length ? { extra_hosts: s.extraHosts.map((h) => `${h.host}:${h.ip}`) } : {}),
        volumes: s.mounts.map((m) => ({
            type: "bind", source: m.source, target: m.target,
            ...(m.readOnly ? { read_only: true } : {}),
            ...(m.propagation ? { bind: { propagation: m.propagation } } : {}),
        })),
        healthcheck: {
            test: s.healthcheck.test,
            interval: seconds(s.healthcheck.intervalSeconds),
            timeout: seconds(s.healthcheck.timeoutSeconds),
            retries: s.healthcheck.retries,
            start_period: seconds(s.healthcheck.startPeriodSeconds),
        },
        ...(s.dependsOnHealthy.length
            ? { depends_on: Object.fromEntries(s.dependsOnHealthy.map((d) => [d, { condition: "service_healthy" }])) }
            : {}),
        labels: s.labels,
    };
}

/** docker/compose.yaml: the same containers for operators who run them by hand. */
export function renderCompose(services: ServiceSpec[], images: Record<ServiceSpec["service"], string>): string {
    const doc = new YAML.Document({ services: Object.fromEntries(services.map((s) => [s.service, composeService(s, images[s.service])])) });
    doc.commentBefore = [
        " The INCANT submit host: the CVMFS service container and the ATLAS submit container.",
        " Generated by the Pulumi program (components/submit/services.ts) from the same model as the",
        " containers it deploys; edit the model, not this file. To run it by hand instead of Pulumi:",
        "   sudo docker rm -f incant-cvmfs incant-submit",
        `   sudo docker compose -p incant -f ${HOST.compose} up -d`,
    ].join("\n");
    return doc.toString({ lineWidth: 0 });
}

/** The fields of a docker.Container (v5 API) for one service; `image` is the pulled image's id. */
export interface ContainerFields {
    name: string;
    hostname: string;
    restart: string;
    privileged: boolean;
    entrypoints?: string[];
    capabilities?: { adds: string[] };
    devices: { hostPath: string; containerPath: string; permissions: string }[];
    securityOpts: string[];
    networkMode: string;
    ports?: { internal: number; external: number }[];
    /** MB. */
    memory?: number;
    envs: string[];
    hosts: HostAlias[];
    mounts: { type: "bind"; source: string; target: string; readOnly: boolean; bindOptions?: { propagation: string } }[];
    healthcheck: { tests: string[]; interval: string; timeout: string; retries: number; startPeriod: string };
    labels: { label: string; value: string }[];
}

export function containerFields(s: ServiceSpec): ContainerFields {
    return {
        name: s.containerName,
        hostname: s.hostname,
        restart: s.restart,
        privileged: s.privileged,
        entrypoints: s.entrypoint,
        capabilities: s.capAdd.length ? { adds: s.capAdd } : undefined,
        devices: s.devices.map((d) => ({ ...d })),
        securityOpts: s.securityOpt,
        networkMode: s.networkMode,
        ...(s.ports.length ? { ports: s.ports.map((p) => ({ internal: p.container, external: p.host })) } : {}),
        ...(s.memoryMb ? { memory: s.memoryMb } : {}),
        envs: Object.entries(s.environment).map(([k, v]) => `${k}=${v}`),
        hosts: s.extraHosts.map((h) => ({ ...h })),
        mounts: s.mounts.map((m) => ({
            type: "bind", source: m.source, target: m.target, readOnly: m.readOnly,
            ...(m.propagation ? { bindOptions: { propagation: m.propagation } } : {}),
        })),
        healthcheck: {
            tests: s.healthcheck.test,
            interval: seconds(s.healthcheck.intervalSeconds),
            timeout: seconds(s.healthcheck.timeoutSeconds),
            retries: s.healthcheck.retries,
            startPeriod: seconds(s.healthcheck.startPeriodSeconds),
        },
        labels: Object.entries(s.labels).map(([label, value]) => ({ label, value })),
    };
}
