/**
 * The detached submit host (the paper's Figures 4-6): a Docker VM outside the Kubernetes fence
 * running the official CVMFS service container and the ATLAS submit container.
 *
 * Order of operations, each step waiting for the previous one:
 *   VM (cloud-init: Docker, NFS automounts, the archive's rclone unit, /cvmfs shared, AppArmor profile)
 *   -> readiness gate over SSH (ready.sh: cloud-init done, shares mounted, Docker answering;
 *      bounded by incant:readinessTimeoutSeconds; prints the host key, pinned from then on)
 *   -> configuration files over SSH (the S3 archive's credentials among them: never in user-data),
 *      and a Docker provider reaching the daemon over SSH
 *   -> the physicists' sshd host key (kept on the host) and users/keys (incant-submit-users,
 *      applied live later: a users change never re-creates the container; access.ts)
 *   -> CVMFS container (created once healthy) -> submit container (created once healthy).
 * The two containers and docker/compose.yaml come from one model (services.ts).
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { baseCloudConfig, extendCloudConfig } from "../compute/base";
import { readScript, renderCloudConfig, renderEnvFile } from "../compute/cloudinit";
import { createVms } from "../compute/group";
import { VmPlacement } from "../compute/placement";
import { sshCommandSetup } from "../compute/ssh";
import { SSH_USER, VirtualMachine } from "../compute/vm";
import { PlannedVm } from "../config/quota";
import { FacilityConfig, FacilitySecrets } from "../config/schema";
import { poolAudience, submitCollectorHost, submitHostAliases } from "../htcondor/config";
import { PoolEndpoints } from "../htcondor/types";
import { ARCHIVE_CLIENT, archiveClientFiles, archiveCredentials } from "../storage/archive";
import { StorageCredentials } from "../storage/rclone";
import { NfsShare } from "../storage/types";
import { ACCESS, renderAccessList, submitMemoryMb, userLimits } from "./access";
import { hostFiles, installCommand } from "./files";
import { submitHostCloudConfig, submitMountUnits } from "./hostconfig";
import { renderToolsConfig } from "./tools";
import { archiveInSubmit, containerFields, cvmfsImage, cvmfsService, renderCompose, submitHostServices } from "./services";
import { cvmfsHttpProxy } from "../cache/squid";
import { vmAddress } from "../network/addressing";

export interface SubmitHostArgs {
    config: FacilityConfig;
    /** Needs `sshPrivateKey` (the key matching `sshPublicKey`) to reach the host. */
    secrets: FacilitySecrets;
    vm: PlannedVm;
    placement: VmPlacement;
    /**
     * The storage controller's exports (StorageController.share): homes and scratch are mounted
     * from it. Without it (and `pool`) the host runs only the CVMFS container.
     */
    nfs?: NfsShare;
    /** The HTCondor pool as seen from this host. Without it (and `nfs`) no submit container is created. */
    pool?: SubmitPool;
    /** The ATLAS submit image (images/submit; `config.images.submit` when no registry is configured). Pinned. */
    submitImage: pulumi.Input<string>;
}

/** What the HTCondor pool gives the submit host. */
export interface SubmitPool {
    /** How the pool is reached from outside the pod network (the pool's endpoints). */
    endpoints: PoolEndpoints;
    /** HTCondor configuration of the submit container (mounted as config.d/50-incant-pool.conf). */
    condorConfig: pulumi.Input<string>;
    /** CA certificate (PEM) of the collector's and schedd's TLS certificates (AUTH_SSL_CLIENT_CAFILE). */
    caCertificate: pulumi.Input<string>;
    /** IDTOKEN for this host, when the pool issues one; a secret, mounted at /etc/condor/tokens-orig.d. */
    condorToken?: pulumi.Input<string>;
}

