/**
 * The detached submit host (issue 6): container specs, the readiness gate before Docker, NFS
 * mounts equal to the storage controller's exports, the submit container reaching the real
 * HTCondor pool, and docker/compose.yaml equal to the deployed containers (and accepted by
 * `docker-compose config`).
 *
 * Everything runs the real program (index.ts) on the offline engine, on dev (no registry: the
 * configured submit image) and prod (incant:registry.server set: the built image's digest).
 * Expectations about the pool are derived independently of the SubmitHost: the collector's name
 * and the schedd's name from the stack configuration, the node address from the first control
 * plane VM, the pool's configuration of this host from the pool's pure generators, and the CA
 * from the pool's real certificates (the offline engine signs them for real). The pool gives this
 * host no credential (users bring IAM SciTokens): no token file is installed, nothing secret is.
 */
import { strict as assert } from "assert";
import { X509Certificate } from "crypto";
import YAML from "yaml";
import { cidrsOverlap, parseCidr } from "../components/config/cidr";
import { DEFAULTS } from "../components/config/defaults";
import { FacilityConfig } from "../components/config/schema";
import { rawConfig } from "../components/config/load";
import { validateConfig } from "../components/config/validate";
import { poolEndpoints, poolSettings, renderSubmitHostConfig } from "../components/htcondor/config";
import { POOL_NAMESPACE } from "../components/htcondor/pool";
import { vmAddress } from "../components/network/addressing";
import { installCommand } from "../components/submit/files";
import { dockerSshOptions } from "../components/submit/host";
import { renderToolsConfig } from "../components/submit/tools";
import { SUBMIT_TOOL_PORTS } from "../components/network/ports";
import { CVMFS_IMAGE_REPOSITORY, HOST, IN_SUBMIT } from "../components/submit/services";
import { ACCESS } from "../components/submit/access";
import { parseIni } from "../components/compute/ini";
import { ARCHIVE_CLIENT } from "../components/storage/archive";
import { RecordedResource } from "../offline/engine";
import { cloudConfigOf, submitHostFiles } from "../offline/artifacts";
import { providerUrn } from "../offline/graph";
import { offlineId } from "../offline/placeholders";
import { checkPolicies } from "../offline/policy";
import { unpinnedReason } from "../policy/images";
import { requireTool, run as runTool, tempFile } from "./harness/tools";
import { INSTANCE, merged, ProgramRun, runProgram } from "./harness/program";

const CONTAINER = "docker:index/container:Container";
const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
const COMMAND = "command:remote:Command";
const DOCKER_PROVIDER = "pulumi:providers:docker";

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The real program on a stack file as it is; each stack runs once for the whole file. */
const runs = new Map<string, Promise<ProgramRun>>();
const program = (stack: string) => {
    if (!runs.has(stack)) runs.set(stack, runProgram(stack));
    return runs.get(stack)!;
};

/** The stack's configuration as the program validated it (from the same config map). */
function facilityConfig(run: ProgramRun): FacilityConfig {
    const { raw, secretKeys } = rawConfig(run.stack.config, (k) => run.stack.secretKeys.includes(k));
    return validateConfig(raw, { stack: run.stack.stack, secretKeys });
}

/** The fixed address of the first control plane VM: the node the pool's NodePorts are reached on. */
function firstControlPlaneIp(run: ProgramRun, prefix: string): string {
    const vm = run.resources.find((r) => r.type === INSTANCE && r.inputs.name === `${prefix}-control-plane-0`);
    assert.ok(vm, `no ${prefix}-control-plane-0`);
    const net = (vm.inputs.networks as Inputs[])[0];
    if (net.fixedIpV4) return net.fixedIpV4;
    // A server on a port the program made: the address is the port's.
    const port = run.ofType("openstack:networking/port:Port").find((p) => [p.name, String(p.inputs.name)].some((n) => offlineId("port", n) === net.port));
    assert.ok(port, `${prefix}-control-plane-0 has neither a fixed address nor a known port`);
    return (port.inputs.fixedIps as Inputs[])[0].ipAddress;
}

/** The compose file the program installs at /opt/incant/compose.yaml (SubmitHost.compose). */
const composeOf = (run: ProgramRun) => String(run.get(COMMAND, "submit-file-compose").revealedInputs.stdin);

/** The submit image the program must run: the built image's digest with a registry, else incant:images.submit. */
function expectedSubmitImage(run: ProgramRun): string {
    const built = run.resources.find((r) => r.type === "docker:index/image:Image" && r.name === "atlas-images-submit");
    return built ? String(built.state.repoDigest) : facilityConfig(run).images.submit;
}

