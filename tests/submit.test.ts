/**
 * The detached submit host (issue 6): container specs, the readiness gate before Docker, NFS
 * mounts equal to the storage controller's exports, and docker/compose.yaml equal to the deployed
 * containers (and accepted by `docker-compose config`).
 *
 * The real program (index.ts) is used for everything it wires today: the VM, the gate, the Docker
 * provider, the CVMFS container, the NFS mounts. The submit container needs the HTCondor pool,
 * which index.ts does not pass yet: those tests run the real SubmitHost component through a
 * fixture program (tests/fixtures/submit-host.program.ts) whose pool values all say "fixture".
 */
import { strict as assert } from "assert";
import * as path from "path";
import YAML from "yaml";
import { cidrsOverlap, parseCidr } from "../components/config/cidr";
import { DEFAULTS } from "../components/config/defaults";
import { vmAddress } from "../components/network/addressing";
import { installCommand } from "../components/submit/files";
import { dockerSshOptions } from "../components/submit/host";
import { CVMFS_IMAGE_REPOSITORY, HOST } from "../components/submit/services";
import { OfflineRun, RecordedResource, runOffline } from "../offline/engine";
import { cloudConfigOf, submitHostFiles } from "../offline/artifacts";
import { offlineId } from "../offline/placeholders";
import { checkPolicies } from "../offline/policy";
import { requireTool, run as runTool, tempFile } from "./harness/tools";
import { INSTANCE, ROOT, runProgram, stackConfig } from "./harness/program";

const CONTAINER = "docker:index/container:Container";
const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
const COMMAND = "command:remote:Command";
const DOCKER_PROVIDER = "pulumi:providers:docker";

type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const byName = (run: OfflineRun, type: string, name: string): RecordedResource => {
    const r = run.resources.find((x) => x.type === type && x.name === name);
    assert.ok(r, `no ${type} named ${name}`);
    return r;
};
const ofType = (run: OfflineRun, type: string) => run.resources.filter((r) => r.type === type);
/** The provider reference a resource was registered with, as its URN. */
const providerUrn = (r: RecordedResource) => r.provider?.split("::").slice(0, -1).join("::");

/** The real SubmitHost with a fixture pool (see the file comment). */
async function fixtureRun(stack = "dev", overrides: Record<string, unknown> = {}): Promise<OfflineRun> {
    const s = stackConfig(stack, overrides);
    return runOffline({
        project: s.project, stack: s.stack, config: s.config, secretKeys: s.secretKeys,
        program: path.join(ROOT, "tests", "fixtures", "submit-host.program.ts"),
    });
}