/** SSH options of the Docker provider: batch mode, and the host key the gate read, pinned. */
export function dockerSshOptions(hostKey: string): string[] {
    return [
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=30",
        "-o", "StrictHostKeyChecking=yes",
        // Never trust (or write) the operator's known_hosts: floating IPs get reused.
        "-o", "UserKnownHostsFile=/dev/null",
        // OpenSSH >= 8.5: the pinned key is the only one accepted for this host.
        "-o", `KnownHostsCommand=/bin/echo %H ${hostKey}`,
    ];
}

const sha256 = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

export class SubmitHost extends pulumi.ComponentResource {
    public readonly server: VirtualMachine;
    /** Public address physicists SSH to. */
    public readonly publicIp: pulumi.Output<string>;
    /** Where physicists find the S3 archive inside the submit container. */
    public readonly archivePath = archiveInSubmit();
    /** The readiness gate: everything that talks to the host waits for it. */
    public readonly ready: command.remote.Command;
    /** Reaches the host's Docker daemon over SSH (ssh://ubuntu@<floating IP>). */
    public readonly dockerProvider: docker.Provider;
    public readonly cvmfsContainer: docker.Container;
    /** Undefined when `args.nfs` or `args.pool` is missing (index.ts passes both). */
    public readonly submitContainer?: docker.Container;
    /** (Re)starts the S3 archive's rclone unit once its configuration is installed (with the submit container only). */
    public readonly archiveStart?: command.remote.Command;
    /** The compose file installed at /opt/incant/compose.yaml (with the submit container only). */
    public readonly compose?: pulumi.Output<string>;
    /** Public host key (`ssh-ed25519 <base64>`) of the physicists' sshd in the submit container, to pin. */
    public readonly sshHostKey?: pulumi.Output<string>;
    /** Installs incant:users and their keys and applies them in the running container (update, not replace). */
    public readonly usersUpdate?: command.remote.Command;