describe("submit host: the CVMFS service container (real program)", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: official image pinned, SYS_ADMIN and /dev/fuse only, not privileged, /cvmfs shared`, async () => {
            const run = await program(stack);
            const cvmfs = run.get(CONTAINER, "submit-cvmfs").inputs as Inputs;
            const image = run.get(REMOTE_IMAGE, "submit-cvmfs-image");
            assert.equal(image.inputs.name, `${CVMFS_IMAGE_REPOSITORY}:${DEFAULTS.versions.cvmfsService}`);
            assert.equal(cvmfs.image, image.state.imageId, "the container runs the image that was pulled");
            assert.equal(cvmfs.privileged, false);
            assert.deepEqual(cvmfs.capabilities, { adds: ["SYS_ADMIN"] });
            assert.deepEqual(cvmfs.devices, [{ hostPath: "/dev/fuse", containerPath: "/dev/fuse", permissions: "rwm" }]);
            assert.ok(!cvmfs.securityOpts.some((o: string) => /unconfined/.test(o)), "no unconfined AppArmor or seccomp");
            assert.deepEqual(cvmfs.securityOpts, ["apparmor=incant-cvmfs", "no-new-privileges=true"]);
            assert.deepEqual(cvmfs.mounts[0], { type: "bind", source: "/cvmfs", target: "/cvmfs", readOnly: false, bindOptions: { propagation: "shared" } });
            const env = Object.fromEntries((cvmfs.envs as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
            assert.equal(env.CVMFS_CLIENT_PROFILE, "single");
            assert.equal(env.CVMFS_REPOSITORIES, DEFAULTS.cvmfs.repositories.join(","));
            // prod names its site squid (the opt-out); dev reads through the facility's squid at its NodePort (components/cache).
            assert.equal(env.CVMFS_HTTP_PROXY, stack === "prod" ? "http://squid.mi.infn.it:3128" : "http://192.168.100.10:30128");
            assert.deepEqual(cvmfs.healthcheck.tests, ["CMD", "/usr/bin/check_cvmfs.sh", "liveness"]);
            assert.equal(cvmfs.restart, "unless-stopped");
            assert.equal(cvmfs.wait, true, "created only once healthy");
        });
    }

    it("follows incant:cvmfs and incant:versions.cvmfsService", async () => {
        // sft.cern.ch too: the dev stack's JupyterHub needs it (incant:jupyterhub).
        const run = await runProgram("dev", { cvmfs: { repositories: ["atlas.cern.ch", "sft.cern.ch"], httpProxy: "http://squid.example:3128" }, versions: { cvmfsService: "2.13.0-1" } });
        const env = (run.get(CONTAINER, "submit-cvmfs").inputs.envs as string[]);
        assert.ok(env.includes("CVMFS_REPOSITORIES=atlas.cern.ch,sft.cern.ch"));
        assert.ok(env.includes("CVMFS_HTTP_PROXY=http://squid.example:3128"));
        assert.equal(run.get(REMOTE_IMAGE, "submit-cvmfs-image").inputs.name, "registry.cern.ch/cvmfs/service:2.13.0-1");
    });
});

describe("submit host: nothing talks to Docker before the readiness gate (real program)", () => {
    let run: ProgramRun;
    before(async () => { run = await program("dev"); });

    it("gate: ready.sh over SSH with the secret key, bounded by incant:readinessTimeoutSeconds, rerun for a new server", () => {
        const gate = run.get(COMMAND, "submit-ready");
        assert.match(String(gate.inputs.create), /^TIMEOUT_SECONDS='900' MOUNT_UNITS='cvmfs.mount srv-incant-home.mount srv-incant-scratch.mount' bash -s$/);
        assert.match(String(gate.inputs.stdin), /cloud-init status --wait/);
        assert.ok(gate.secretPaths.includes("connection"), "the connection (private key) is secret");
        const conn = gate.revealedInputs.connection as Inputs;
        assert.equal(conn.user, "ubuntu");
        assert.equal(conn.privateKey, run.stack.config["incant:sshPrivateKey"]);
        assert.equal(conn.host, run.outputs.submitHostAddress);
        assert.equal(conn.dialErrorLimit * conn.perDialTimeout, 900, "dialing is bounded by the same timeout");
        const server = run.resources.find((r) => r.type === INSTANCE && r.inputs.name === "incant-dev-submit")!;
        assert.deepEqual(gate.inputs.triggers, [offlineId("instance", "incant-dev-submit")], "the server's id");
        assert.ok(gate.dependencies.includes(server.urn));
    });

    it("uses another timeout when configured", async () => {
        const other = await runProgram("dev", { readinessTimeoutSeconds: 120 });
        assert.match(String(other.get(COMMAND, "submit-ready").inputs.create), /^TIMEOUT_SECONDS='120' /);
        assert.equal(other.get(CONTAINER, "submit-cvmfs").inputs.waitTimeout, 120);
    });

    it("Docker provider: ssh://ubuntu@<floating IP>, the gate's host key pinned, after the gate", () => {
        const gate = run.get(COMMAND, "submit-ready");
        const provider = run.get(DOCKER_PROVIDER, "submit-docker");
        assert.equal(provider.inputs.host, `ssh://ubuntu@${run.outputs.submitHostAddress}`);
        const hostKey = String(gate.state.stdout).trim();
        assert.match(hostKey, /^ssh-ed25519 [A-Za-z0-9+/=]+$/);
        assert.deepEqual(JSON.parse(String(provider.inputs.sshOpts)), dockerSshOptions(hostKey));
        assert.ok(provider.dependencies.includes(gate.urn));
    });

    it("every Docker resource uses that provider, depends on the gate and is replaced with it", () => {
        const gate = run.get(COMMAND, "submit-ready");
        const provider = run.get(DOCKER_PROVIDER, "submit-docker");
        const dockerResources = run.resources.filter((r) => r.type.startsWith("docker:"));
        assert.ok(dockerResources.length >= 2);
        for (const r of dockerResources) {
            assert.equal(r.provider && providerUrn(r.provider), provider.urn, r.name);
            assert.ok(r.dependencies.includes(gate.urn), `${r.name} waits for the gate`);
            assert.ok(r.replaceWith?.includes(gate.urn), `${r.name} is replaced with the host`);
        }
        for (const c of run.resources.filter((r) => r.type === CONTAINER)) {
            assert.equal(c.deleteBeforeReplace, true, `${c.name}: its fixed name must be free before the new one starts`);
        }
    });
});