describe("submit host: the CVMFS service container (real program)", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: official image pinned, SYS_ADMIN and /dev/fuse only, not privileged, /cvmfs shared`, async () => {
            const run = await runProgram(stack);
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
            assert.equal(env.CVMFS_HTTP_PROXY, stack === "prod" ? "http://squid.mi.infn.it:3128" : "DIRECT");
            assert.deepEqual(cvmfs.healthcheck.tests, ["CMD", "/usr/bin/check_cvmfs.sh", "liveness"]);
            assert.equal(cvmfs.restart, "unless-stopped");
            assert.equal(cvmfs.wait, true, "created only once healthy");
        });
    }

    it("follows incant:cvmfs and incant:versions.cvmfsService", async () => {
        const run = await runProgram("dev", { cvmfs: { repositories: ["atlas.cern.ch"], httpProxy: "http://squid.example:3128" }, versions: { cvmfsService: "2.13.0-1" } });
        const env = (run.get(CONTAINER, "submit-cvmfs").inputs.envs as string[]);
        assert.ok(env.includes("CVMFS_REPOSITORIES=atlas.cern.ch"));
        assert.ok(env.includes("CVMFS_HTTP_PROXY=http://squid.example:3128"));
        assert.equal(run.get(REMOTE_IMAGE, "submit-cvmfs-image").inputs.name, "registry.cern.ch/cvmfs/service:2.13.0-1");
    });
});

describe("submit host: nothing talks to Docker before the readiness gate (real program)", () => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    before(async () => { run = await runProgram("dev"); });

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
            assert.equal(providerUrn(r), provider.urn, r.name);
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
            const run = await runProgram(stack);
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

describe("submit host: the submit container (real component, fixture pool)", () => {
    let run: OfflineRun;
    before(async () => { run = await fixtureRun("dev"); });

    it("is not privileged, adds no capability or device, and runs the pinned submit image", () => {
        const submit = byName(run, CONTAINER, "submit-submit").inputs as Inputs;
        assert.equal(submit.privileged, false);
        assert.equal(submit.capabilities, undefined);
        assert.deepEqual(submit.devices, []);
        assert.deepEqual(submit.securityOpts, ["no-new-privileges=true"]);
        const image = byName(run, REMOTE_IMAGE, "submit-submit-image");
        assert.equal(image.inputs.name, DEFAULTS.images.submit);
        assert.equal(submit.image, image.state.imageId);
        for (const img of ofType(run, REMOTE_IMAGE)) {
            assert.match(String(img.inputs.name), /:[\w][\w.-]*$/, "a tag");
            assert.doesNotMatch(String(img.inputs.name), /:latest$/);
        }
    });

    it("mounts /cvmfs read-only with rslave propagation, the NFS shares, and its configuration read-only", () => {
        const mounts = byName(run, CONTAINER, "submit-submit").inputs.mounts as Inputs[];
        const at = (target: string) => mounts.find((m) => m.target === target);
        assert.deepEqual(at("/cvmfs"), { type: "bind", source: "/cvmfs", target: "/cvmfs", readOnly: true, bindOptions: { propagation: "rslave" } });
        assert.deepEqual(at("/home"), { type: "bind", source: HOST.home, target: "/home", readOnly: false });
        assert.deepEqual(at("/scratch"), { type: "bind", source: HOST.scratch, target: "/scratch", readOnly: false });
        const config = mounts.filter((m) => !["/cvmfs", "/home", "/scratch"].includes(m.target));
        assert.deepEqual(config.map((m) => m.target).sort(), ["/etc/condor/config.d/50-incant-pool.conf", "/etc/condor/incant/pool-ca.pem",
            "/etc/condor/tokens-orig.d", "/root/config/pre-exec.sh", "/root/config/users"]);
        assert.ok(config.every((m) => m.readOnly === true && m.source.startsWith(`${HOST.configDir}/`)));
    });

    it("reaches the pool: the collector address from the pool's endpoints, its configuration and token", () => {
        const submit = byName(run, CONTAINER, "submit-submit");
        const envs = submit.inputs.envs as string[];
        assert.ok(envs.includes("CONDOR_HOST=condor.fixture.svc:30618"), "the collector's certificate name and NodePort");
        assert.deepEqual(submit.inputs.hosts, [{ host: "condor.fixture.svc", ip: "192.0.2.10" }], "that name resolves to the node address");
        assert.ok(envs.includes("INCANT_SCHEDD=fixture-schedd"));
        assert.ok(envs.includes("INCANT_IAM_ISSUER=https://iam.cloud.infn.it/"));
        assert.ok(envs.includes("INCANT_TOKEN_AUDIENCE=incant.cloud.infn.it"), "the pool's SCITOKENS_SERVER_AUDIENCE");
        const file = (key: string) => byName(run, COMMAND, `submit-file-${key}`);
        assert.match(String(file("condor-config").revealedInputs.stdin), /^# fixture/);
        assert.match(String(file("pool-ca").revealedInputs.stdin), /^-----BEGIN CERTIFICATE-----/);
        const token = file("condor-token");
        assert.ok(token.secretPaths.includes("stdin"), "the token travels as a secret");
        assert.equal(token.inputs.create, `sudo -n install -d -m 0700 ${HOST.tokensDir} && sudo -n install -m 0600 /dev/stdin ${HOST.token}`);
        assert.match(String(file("users").revealedInputs.stdin), /^atlasuser1 20001$/m);
    });

    it("files go over the pinned SSH connection after the gate; a changed file replaces the submit container", () => {
        const gate = byName(run, COMMAND, "submit-ready");
        const files = ofType(run, COMMAND).filter((r) => r.name.startsWith("submit-file-"));
        assert.deepEqual(files.map((f) => f.name.replace("submit-file-", "")).sort(),
            ["compose", "condor-config", "condor-token", "pool-ca", "pre-exec", "users"]);
        for (const f of files) {
            assert.ok(f.dependencies.includes(gate.urn), f.name);
            assert.equal((f.revealedInputs.connection as Inputs).hostKey, String(gate.state.stdout).trim());
            assert.equal(f.inputs.update, undefined, "no update command: a trigger change replaces");
            assert.equal((f.inputs.triggers as unknown[]).length, 1);
        }
        const submit = byName(run, CONTAINER, "submit-submit");
        const cvmfs = byName(run, CONTAINER, "submit-cvmfs");
        assert.ok(submit.dependencies.includes(cvmfs.urn), "starts after CVMFS (which is created only once healthy)");
        assert.equal(cvmfs.inputs.wait, true);
        assert.ok(submit.replaceWith?.includes(cvmfs.urn), "recreated when the CVMFS container is");
        assert.equal(submit.deleteBeforeReplace, true, "its fixed name must be free before the new one starts");
        for (const f of files.filter((x) => x.name !== "submit-file-compose")) {
            assert.ok(submit.replaceWith?.includes(f.urn), `recreated when ${f.name} changes`);
        }
        assert.ok(!submit.replaceWith?.includes(byName(run, COMMAND, "submit-file-compose").urn), "the compose file is for operators only");
    });

    it("passes the CrossGuard pack (pinned images, nothing privileged, no credential in clear)", async () => {
        const report = await checkPolicies(run);
        const ours = report.violations.filter((v) => v.urn.includes("incant:submit:SubmitHost"));
        assert.deepEqual(ours, []);
        assert.ok(report.policies.length > 0 && report.checked >= ofType(run, CONTAINER).length);
    });

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
        ...(i.capabilities ? { cap_add: i.capabilities.adds } : {}),
        ...(i.devices.length ? { devices: i.devices.map((d: Inputs) => `${d.hostPath}:${d.containerPath}:${d.permissions}`) } : {}),
        security_opt: i.securityOpts,
        network_mode: i.networkMode,
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
const MAPPED = ["name", "hostname", "restart", "privileged", "capabilities", "devices", "securityOpts", "networkMode", "envs", "hosts", "mounts", "healthcheck", "labels"];

describe("submit host: docker/compose.yaml (one source of truth)", () => {
    let run: OfflineRun;
    let compose: string;
    before(async () => {
        run = await fixtureRun("dev");
        compose = String(run.outputs.compose);
    });

    it("is what the program writes to /opt/incant/compose.yaml and what the render extracts", () => {
        const file = byName(run, COMMAND, "submit-file-compose");
        assert.equal(file.inputs.create, `sudo -n install -d -m 0755 /opt/incant && sudo -n install -m 0644 /dev/stdin ${HOST.compose}`);
        assert.equal(file.revealedInputs.stdin, compose);
        const extracted = submitHostFiles(run);
        assert.equal(extracted["docker/compose.yaml"], compose);
        assert.match(extracted["docker/host/etc/incant/submit/users"], /^atlasuser1 20001$/m);
        assert.ok(!Object.keys(extracted).some((k) => k.includes("tokens.d")), "secret files are not extracted");
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
        const containers = ofType(run, CONTAINER);
        assert.equal(containers.length, Object.keys(doc.services).length);
        const serviceOf = (c: RecordedResource) => (c.inputs.labels as Inputs[]).find((l) => l.label === "org.incant.service")!.value as string;
        for (const c of containers) {
            const service = serviceOf(c);
            // Every container input is either mapped to a compose field or deployment-only.
            assert.deepEqual(Object.keys(c.inputs).filter((k) => !DEPLOY_ONLY.includes(k) && !MAPPED.includes(k)), [], `${c.name} has inputs compose does not express`);
            const pulled = ofType(run, REMOTE_IMAGE).find((img) => img.state.imageId === c.inputs.image)!;
            const dependsOn = containers.filter((o) => o !== c && c.dependencies.includes(o.urn)).map(serviceOf);
            const expected = composeFromContainer(c, String(pulled.inputs.name), dependsOn);
            assert.deepEqual(doc.services[service], expected, `service ${service}`);
        }
    });

    it("changes with the model: a different proxy shows in both", async () => {
        const other = await fixtureRun("dev", { cvmfs: { httpProxy: "http://squid.example:3128" } });
        const doc = YAML.parse(String(other.outputs.compose)) as { services: Record<string, Inputs> };
        assert.equal(doc.services.cvmfs.environment.CVMFS_HTTP_PROXY, "http://squid.example:3128");
        assert.ok((byName(other, CONTAINER, "submit-cvmfs").inputs.envs as string[]).includes("CVMFS_HTTP_PROXY=http://squid.example:3128"));
    });
});