    constructor(name: string, args: SubmitHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:submit:SubmitHost", name, {}, opts);
        const { config, secrets, nfs, pool } = args;
        const timeout = config.readinessTimeoutSeconds;

        [this.server] = createVms({
            vms: [args.vm], placement: args.placement, floatingIp: true,
            userData: (vm) => renderCloudConfig(extendCloudConfig(baseCloudConfig(vm, config), submitHostCloudConfig(nfs, config.s3))),
        }, this);
        this.publicIp = this.server.floatingIp!;

        const { connection, customTimeouts } = sshCommandSetup({
            privateKey: secrets.sshPrivateKey, host: this.publicIp, timeoutSeconds: timeout,
            missingKey: () => new pulumi.ResourceError("incant:sshPrivateKey is not set: the program reaches the submit host's Docker " +
                `daemon over SSH (pulumi config set --secret incant:sshPrivateKey --stack ${config.stack} < key)`, this),
        });
        this.ready = new command.remote.Command(`${name}-ready`, {
            connection,
            create: `${envAssignments({ TIMEOUT_SECONDS: timeout, MOUNT_UNITS: submitMountUnits(nfs).map((u) => u.name).join(" ") })} bash -s`,
            stdin: readScript(__dirname, "ready.sh"),
            // A new server (same floating IP) must be waited for again, and its new host key read.
            triggers: [this.server.instance.id],
        }, {
            // The floating IP's association may land a little after the server: dialing retries cover it.
            parent: this, dependsOn: [this.server.instance], customTimeouts,
        });
        const hostKey = this.ready.stdout.apply((s) => s.trim());
        // Everything on the host goes when the host goes: it is recreated with the gate.
        const onHost = { parent: this, dependsOn: [this.ready], replaceWith: [this.ready] };

        this.dockerProvider = new docker.Provider(`${name}-docker`, {
            host: pulumi.interpolate`ssh://${SSH_USER}@${this.publicIp}`,
            sshOpts: hostKey.apply(dockerSshOptions),
            registryAuth: config.registry.server && config.registry.username && secrets.registryPassword
                ? [{ address: config.registry.server, username: config.registry.username, password: secrets.registryPassword }]
                : undefined,
        }, { parent: this, dependsOn: [this.ready] });
        const onDocker = { ...onHost, provider: this.dockerProvider };
        // Containers have fixed names (compose's container_name): the old one must go first.
        const asContainer = { ...onDocker, deleteBeforeReplace: true };

        const cvmfsRef = cvmfsImage(config.versions.cvmfsService);
        const cvmfsPulled = new docker.RemoteImage(`${name}-cvmfs-image`, { name: cvmfsRef, keepLocally: true }, onDocker);
        // CVMFS through the facility's squid at its NodePort on the first control plane's address (the
        // pool's node address), unless incant:cvmfs.httpProxy says otherwise (components/cache).
        const squidNode = vmAddress(config.network.cidr, { role: "control-plane", index: 0 });
        const hostArgs = { stack: config.stack, hostname: args.vm.name,
            cvmfs: { repositories: config.cvmfs.repositories, httpProxy: cvmfsHttpProxy(config, { in: "submit", nodeAddress: squidNode }) } };
        // `wait`: the provider returns only once the container is healthy, so the submit container
        // is created after CVMFS is up, and a broken mount or propagation fails the deployment.
        this.cvmfsContainer = new docker.Container(`${name}-cvmfs`, {
            ...containerFields(cvmfsService(hostArgs)), image: cvmfsPulled.imageId, wait: true, waitTimeout: timeout,
        }, asContainer);

        if (!nfs || !pool) {
            pulumi.log.warn(`${name}: no ${[nfs ? "" : "nfs (StorageController.share)", pool ? "" : "pool (the HTCondor pool)"]
                .filter(Boolean).join(" and ")} given: the submit container is not created`, this);
            this.registerOutputs({ publicIp: this.publicIp });
            return;
        }

        const services = submitHostServices({
            ...hostArgs,
            collectorHost: submitCollectorHost(pool.endpoints),
            poolHostAliases: submitHostAliases(pool.endpoints, config.iam.jobTokens !== undefined),
            scheddName: pool.endpoints.scheddName,
            iamIssuer: config.iam.issuer,
            // SCITOKENS_SERVER_AUDIENCE of the pool: incant:iam.audience, by default the trust domain.
            tokenAudience: poolAudience(config),
            withToken: pool.condorToken !== undefined,
            withTokenSetup: config.iam.jobTokens !== undefined,
            archive: { readOnly: !config.s3.exportReadWrite },
            memoryMb: submitMemoryMb(args.vm.ramGb),
        });
        this.compose = pulumi.output(args.submitImage).apply((submit) => renderCompose(services, { cvmfs: cvmfsRef, submit }));
        const pinned = { ...connection, hostKey };
        const files = hostFiles({
            limits: userLimits(submitMemoryMb(args.vm.ramGb)), sessionEnv: services[1].environment,
            condorConfig: pool.condorConfig, poolCa: pool.caCertificate,
            // The starter connects back to the tools at this VM's fixed private address.
            toolsConfig: renderToolsConfig(this.server.fixedIp),
            condorToken: pool.condorToken, compose: this.compose, tokenSetup: config.iam.jobTokens !== undefined,
        }).map((f) => ({
            file: f,
            resource: new command.remote.Command(`${name}-file-${f.key}`, {
                connection: pinned,
                create: installCommand(f),
                stdin: f.content,
                // Without an `update` command a changed trigger replaces the resource, and the
                // submit container is replaced with it (replaceWith below).
                triggers: [pulumi.output(f.content).apply(sha256)],
            }, onHost),
        }));
        const readBySubmit = files.filter((f) => f.file.readBySubmit).map((f) => f.resource);

        // The physicists' sshd host key: made once on the host, so a re-created container presents
        // the same key; published (stack output submitSsh) for clients to pin.
        const sshHostKey = new command.remote.Command(`${name}-ssh-host-key`, {
            connection: pinned,
            create: `sudo -n bash -s -- ${ACCESS.host.hostKeyDir}`,
            stdin: readScript(__dirname, "host-key.sh"),
        }, onHost);
        this.sshHostKey = sshHostKey.stdout.apply((s) => s.trim());
        // Users and keys, live: a changed list runs the same script again (`update`), which rewrites
        // the access directory and applies it in the running container, so adding or removing a
        // user re-creates nothing and drops no one else's session (update-users.sh).
        const updateScript = files.find((f) => f.file.path === ACCESS.host.updateUsers)!;
        const updateUsers = `sudo -n ${ACCESS.host.updateUsers} ${timeout}`;
        this.usersUpdate = new command.remote.Command(`${name}-users`, {
            connection: pinned,
            create: updateUsers,
            update: updateUsers,
            stdin: renderAccessList(config.users),
        }, { ...onHost, dependsOn: [this.ready, updateScript.resource], replaceWith: [this.ready, updateScript.resource] });

        // The S3 archive's configuration, credentials included, over the pinned SSH connection:
        // never in user-data, where any process on the VM could read it from the metadata service.
        // Secret end to end; a new key (or STS client secret) restarts the archive only.
        const archiveFiles = archiveCredentials(config, secrets).apply((c) => archiveClientFiles(config.s3, c, args.vm.name));
        const archiveInstalls = archiveClientFiles(config.s3, placeholderCredentials(config.s3.credentials), args.vm.name).map((shape, i) =>
            new command.remote.Command(`${name}-file-archive-${shape.key}`, {
                connection: pinned,
                create: installCommand({ path: shape.path, mode: shape.mode, dirMode: "0755" }),
                stdin: pulumi.secret(archiveFiles.apply((f) => f[i].content)),
                triggers: [pulumi.secret(archiveFiles.apply((f) => sha256(f[i].content)))],
            }, onHost));
        this.archiveStart = new command.remote.Command(`${name}-archive`, {
            connection: pinned,
            create: `sudo -n systemctl restart ${ARCHIVE_CLIENT.unit}`,
            triggers: [pulumi.secret(archiveFiles.apply((f) => sha256(f.map((x) => x.content).join("\0"))))],
        }, { ...onHost, dependsOn: [this.ready, ...archiveInstalls], replaceWith: [this.ready, ...archiveInstalls] });

        const submitPulled = new docker.RemoteImage(`${name}-submit-image`, { name: args.submitImage, keepLocally: true }, onDocker);
        this.submitContainer = new docker.Container(`${name}-submit`, {
            ...containerFields(services[1]), image: submitPulled.imageId, wait: true, waitTimeout: timeout,
        }, {
            ...asContainer,
            // The access directory and the host key must exist: bind mounts never create their source.
            dependsOn: [this.ready, this.cvmfsContainer, ...readBySubmit, sshHostKey, this.usersUpdate],
            // Recreated with the CVMFS container, and when a file it reads at start changes (the
            // image copies tokens and configuration only when it starts).
            replaceWith: [this.ready, this.cvmfsContainer, ...readBySubmit],
        });

        this.registerOutputs({ publicIp: this.publicIp, compose: this.compose, sshHostKey: this.sshHostKey });
    }
}

/** Credentials of the configured kind with no value: only for the list of files (keys and paths). */
function placeholderCredentials(kind: "static" | "sts"): StorageCredentials {
    return kind === "static"
        ? { kind, accessKeyId: "", secretAccessKey: "" }
        : { kind, iamTokenEndpoint: "", iamClientId: "", iamClientSecret: "", roleArn: "" };
}

/** `K='v' K2='v2'` for a command line, with renderEnvFile's quoting rules. */
function envAssignments(values: Record<string, string | number>): string {
    return renderEnvFile(values).trimEnd().split("\n").join(" ");
}