describe("submit host: NFS mounts equal the storage controller's exports (real program)", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: home and scratch from the storage VM's address, exported to this host`, async () => {
            const run = await program(stack);
            const prefix = stack === "dev" ? "incant-dev" : "incant-prod";
            const storageVm = run.resources.find((r) => r.type === INSTANCE && r.inputs.name === `${prefix}-storage`)!;
            const storageIp = (storageVm.inputs.networks as Inputs[])[0].fixedIpV4;
            assert.equal(storageIp, run.outputs.nfsServer);
            const submitIp = vmAddress(JSON.parse(run.stack.config["incant:network"]).cidr, { role: "submit", index: 0 });

            const units = (cloudConfigOf(run, `${prefix}-submit`).write_files ?? []).filter((f) => f.path.endsWith(".mount"));
            const what = (name: string) => /^What=(.*)$/m.exec(units.find((u) => u.path.endsWith(name))!.content)![1];
            const exportsFile = (cloudConfigOf(run, `${prefix}-storage`).write_files ?? []).find((f) => f.path === "/etc/exports.d/incant.exports");
            assert.ok(exportsFile, "the storage controller writes /etc/exports.d/incant.exports");
            const exported = new Map(exportsFile.content.split("\n").filter((l) => l && !l.startsWith("#"))
                .map((l) => { const [p, ...clients] = l.trim().split(/\s+/); return [p, clients.map((c) => c.replace(/\(.*$/, ""))] as const; }));
            for (const [unit, share] of [["srv-incant-home.mount", "home"], ["srv-incant-scratch.mount", "scratch"]] as const) {
                const [server, exportPath] = what(unit).split(":");
                assert.equal(server, storageIp, `${unit} mounts from the storage controller`);
                const shares = run.outputs.nfsExports as Record<string, string> | undefined;
                if (shares) assert.equal(exportPath, shares[share]);
                const clients = exported.get(exportPath);
                assert.ok(clients, `${exportPath} is exported (have ${[...exported.keys()].join(", ")})`);
                assert.ok(clients.some((c) => cidrsOverlap(parseCidr(c.includes("/") ? c : `${c}/32`)!, parseCidr(`${submitIp}/32`)!)),
                    `${exportPath} is exported to the submit host ${submitIp}: ${clients.join(" ")}`);
            }
            for (const u of units.filter((x) => /What=\d/.test(x.content))) {
                assert.match(u.content, /^Type=nfs4$/m);
                assert.match(u.content, /^Options=vers=4\.2,proto=tcp,hard,.*_netdev$/m);
            }
        });
    }
});

for (const stack of ["dev", "prod"]) {
    const prefix = `incant-${stack}`;

    describe(`submit host: the submit container, wired to the real pool (${stack})`, () => {
        let run: ProgramRun;
        let config: FacilityConfig;
        before(async () => {
            run = await program(stack);
            config = facilityConfig(run);
        });

        it("is not privileged, adds no capability or device, and runs the pinned submit image", () => {
            const submit = run.get(CONTAINER, "submit-submit").inputs as Inputs;
            assert.equal(submit.privileged, false);
            assert.equal(submit.capabilities, undefined);
            assert.deepEqual(submit.devices, []);
            assert.deepEqual(submit.securityOpts, ["no-new-privileges=true"]);
            const image = run.get(REMOTE_IMAGE, "submit-submit-image");
            assert.equal(image.inputs.name, expectedSubmitImage(run));
            assert.equal(image.inputs.name, (run.outputs.imageRefs as Record<string, string>).submit, "the image the stack exports");
            assert.equal(submit.image, image.state.imageId);
            for (const img of run.ofType(REMOTE_IMAGE)) {
                assert.equal(unpinnedReason(String(img.inputs.name)), undefined, String(img.inputs.name));
            }
        });

        it(stack === "prod" ? "with a registry: the digest of the image the program built and pushed" : "without a registry: incant:images.submit as configured", () => {
            const name = String(run.get(REMOTE_IMAGE, "submit-submit-image").inputs.name);
            const built = run.ofType("docker:index/image:Image").find((r) => r.name === "atlas-images-submit");
            if (config.registry.server) {
                assert.ok(built, "the submit image is built when incant:registry.server is set");
                assert.match(name, new RegExp(`^${config.registry.server.replace(/\./g, "\\.")}/${config.registry.project}/atlas-submit[:@].*@sha256:[0-9a-f]{64}$`));
                assert.equal(name, built.state.repoDigest);
                const pull = run.get(REMOTE_IMAGE, "submit-submit-image");
                assert.ok(pull.dependencies.includes(built.urn), "pulled after the push");
                assert.ok(run.get(DOCKER_PROVIDER, "submit-docker").secretPaths.some((p) => p.startsWith("registryAuth")), "the daemon pulls with the robot account, as a secret");
            } else {
                assert.equal(built, undefined);
                assert.equal(name, config.images.submit);
                assert.equal(name, DEFAULTS.images.submit);
            }
            const doc = YAML.parse(composeOf(run)) as { services: Record<string, Inputs> };
            assert.equal(doc.services.submit.image, name, "the compose file names the same image");
        });

        it("mounts /cvmfs read-only with rslave propagation, the NFS shares, and its configuration read-only", () => {
            const mounts = run.get(CONTAINER, "submit-submit").inputs.mounts as Inputs[];
            const at = (target: string) => mounts.find((m) => m.target === target);
            assert.deepEqual(at("/cvmfs"), { type: "bind", source: "/cvmfs", target: "/cvmfs", readOnly: true, bindOptions: { propagation: "rslave" } });
            // rslave: shares mounted on the host after the container started (automount, a
            // restarted rclone) propagate into it.
            assert.deepEqual(at("/home"), { type: "bind", source: HOST.home, target: "/home", readOnly: false, bindOptions: { propagation: "rslave" } });
            assert.deepEqual(at("/scratch"), { type: "bind", source: HOST.scratch, target: "/scratch", readOnly: false, bindOptions: { propagation: "rslave" } });
            // The archive's shared parent (the archive is /s3/archive), so a restarted rclone propagates.
            assert.deepEqual(at("/s3"), { type: "bind", source: HOST.s3, target: "/s3", readOnly: true, bindOptions: { propagation: "rslave" } });
            const configMounts = mounts.filter((m) => !["/cvmfs", "/home", "/scratch", "/s3"].includes(m.target));
            assert.deepEqual(configMounts.map((m) => m.target).sort(), ["/etc/condor/config.d/50-incant-pool.conf", "/etc/condor/config.d/60-incant-tools.conf", "/etc/condor/incant/pool-ca.pem",
                ACCESS.container.dir, ACCESS.container.hostKeyDir, ACCESS.container.sshdConfig, ACCESS.container.limits, "/root/config/pre-exec.sh"].sort());
            // The sshd host key lives outside the configuration directory: it is made on the host, never installed.
            assert.ok(configMounts.every((m) => m.readOnly === true && (m.source.startsWith(`${HOST.configDir}/`) || m.source === ACCESS.host.hostKeyDir)));
        });

        it("reaches the pool: the collector by its certificate name on the first control plane's address, the pool's schedd", () => {
            const submit = run.get(CONTAINER, "submit-submit");
            const envs = submit.inputs.envs as string[];
            const collectorName = `condor.${POOL_NAMESPACE}.svc`;
            const nodeAddress = firstControlPlaneIp(run, prefix);
            assert.equal(nodeAddress, vmAddress(config.network.cidr, { role: "control-plane", index: 0 }));
            assert.ok(envs.includes(`CONDOR_HOST=${collectorName}:${config.htcondor.collectorPort}`), "the collector's certificate name and NodePort");
            assert.deepEqual(submit.inputs.hosts, [{ host: collectorName, ip: nodeAddress }], "that name resolves to the node address");
            assert.ok(envs.includes(`INCANT_SCHEDD=schedd@${config.htcondor.trustDomain}`));
            assert.ok(envs.includes(`INCANT_IAM_ISSUER=${config.iam.issuer}`));
            assert.ok(envs.includes(`INCANT_TOKEN_AUDIENCE=${config.iam.audience ?? config.htcondor.trustDomain}`), "the pool's SCITOKENS_SERVER_AUDIENCE");
            // The stack's exported endpoints say the same.
            const endpoints = run.outputs.htcondorEndpoints as Record<string, string>;
            assert.equal(endpoints.collectorAddress, `${nodeAddress}:${config.htcondor.collectorPort}`);
            assert.equal(endpoints.collectorHostName, collectorName);
            assert.equal(endpoints.scheddName, `schedd@${config.htcondor.trustDomain}`);
        });

        it("installs the pool's own configuration of this host: remote submission with SciTokens, verified by the pool CA", () => {
            const conf = String(run.get(COMMAND, "submit-file-condor-config").revealedInputs.stdin);
            const expected = renderSubmitHostConfig(poolEndpoints(poolSettings(config, POOL_NAMESPACE, firstControlPlaneIp(run, prefix))), config);
            assert.equal(conf, expected);
            assert.match(conf, new RegExp(`^COLLECTOR_HOST = condor\\.${POOL_NAMESPACE}\\.svc:${config.htcondor.collectorPort}$`, "m"));
            assert.match(conf, /^SEC_CLIENT_AUTHENTICATION_METHODS = SCITOKENS$/m);
            assert.match(conf, new RegExp(`^AUTH_SSL_CLIENT_CAFILE = ${IN_SUBMIT.poolCa}$`, "m"), "where the CA is mounted");
            assert.match(String(run.get(COMMAND, "submit-users").revealedInputs.stdin), /^user atlasuser1 20001 /m);
        });

        it("installs the tools' settings: condor_tail and condor_ssh_to_job listen on the published range and give the starter this VM's address", () => {
            const conf = String(run.get(COMMAND, "submit-file-condor-tools").revealedInputs.stdin);
            const vm = vmAddress(config.network.cidr, { role: "submit", index: 0 });
            assert.equal(conf, renderToolsConfig(vm));
            const settings = conf.split("\n").filter((l) => l && !l.startsWith("#"));
            // TOOL.: the command-line tools only (their default subsystem), not the container's master.
            assert.deepEqual(settings, ["TOOL.IN_LOWPORT = 9620", "TOOL.IN_HIGHPORT = 9629", `TOOL.TCP_FORWARDING_HOST = ${vm}`]);
            const instance = run.resources.find((r) => r.type === INSTANCE && r.inputs.name === `${prefix}-submit`)!;
            assert.equal((instance.inputs.networks as Inputs[])[0].fixedIpV4, vm, "the submit VM's fixed address");
            const mounts = run.get(CONTAINER, "submit-submit").inputs.mounts as Inputs[];
            assert.deepEqual(mounts.find((m) => m.target === IN_SUBMIT.toolsConfig), { type: "bind", source: HOST.toolsConfig, target: IN_SUBMIT.toolsConfig, readOnly: true });
            // Read after the pool's file (config.d is read in lexical order).
            assert.ok(IN_SUBMIT.toolsConfig > IN_SUBMIT.condorConfig && IN_SUBMIT.toolsConfig.startsWith("/etc/condor/config.d/"));
            // The range it names is the one Docker publishes and the security group opens.
            const published = (run.get(CONTAINER, "submit-submit").inputs.ports as Inputs[]).map((p) => p.internal as number);
            for (let port = SUBMIT_TOOL_PORTS.first; port <= SUBMIT_TOOL_PORTS.last; port++) assert.ok(published.includes(port), `port ${port} published`);
        });

        it("installs the pool's real CA, which signed the collector's certificate for the name in CONDOR_HOST", () => {
            const pem = String(run.get(COMMAND, "submit-file-pool-ca").revealedInputs.stdin);
            const ca = new X509Certificate(pem);
            assert.equal(pem, run.get("tls:index/selfSignedCert:SelfSignedCert", "htcondor-ca").state.certPem, "the pool's CA");
            assert.equal(ca.ca, true);
            assert.match(ca.subject, /CN=INCANT HTCondor pool CA/);
            const collector = new X509Certificate(String(run.get("tls:index/locallySignedCert:LocallySignedCert", "htcondor-central-manager-tls").state.certPem));
            assert.ok(collector.verify(ca.publicKey), "the collector's certificate is signed by this CA");
            assert.equal(collector.checkHost(`condor.${POOL_NAMESPACE}.svc`), `condor.${POOL_NAMESPACE}.svc`);
        });

        it("holds no pool credential: no token file or mount, and nothing secret goes to the host", () => {
            // The S3 archive's configuration is the one secret this host receives (checked below).
            const files = run.ofType(COMMAND).filter((r) => r.name.startsWith("submit-file-") && !r.name.startsWith("submit-file-archive-"));
            assert.ok(!files.some((f) => f.name === "submit-file-condor-token" || String(f.inputs.create).includes(HOST.tokensDir)), "no token installed");
            const submit = run.get(CONTAINER, "submit-submit");
            assert.ok(!(submit.inputs.mounts as Inputs[]).some((m) => m.target === IN_SUBMIT.tokens || String(m.source).startsWith(HOST.tokensDir)));
            assert.doesNotMatch(composeOf(run), /tokens/);
            // Only the SSH connection (the operators' key) is secret; file contents and containers are not.
            for (const f of files) assert.deepEqual(f.secretPaths, ["connection"], f.name);
            for (const c of run.ofType(CONTAINER)) assert.deepEqual(c.secretPaths, [], c.name);
            // No secret the program holds (stack secrets, the pool's signing key, minted tokens, TLS keys) appears.
            const secretValues = [
                ...run.stack.secretKeys.map((k) => run.stack.config[k]).filter(Boolean),
                ...run.sensitive,
                ...run.ofType("tls:index/privateKey:PrivateKey").map((k) => String(k.state.privateKeyPem)),
            ].filter((v) => v.length >= 16);
            assert.ok(secretValues.length > 3, "the program has secrets to leak");
            const delivered = [...files.map((f) => String(f.revealedInputs.stdin)), ...run.ofType(CONTAINER).map((c) => JSON.stringify(c.revealedInputs))];
            for (const text of delivered) {
                for (const secret of secretValues) assert.ok(!text.includes(secret), "a secret reaches the submit host");
            }
        });

        it("S3 credentials reach the host over the pinned SSH connection only, as secrets, and restart the archive alone", () => {
            const gate = run.get(COMMAND, "submit-ready");
            const rclone = run.get(COMMAND, "submit-file-archive-rclone-conf");
            assert.equal(rclone.inputs.create, installCommand({ path: ARCHIVE_CLIENT.rcloneConfig, mode: "0600", dirMode: "0755" }));
            assert.deepEqual(rclone.secretPaths.sort(), ["connection", "stdin", "triggers[0]"]);
            const conf = parseIni(String(rclone.revealedInputs.stdin)).archive;
            assert.deepEqual(conf.access_key_id, [run.stack.config["incant:s3AccessKeyId"]]);
            assert.deepEqual(conf.secret_access_key, [run.stack.config["incant:s3SecretAccessKey"]]);
            assert.equal((rclone.revealedInputs.connection as Inputs).hostKey, String(gate.state.stdout).trim(), "pinned host key");
            const start = run.get(COMMAND, "submit-archive");
            assert.equal(start.inputs.create, `sudo -n systemctl restart ${ARCHIVE_CLIENT.unit}`);
            assert.ok(start.dependencies.includes(rclone.urn), "after the configuration is installed");
            assert.ok(start.replaceWith?.includes(rclone.urn), "a new key restarts the archive");
            const submit = run.get(CONTAINER, "submit-submit");
            assert.ok(!submit.replaceWith?.includes(rclone.urn) && !submit.replaceWith?.includes(start.urn), "a new key does not touch the submit container");
            // And never in the user-data (the metadata service would serve it to every process on the VM).
            const userData = String(run.resources.find((r) => r.type === INSTANCE && r.inputs.name === `${prefix}-submit`)!.revealedInputs.userData);
            for (const k of ["incant:s3AccessKeyId", "incant:s3SecretAccessKey"]) assert.ok(!userData.includes(run.stack.config[k]), k);
        });

        it("files go over the pinned SSH connection after the gate; a changed file replaces the submit container", () => {
            const gate = run.get(COMMAND, "submit-ready");
            const files = run.ofType(COMMAND).filter((r) => r.name.startsWith("submit-file-") && !r.name.startsWith("submit-file-archive-"));
            assert.deepEqual(files.map((f) => f.name.replace("submit-file-", "")).sort(),
                ["compose", "condor-config", "condor-tools", "limits", "pool-ca", "pre-exec", "sshd-config", "update-users"]);
            for (const f of files) {
                assert.ok(f.dependencies.includes(gate.urn), f.name);
                assert.equal((f.revealedInputs.connection as Inputs).hostKey, String(gate.state.stdout).trim());
                assert.equal(f.inputs.update, undefined, "no update command: a trigger change replaces");
                assert.equal((f.inputs.triggers as unknown[]).length, 1);
            }
            const submit = run.get(CONTAINER, "submit-submit");
            const cvmfs = run.get(CONTAINER, "submit-cvmfs");
            assert.ok(submit.dependencies.includes(cvmfs.urn), "starts after CVMFS (which is created only once healthy)");
            assert.equal(cvmfs.inputs.wait, true);
            assert.ok(submit.replaceWith?.includes(cvmfs.urn), "recreated when the CVMFS container is");
            assert.equal(submit.deleteBeforeReplace, true, "its fixed name must be free before the new one starts");
            for (const f of files.filter((x) => !["submit-file-compose", "submit-file-update-users"].includes(x.name))) {
                assert.ok(submit.replaceWith?.includes(f.urn), `recreated when ${f.name} changes`);
            }
            assert.ok(!submit.replaceWith?.includes(run.get(COMMAND, "submit-file-compose").urn), "the compose file is for operators only");
        });

        it("passes the CrossGuard pack (pinned images, nothing privileged, no credential in clear)", async () => {
            const report = await checkPolicies(run);
            const ours = report.violations.filter((v) => v.urn.includes("incant:submit:SubmitHost"));
            assert.deepEqual(ours, []);
            assert.ok(report.policies.length > 0 && report.checked >= run.ofType(CONTAINER).length);
        });
    });
}

describe("submit host: the S3 archive with STS credentials and a writable archive (real program)", () => {
    it("installs the helper, its settings and the 0600 IAM client secret over SSH; the unit reads the AWS config; writes allowed", async () => {
        const dev = await program("dev");
        const run = await runProgram("dev", {
            s3: merged(YAML.parse(dev.stack.config["incant:s3"]), { credentials: "sts", iamClientId: "incant-archive", exportReadWrite: true }),
        });
        const files = run.ofType(COMMAND).filter((r) => r.name.startsWith("submit-file-archive-"));
        assert.deepEqual(files.map((f) => f.name.replace("submit-file-archive-", "")).sort(),
            ["aws-config", "iam-client-secret", "rclone-conf", "sts-env", "sts-helper"]);
        const secret = run.get(COMMAND, "submit-file-archive-iam-client-secret");
        assert.equal(secret.inputs.create, installCommand({ path: ARCHIVE_CLIENT.iamClientSecret, mode: "0600", dirMode: "0755" }));
        assert.equal(secret.revealedInputs.stdin, run.stack.config["incant:s3IamClientSecret"]);
        for (const f of files) assert.ok(f.secretPaths.includes("stdin"), `${f.name}: stdin is secret`);
        assert.deepEqual(parseIni(String(run.get(COMMAND, "submit-file-archive-rclone-conf").revealedInputs.stdin)).archive.env_auth, ["true"]);
        assert.match(String(run.get(COMMAND, "submit-file-archive-sts-env").revealedInputs.stdin), /^IAM_CLIENT_ID='incant-archive'$/m);
        const cloud = cloudConfigOf(run, "incant-dev-submit");
        const packages = (cloud.packages ?? []) as string[];
        assert.ok(packages.includes("jq") && packages.includes("curl"), "the helper's tools");
        const unit = parseIni(cloud.write_files!.find((f) => f.path === `/etc/systemd/system/${ARCHIVE_CLIENT.unit}`)!.content);
        assert.deepEqual(unit.Service.Environment, [`AWS_CONFIG_FILE=${ARCHIVE_CLIENT.awsConfig}`]);
        assert.doesNotMatch(unit.Service.ExecStart[0], /--read-only/, "s3.exportReadWrite: writable on the submit host");
        const userData = String(run.resources.find((r) => r.type === INSTANCE && r.inputs.name === "incant-dev-submit")!.revealedInputs.userData);
        assert.ok(!userData.includes(run.stack.config["incant:s3IamClientSecret"]), "the IAM client secret is not in user-data");
    });
});

describe("submit host: file installation", () => {
    it("installs files only at safe paths", () => {
        assert.throws(() => installCommand({ path: "/etc/x; rm -rf /", mode: "0644", dirMode: "0755" }), /unsafe/);
    });
});

/** The compose service a recorded docker.Container corresponds to (the inverse of services.ts). */
function composeFromContainer(c: RecordedResource, image: string, dependsOn: string[]): Record<string, unknown> {
    const i = c.inputs as Inputs;
    const h = i.healthcheck;
    return {
        image,
        container_name: i.name,
        hostname: i.hostname,
        restart: i.restart,
        privileged: i.privileged,
        ...(i.entrypoints ? { entrypoint: i.entrypoints } : {}),
        ...(i.capabilities ? { cap_add: i.capabilities.adds } : {}),
        ...(i.devices.length ? { devices: i.devices.map((d: Inputs) => `${d.hostPath}:${d.containerPath}:${d.permissions}`) } : {}),
        security_opt: i.securityOpts,
        network_mode: i.networkMode,
        ...(i.ports ? { ports: (i.ports as Inputs[]).map((p) => `${p.external}:${p.internal}`) } : {}),
        ...(i.memory ? { mem_limit: `${i.memory}m` } : {}),
        environment: Object.fromEntries((i.envs as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2))),
        ...(i.hosts.length ? { extra_hosts: i.hosts.map((h: Inputs) => `${h.host}:${h.ip}`) } : {}),
        volumes: (i.mounts as Inputs[]).map((m) => ({
            type: m.type, source: m.source, target: m.target,
            ...(m.readOnly ? { read_only: true } : {}),
            ...(m.bindOptions ? { bind: { propagation: m.bindOptions.propagation } } : {}),
        })),
        healthcheck: { test: h.tests, interval: h.interval, timeout: h.timeout, retries: h.retries, start_period: h.startPeriod },
        ...(dependsOn.length ? { depends_on: Object.fromEntries(dependsOn.map((d) => [d, { condition: "service_healthy" }])) } : {}),
        labels: Object.fromEntries((i.labels as Inputs[]).map((l) => [l.label, l.value])),
    };
}

/** Container inputs the compose file has no field for: the pulled image id and the provider's wait. */
const DEPLOY_ONLY = ["image", "wait", "waitTimeout"];
const MAPPED = ["name", "hostname", "restart", "privileged", "entrypoints", "capabilities", "devices", "securityOpts", "networkMode", "ports", "memory", "envs", "hosts", "mounts", "healthcheck", "labels"];

for (const stack of ["dev", "prod"]) describe(`submit host: docker/compose.yaml, one source of truth (${stack})`, () => {
    let run: ProgramRun;
    let compose: string;
    before(async () => {
        run = await program(stack);
        compose = composeOf(run);
    });

    it("is what the program writes to /opt/incant/compose.yaml and what the render extracts", () => {
        const file = run.get(COMMAND, "submit-file-compose");
        assert.equal(file.inputs.create, `sudo -n install -d -m 0755 /opt/incant && sudo -n install -m 0644 /dev/stdin ${HOST.compose}`);
        assert.deepEqual(file.secretPaths, ["connection"], "the file itself is not secret");
        const extracted = submitHostFiles(run);
        assert.equal(extracted["docker/compose.yaml"], compose);
        // Every installed file is extracted for review (none is secret: the host holds no pool credential).
        assert.deepEqual(Object.keys(extracted).sort(), ["docker/compose.yaml", ...[HOST.condorConfig, HOST.toolsConfig, HOST.poolCa, HOST.preExec,
            ACCESS.host.sshdConfig, ACCESS.host.limits, ACCESS.host.updateUsers].map((p) => `docker/host${p}`)].sort());
        assert.equal(extracted[`docker/host${HOST.poolCa}`], run.get(COMMAND, "submit-file-pool-ca").revealedInputs.stdin);
    });

    it("passes docker-compose config, which reads propagation and read-only as the containers have them", function () {
        requireTool(this, "docker-compose");
        const file = tempFile("compose.yaml", compose);
        const result = runTool("docker-compose", ["-f", file, "config"]);
        assert.equal(result.status, 0, result.stderr);
        const normalised = YAML.parse(result.stdout) as { services: Record<string, Inputs> };
        assert.deepEqual(Object.keys(normalised.services).sort(), ["cvmfs", "submit"]);
        const cvmfsRoot = normalised.services.cvmfs.volumes.find((v: Inputs) => v.target === "/cvmfs");
        assert.deepEqual(cvmfsRoot, { type: "bind", source: "/cvmfs", target: "/cvmfs", bind: { propagation: "shared" } });
        const submitCvmfs = normalised.services.submit.volumes.find((v: Inputs) => v.target === "/cvmfs");
        assert.deepEqual(submitCvmfs, { type: "bind", source: "/cvmfs", target: "/cvmfs", read_only: true, bind: { propagation: "rslave" } });
        assert.deepEqual(normalised.services.submit.depends_on, { cvmfs: { condition: "service_healthy" } });
        assert.equal(normalised.services.cvmfs.privileged, false);
    });

    it("docker-compose rejects a broken file (the validator can fail)", function () {
        requireTool(this, "docker-compose");
        const broken = compose.replace("propagation: rslave", "propagation: sideways").replace("restart: unless-stopped", "restart: [1]");
        const result = runTool("docker-compose", ["-f", tempFile("compose.yaml", broken), "config"]);
        assert.notEqual(result.status, 0);
    });

    it("matches the deployed containers field by field", () => {
        const doc = YAML.parse(compose) as { services: Record<string, Record<string, unknown>> };
        const containers = run.ofType(CONTAINER);
        assert.equal(containers.length, Object.keys(doc.services).length);
        const serviceOf = (c: RecordedResource) => (c.inputs.labels as Inputs[]).find((l) => l.label === "org.incant.service")!.value as string;
        for (const c of containers) {
            const service = serviceOf(c);
            // Every container input is either mapped to a compose field or deployment-only.
            assert.deepEqual(Object.keys(c.inputs).filter((k) => !DEPLOY_ONLY.includes(k) && !MAPPED.includes(k)), [], `${c.name} has inputs compose does not express`);
            const pulled = run.ofType(REMOTE_IMAGE).find((img) => img.state.imageId === c.inputs.image)!;
            const dependsOn = containers.filter((o) => o !== c && c.dependencies.includes(o.urn)).map(serviceOf);
            const expected = composeFromContainer(c, String(pulled.inputs.name), dependsOn);
            assert.deepEqual(doc.services[service], expected, `service ${service}`);
        }
    });

    // The model, not the stack, is under test here: one stack is enough.
    if (stack === "dev") it("changes with the model: a different proxy shows in both", async () => {
        const other = await runProgram(stack, { cvmfs: { httpProxy: "http://squid.example:3128" } });
        const doc = YAML.parse(composeOf(other)) as { services: Record<string, Inputs> };
        assert.equal(doc.services.cvmfs.environment.CVMFS_HTTP_PROXY, "http://squid.example:3128");
        assert.ok((other.get(CONTAINER, "submit-cvmfs").inputs.envs as string[]).includes("CVMFS_HTTP_PROXY=http://squid.example:3128"));
    });
});
