/**
 * The HTCondor pool (components/htcondor) on the offline engine: the real HTCondorPool and
 * AtlasImages on a stack's real configuration (tests/fixtures/htcondor-pool.program.ts), checked
 * as an operator would read them: who holds which credential, what every pod may do, what the
 * Kubernetes API would accept, what each daemon's configuration says.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { RESERVED_USER_NAMES, regexLiteral, renderCondorConfig, renderMapfile } from "../components/htcondor/config";
import { CENTRAL_MANAGER_SPOOL, CHECKSUM_ANNOTATION, SCHEDD_SPOOL, SECRETS } from "../components/htcondor/manifests";
import { podChecksum } from "../components/htcondor/pool";
import { decodeIdToken, TOKEN_ROLES } from "../components/htcondor/tokens";
import { DEFAULTS } from "../components/config/defaults";
import { flows } from "../components/network/ports";
import { SUBMIT_TOOL_PORTS } from "../components/network/ports";
import { vmAddress } from "../components/network/addressing";
import { renderToolsConfig } from "../components/submit/tools";
import { NFS_CLIENT_OPTIONS } from "../components/storage/nfs";
import { cloudConfigOf, htcondorConfigs } from "../offline/artifacts";
import { OfflineRun, RecordedResource } from "../offline/engine";
import { checkPolicies, mandatoryViolations } from "../offline/policy";
import { k8sKind, validateK8sObject } from "./harness/k8s";
import { merged, ProgramRun, runProgram } from "./harness/program";
import { readStackFile } from "../offline/stackfile";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import YAML from "yaml";
import { configProblems, GOOD_CONFIG } from "./harness/config";

const PROGRAM = path.join(__dirname, "fixtures", "htcondor-pool.program.ts");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const runPool = (overrides: Record<string, unknown> = {}): Promise<ProgramRun> => runProgram("dev", overrides, { program: PROGRAM });

/** The dev stack's value of a structured key, as the overrides start from. */
function devValue(key: string): Record<string, unknown> {
    const stack = readStackFile(path.join(__dirname, "..", "Pulumi.dev.yaml"), "incant");
    const raw = stack.config[`incant:${key}`];
    return raw ? JSON.parse(raw) : {};
}

const k8sObjects = (run: OfflineRun) => run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.custom && !r.type.startsWith("kubernetes:helm.sh"));
const deployments = (run: ProgramRun) => run.ofType("kubernetes:apps/v1:Deployment");
const deploymentOf = (run: ProgramRun, role: string) => deployments(run).find((d) => d.revealedInputs.metadata && (d.revealedInputs.metadata as Doc).name === `htcondor-${role}`)!;
const podSpecOf = (d: RecordedResource): Doc => (d.revealedInputs as Doc).spec.template.spec;
const configOf = (run: OfflineRun, role: string): string => htcondorConfigs(run)[`htcondor/${role}.conf`];
/** `KEY = value` of an HTCondor configuration (last one wins, as in HTCondor). */
function setting(conf: string, key: string): string | undefined {
    let value: string | undefined;
    for (const line of conf.split("\n")) {
        const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
        if (m && m[1] === key) value = m[2];
    }
    return value;
}
const list = (v: string | undefined) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const secretVolumes = (spec: Doc): string[] => (spec.volumes ?? []).filter((v: Doc) => v.secret).map((v: Doc) => v.secret.secretName);

describe("HTCondor pool (dev)", () => {
    let run: ProgramRun;
    before(async () => { run = await runPool(); });

    it("runs one central manager, one scheduler and one worker per worker node, in its own namespace", () => {
        assert.equal(deployments(run).length, 3);
        for (const d of deployments(run)) assert.equal((d.revealedInputs.metadata as Doc).namespace, "htcondor");
        assert.equal((deploymentOf(run, "central-manager").revealedInputs as Doc).spec.replicas, 1);
        assert.equal((deploymentOf(run, "scheduler").revealedInputs as Doc).spec.replicas, 1);
        const worker = deploymentOf(run, "worker").revealedInputs as Doc;
        assert.equal(worker.spec.replicas, 7);
        const spec = worker.spec.template.spec;
        // Every node but the control planes, by kubeadm's label: no list of names that a new worker VM would change.
        for (const d of deployments(run)) {
            assert.deepEqual((d.revealedInputs as Doc).spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
                [{ matchExpressions: [{ key: "node-role.kubernetes.io/control-plane", operator: "DoesNotExist" }] }]);
        }
        const anti = spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
        assert.equal(anti.topologyKey, "kubernetes.io/hostname", "at most one worker per node");
        assert.deepEqual(anti.labelSelector.matchLabels, worker.spec.selector.matchLabels);
        assert.deepEqual(worker.spec.strategy.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 }, "a surge pod could never be placed");
    });

    it("pins the HTCondor version at or above the advisories' fixed versions", () => {
        const cm = podSpecOf(deploymentOf(run, "central-manager"));
        assert.equal(cm.containers[0].image, "htcondor/cm:24.0.23-el9");
        for (const d of deployments(run)) assert.match(podSpecOf(d).containers[0].image, /:24\.0\.23-/);
    });

    it("mounts the POOL signing key into the central manager's pod only", () => {
        const keySecret = run.ofType("kubernetes:core/v1:Secret").find((s) => (s.inputs.metadata as Doc).name === SECRETS.signingKey)!;
        const keyFile = (keySecret.revealedInputs as Doc).data.POOL as string;
        assert.ok(Buffer.from(keyFile, "base64").length === 64, "64 key bytes");
        for (const d of deployments(run)) {
            const role = (d.revealedInputs.metadata as Doc).labels["app.kubernetes.io/component"];
            assert.equal(secretVolumes(podSpecOf(d)).includes(SECRETS.signingKey), role === "central-manager", role);
        }
        // The key's bytes are in that Secret and nowhere else in the whole program.
        const holders = run.resources.filter((r) => JSON.stringify(r.revealedInputs).includes(keyFile));
        assert.deepEqual(holders.map((r) => r.name), [keySecret.name]);
        // And that Secret's data is a Pulumi secret (redacted in state and in the render).
        assert.deepEqual(keySecret.secretPaths, ["data"]);
    });

    it("gives startds and the schedd their own least-privilege token, each mounted by its role only", () => {
        const tokenOf = (name: string) => (run.ofType("kubernetes:core/v1:Secret").find((s) => (s.inputs.metadata as Doc).name === name)!);
        const expect = { worker: ["startd", SECRETS.startdToken], scheduler: ["schedd", SECRETS.scheddToken] } as const;
        for (const [role, [tokenRole, secretName]] of Object.entries(expect)) {
            const secret = tokenOf(secretName);
            assert.deepEqual(secret.secretPaths, ["stringData"]);
            const token = (secret.revealedInputs as Doc).stringData.token as string;
            const { header, claims } = decodeIdToken(token);
            assert.deepEqual(header, { alg: "HS256", kid: "POOL" });
            assert.equal(claims.iss, "incant.cloud.infn.it");
            assert.equal(claims.sub, `${tokenRole}@incant.cloud.infn.it`);
            assert.deepEqual(String(claims.scope).split(" "), TOKEN_ROLES[tokenRole].map((s) => `condor:/${s}`));
            assert.ok(run.sensitive.includes(token), "marked sensitive for the render's redaction");
            for (const d of deployments(run)) {
                const r = (d.revealedInputs.metadata as Doc).labels["app.kubernetes.io/component"];
                assert.equal(secretVolumes(podSpecOf(d)).includes(secretName), r === role, `${secretName} in ${r}`);
            }
        }
        // The autoscaler's (READ only, components/autoscaler) is mounted by no pool pod.
        const autoscaler = decodeIdToken((tokenOf(SECRETS.autoscalerToken).revealedInputs as Doc).stringData.token as string).claims;
        assert.deepEqual([autoscaler.sub, autoscaler.scope], ["autoscaler@incant.cloud.infn.it", "condor:/READ"]);
        for (const d of deployments(run)) assert.ok(!secretVolumes(podSpecOf(d)).includes(SECRETS.autoscalerToken));
        // No token for the central manager (it holds the key) and none for the submit host.
        assert.equal(run.ofType("kubernetes:core/v1:Secret").filter((s) => /token/.test((s.inputs.metadata as Doc).name)).length, 3);
        assert.doesNotMatch((run.outputs.submitHostConfig as string), /TOKEN_DIRECTORY|IDTOKENS/);
    });

    it("mounts the tokens and the key as whole Secret volumes (no subPath), so the kubelet updates them in running pods", () => {
        for (const d of deployments(run)) {
            const spec = podSpecOf(d);
            const c = spec.containers[0];
            for (const dir of ["/etc/condor/tokens-orig.d", "/etc/condor/passwords-orig.d"]) {
                const m = c.volumeMounts.find((x: Doc) => x.mountPath === dir);
                if (!m) continue;
                assert.equal(m.subPath, undefined, `${d.name}: ${dir}`);
                assert.ok(spec.volumes.find((v: Doc) => v.name === m.name).secret, `${d.name}: ${dir} is a Secret volume`);
            }
        }
    });

    it("gives the daemons' tokens an exp from the token clock, a certificate the TLS provider renews in the last third of incant:htcondor.tokenLifetimeDays", async () => {
        const clock = run.get("tls:index/selfSignedCert:SelfSignedCert", "htcondor-token-clock");
        assert.equal(clock.inputs.validityPeriodHours, 90 * 24);
        assert.equal(clock.inputs.earlyRenewalHours, 30 * 24);
        const start = Date.parse(String(clock.state.validityStartTime)) / 1000;
        const end = Date.parse(String(clock.state.validityEndTime)) / 1000;
        assert.equal(end - start, 90 * 86_400);
        for (const name of [SECRETS.startdToken, SECRETS.scheddToken, SECRETS.autoscalerToken]) {
            const secret = run.ofType("kubernetes:core/v1:Secret").find((x) => (x.inputs.metadata as Doc).name === name)!;
            const { claims } = decodeIdToken((secret.revealedInputs as Doc).stringData.token);
            assert.deepEqual([claims.iat, claims.exp], [start, end], name);
            assert.ok(secret.dependencies.includes(clock.urn), `${name} follows the clock`);
        }
        const short = await runPool({ htcondor: merged(devValue("htcondor"), { tokenLifetimeDays: 7 }) });
        const c7 = short.get("tls:index/selfSignedCert:SelfSignedCert", "htcondor-token-clock");
        assert.deepEqual([c7.inputs.validityPeriodHours, c7.inputs.earlyRenewalHours], [7 * 24, 3 * 24]);
    });

    it("pool-users.sh copies a token or key the kubelet updated into the directory HTCondor reads (root 0600, whole file, only when changed)", function () {
        if (process.getuid?.() !== 0) this.skip();
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "incant-secrets-"));
        try {
            const from = path.join(tmp, "tokens-orig.d");
            const to = path.join(tmp, "tokens.d");
            fs.mkdirSync(to, { mode: 0o700 });
            // The kubelet's layout (AtomicWriter): the file a link through "..data" to a timestamped payload.
            const project = (stamp: string, content: string) => {
                fs.mkdirSync(path.join(from, stamp), { recursive: true });
                fs.writeFileSync(path.join(from, stamp, "startd"), content, { mode: 0o400 });
                fs.symlinkSync(stamp, path.join(from, "..data_tmp"));
                fs.renameSync(path.join(from, "..data_tmp"), path.join(from, "..data"));
                if (!fs.existsSync(path.join(from, "startd"))) fs.symlinkSync("..data/startd", path.join(from, "startd"));
            };
            const sync = () => spawnSync("bash", [path.join(__dirname, "..", "components", "htcondor", "pool-users.sh"), "sync-secrets"],
                { encoding: "utf8", env: { PATH: process.env.PATH, INCANT_SECRETS_PAIRS: `${from}:${to} ${path.join(tmp, "absent")}:${to}` } });
            project("..2026_01_01", "first-token");
            let r = sync();
            assert.equal(r.status, 0, r.stderr);
            assert.equal(fs.readFileSync(path.join(to, "startd"), "utf8"), "first-token");
            const st = fs.statSync(path.join(to, "startd"));
            assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600]);
            assert.match(r.stderr, /tokens\.d\/startd updated from/);
            // Unchanged: nothing written, nothing logged.
            r = sync();
            assert.equal(r.stderr, "");
            project("..2026_03_01", "renewed-token");
            r = sync();
            assert.equal(fs.readFileSync(path.join(to, "startd"), "utf8"), "renewed-token");
            // No temporary file left beside it (HTCondor would skip a dot file anyway).
            assert.deepEqual(fs.readdirSync(to), ["startd"]);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it("keys the signing key to incant:htcondor.keyGeneration", () => {
        const key = run.ofType("random:index/randomBytes:RandomBytes")[0];
        assert.deepEqual(key.inputs.keepers, { keyGeneration: "1" });
        assert.equal(key.inputs.length, 64);
    });

    it("validates every Kubernetes object against the Kubernetes schemas (kubernetes-models) of the configured version", () => {
        // API versions served by Kubernetes since (minor): all the pool uses are GA in 1.31.
        const servedSince: Record<string, number> = { v1: 0, "apps/v1": 9, "networking.k8s.io/v1": 7 };
        // The stack's version, else the default the program uses (Pulumi.dev.yaml sets none).
        const version = (devValue("versions").kubernetes as string | undefined) ?? DEFAULTS.versions.kubernetes;
        const minor = Number(/^1\.(\d+)$/.exec(version)?.[1]);
        assert.ok(Number.isInteger(minor), `Kubernetes version ${version} is not 1.<minor>`);
        let validated = 0;
        for (const r of k8sObjects(run)) {
            const { apiVersion } = k8sKind(r.type);
            assert.ok(apiVersion in servedSince && servedSince[apiVersion] <= minor, `${apiVersion} is not served by 1.${minor}`);
            validateK8sObject(r);
            validated++;
        }
        assert.ok(validated >= 25, `validated ${validated}`);
        // The validator does catch a broken pod spec.
        const worker = deploymentOf(run, "worker");
        const broken = JSON.parse(JSON.stringify(worker.revealedInputs));
        broken.spec.template.spec.containers[0].ports[0].containerPort = "condor";
        assert.throws(() => validateK8sObject({ type: worker.type, revealedInputs: broken }), /containerPort/);
    });

    it("runs no privileged container outside the cvmfs-csi namespace, and the pool's pods unprivileged", () => {
        const baseline = new Set(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]);
        for (const d of deployments(run)) {
            const spec = podSpecOf(d);
            const name = (d.revealedInputs.metadata as Doc).name;
            for (const field of ["hostNetwork", "hostPID", "hostIPC"]) assert.ok(!spec[field], `${name} ${field}`);
            assert.ok(!(spec.volumes ?? []).some((v: Doc) => v.hostPath), `${name} mounts a host path`);
            assert.equal(spec.securityContext.seccompProfile.type, "RuntimeDefault");
            assert.equal(spec.automountServiceAccountToken, false);
            for (const c of spec.containers) {
                assert.equal(c.securityContext.privileged, false);
                assert.equal(c.securityContext.allowPrivilegeEscalation, false);
                assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
                for (const cap of c.securityContext.capabilities.add) assert.ok(baseline.has(cap), `${name} adds ${cap}, beyond Pod Security baseline`);
                for (const kind of ["requests", "limits"]) for (const res of ["cpu", "memory"]) assert.ok(c.resources[kind][res], `${name} ${kind}.${res}`);
            }
        }
        const nsLabels = (name: string) => (run.ofType("kubernetes:core/v1:Namespace").find((n) => (n.inputs.metadata as Doc).name === name)!.inputs.metadata as Doc).labels;
        assert.equal(nsLabels("htcondor")["pod-security.kubernetes.io/enforce"], "baseline");
        assert.equal(nsLabels("cvmfs-csi")["pod-security.kubernetes.io/enforce"], "privileged");
        // The project's CrossGuard pack agrees (privileged, resources, pinned images, secrets).
        return checkPolicies(run).then((report) => assert.deepEqual(mandatoryViolations(report), []));
    });

    it("sizes each worker's slot from its pod's requests, not from the node", () => {
        const c = podSpecOf(deploymentOf(run, "worker")).containers[0];
        assert.deepEqual(c.resources.requests, c.resources.limits, "Guaranteed: the slot is exactly the request");
        assert.match(c.resources.requests.cpu, /^\d+$/, "whole cores (the downward API rounds up)");
        assert.equal(c.resources.requests.cpu, "3", "a 4-vCPU node keeps one core for the system");
        const env = Object.fromEntries(c.env.map((e: Doc) => [e.name, e.valueFrom?.resourceFieldRef]));
        assert.deepEqual(env.NUM_CPUS, { containerName: c.name, resource: "requests.cpu", divisor: "1" });
        assert.deepEqual(env.MEMORY, { containerName: c.name, resource: "requests.memory", divisor: "1Mi" });
        const conf = configOf(run, "worker");
        assert.equal(setting(conf, "NUM_CPUS"), "$ENV(NUM_CPUS)");
        assert.equal(setting(conf, "MEMORY"), "$ENV(MEMORY)");
    });

    it("offers a worker's slot less disk than its execute emptyDir may hold, and holds a job over its request_disk", () => {
        const spec = podSpecOf(deploymentOf(run, "worker"));
        const volume = spec.volumes.find((v: Doc) => v.name === "execute");
        assert.equal(spec.containers[0].volumeMounts.find((m: Doc) => m.name === "execute").mountPath, "/var/lib/condor/execute");
        const limit = /^(\d+)Gi$/.exec(volume.emptyDir.sizeLimit);
        assert.ok(limit, `sizeLimit ${volume.emptyDir.sizeLimit}`);
        const conf = configOf(run, "worker");
        // DISK is KiB; unset, the startd would offer the node disk's free space (tests/pool/pool.test.ts).
        const disk = Number(setting(conf, "DISK"));
        assert.ok(Number.isInteger(disk) && disk > 0, `DISK = ${setting(conf, "DISK")}`);
        assert.ok(disk < Number(limit[1]) * 1024 * 1024, `DISK ${disk} KiB, emptyDir ${volume.emptyDir.sizeLimit}`);
        assert.match(conf, /^use POLICY:HOLD_IF_DISK_EXCEEDED$/m);
    });

    it("secures every daemon: recommended_v24_0, authentication everywhere, explicit ALLOW lists", () => {
        for (const role of ["central-manager", "scheduler", "worker"]) {
            const conf = configOf(run, role);
            assert.match(conf, /^use security:recommended_v24_0$/m, role);
            assert.equal(setting(conf, "TRUST_DOMAIN"), "incant.cloud.infn.it");
            for (const k of ["SEC_DEFAULT_AUTHENTICATION", "SEC_DEFAULT_ENCRYPTION", "SEC_DEFAULT_INTEGRITY", "SEC_READ_AUTHENTICATION"]) {
                assert.equal(setting(conf, k), "REQUIRED", `${role} ${k}`);
            }
            for (const level of ["READ", "WRITE", "DAEMON", "NEGOTIATOR", "ADMINISTRATOR"]) {
                const who = list(setting(conf, `ALLOW_${level}`));
                assert.ok(who.length > 0, `${role} ALLOW_${level} is written`);
                // $(INCANT_USERS): the users' identities, from the included users.conf (tests/htcondor-users.test.ts).
                assert.ok(who.every((w) => /^[a-z0-9_-]+@incant\.cloud\.infn\.it$/.test(w) || w === "$(INCANT_USERS)"), `${role} ALLOW_${level} names identities, no wildcard: ${who}`);
            }
        }
        const cm = configOf(run, "central-manager");
        assert.deepEqual(list(setting(cm, "ALLOW_ADVERTISE_STARTD")), ["startd@incant.cloud.infn.it"]);
        assert.deepEqual(list(setting(cm, "ALLOW_ADVERTISE_SCHEDD")), ["schedd@incant.cloud.infn.it"]);
        assert.deepEqual(list(setting(cm, "ALLOW_DAEMON")), ["condor@incant.cloud.infn.it"], "only the key holder is a DAEMON");
        assert.ok(!list(setting(cm, "ALLOW_WRITE")).some((w) => /^(startd|schedd|atlasuser)/.test(w)));
        assert.equal(setting(cm, "SEC_TOKEN_POOL_SIGNING_KEY_FILE"), "/etc/condor/passwords.d/POOL");
        for (const role of ["scheduler", "worker"]) assert.equal(setting(configOf(run, role), "SEC_TOKEN_POOL_SIGNING_KEY_FILE"), undefined);
        // Users submit to the schedd (WRITE) and read the pool; nothing else.
        const schedd = configOf(run, "scheduler");
        assert.ok(list(setting(schedd, "ALLOW_WRITE")).includes("$(INCANT_USERS)"));
        for (const u of ["atlasuser1", "atlasuser5"]) assert.ok(list(setting(htcondorConfigs(run)["htcondor/users/scheduler.conf"], "INCANT_USERS")).includes(`${u}@incant.cloud.infn.it`));
        assert.deepEqual(list(setting(schedd, "SEC_DEFAULT_AUTHENTICATION_METHODS")), ["FS", "SCITOKENS"]);
        assert.deepEqual(list(setting(schedd, "SEC_CLIENT_AUTHENTICATION_METHODS")), ["FS", "IDTOKENS"]);
    });

    it("authenticates users with SciTokens from IAM over TLS, with anchored map lines", () => {
        for (const role of ["central-manager", "scheduler"]) {
            const conf = configOf(run, role);
            assert.equal(setting(conf, "SCITOKENS_SERVER_AUDIENCE"), "incant.cloud.infn.it");
            assert.equal(setting(conf, "CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS"), "false", "map keys are regexes");
            assert.ok(setting(conf, "AUTH_SSL_SERVER_CERTFILE") && setting(conf, "AUTH_SSL_SERVER_KEYFILE"));
        }
        const mapfile = htcondorConfigs(run)["htcondor/mapfile"];
        const lines = mapfile.split("\n").filter((l) => l.startsWith("SCITOKENS "));
        assert.equal(lines.length, 5);
        for (const [i, line] of lines.entries()) {
            const [, regex, user] = line.split(/\s+/);
            assert.ok(regex.startsWith("^") && regex.endsWith("$"), `anchored: ${line}`);
            assert.equal(user, `atlasuser${i + 1}@incant.cloud.infn.it`);
            const sub = `5d2b0a6e-0000-4000-8000-00000000000${i + 1}`;
            const re = new RegExp(regex);
            assert.ok(re.test(`https://iam.cloud.infn.it/,${sub}`));
            for (const near of [`https://iam.cloud.infn.it/,${sub}0`, `https://iam.cloud.infn.it/,x${sub}`, `https://evil.example/https://iam.cloud.infn.it/,${sub}`, `https://iamXcloud.infn.it/,${sub}`]) {
                assert.ok(!re.test(near), `${regex} must not match ${near}`);
            }
        }
        // Metacharacters in a subject are literals.
        const escaped = renderMapfile({ issuer: "https://iam.cloud.infn.it/", trustDomain: "d", users: [{ name: "u", uid: 2000, iamSubject: "a.b+c" }] });
        const re = new RegExp(escaped.split("\n").find((l) => l.startsWith("SCITOKENS"))!.split(/\s+/)[1]);
        assert.ok(re.test("https://iam.cloud.infn.it/,a.b+c") && !re.test("https://iam.cloud.infn.it/,axbbc"));
        assert.equal(regexLiteral("a.b"), "a\\.b");
        assert.ok(RESERVED_USER_NAMES.includes("root"));
    });

    it("publishes collector and schedd on NodePorts equal to their container ports, with TCP_FORWARDING_HOST and CCB", () => {
        const services = run.ofType("kubernetes:core/v1:Service").map((s) => s.revealedInputs as Doc);
        const endpoints = run.outputs.endpoints as Doc;
        for (const [svc, role, port] of [["condor", "central-manager", 30618], ["schedd", "scheduler", 30619]] as const) {
            const s = services.find((x) => x.metadata.name === svc);
            assert.equal(s.spec.type, "NodePort");
            assert.deepEqual(s.spec.ports.map((p: Doc) => [p.port, p.targetPort, p.nodePort]), [[port, port, port]]);
            assert.equal(podSpecOf(deploymentOf(run, role)).containers[0].ports[0].containerPort, port);
            const conf = configOf(run, role);
            assert.equal(setting(conf, "SHARED_PORT_PORT"), String(port));
            assert.equal(setting(conf, "TCP_FORWARDING_HOST"), "192.168.100.10", "the node address the submit host reaches");
            assert.equal(setting(conf, "PRIVATE_NETWORK_INTERFACE"), "$ENV(POD_IP)");
        }
        assert.equal(endpoints.collectorAddress, "192.168.100.10:30618");
        assert.equal(endpoints.scheddAddress, "192.168.100.10:30619");
        const worker = configOf(run, "worker");
        assert.equal(setting(worker, "CCB_ADDRESS"), "$(COLLECTOR_HOST)");
        const names = new Set(["central-manager", "scheduler", "worker"].map((r) => setting(configOf(run, r), "PRIVATE_NETWORK_NAME")));
        assert.equal(names.size, 1, "one private network name for every pod");
        // The security groups open exactly these ports from the submit host (port registry).
        const fromSubmit = flows({ collectorPort: 30618, schedulerPort: 30619 }).filter((f) => "role" in f.from && f.from.role === "submit" && f.to === "control-plane");
        for (const port of [30618, 30619]) assert.ok(fromSubmit.some((f) => f.ports?.[0] === port), `port ${port} open from the submit host`);
    });

    it("confines pods with NetworkPolicies: default deny, DNS, and only HTCondor's flows", () => {
        const policies = run.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => p.revealedInputs as Doc);
        const byName = (n: string) => policies.find((p) => p.metadata.name === n);
        assert.deepEqual(byName("default-deny").spec, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        assert.deepEqual(byName("dns").spec.egress[0].ports.map((p: Doc) => p.port), [53, 53]);
        const ingressPorts = (n: string) => byName(n).spec.ingress.flatMap((i: Doc) => i.ports.map((p: Doc) => p.port));
        assert.deepEqual(ingressPorts("central-manager"), [30618]);
        assert.deepEqual(ingressPorts("scheduler"), [30619]);
        assert.deepEqual(ingressPorts("worker"), [9618]);
        // Workers accept connections from the schedd's pods only.
        assert.deepEqual(byName("worker").spec.ingress[0].from, [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "htcondor", "app.kubernetes.io/component": "scheduler" } } }]);
        // No pod reaches the metadata service or the VMs' network (jobs reach the Internet), but the
        // workers reach the submit host's tools ports (below).
        const toSubmitHost = (rule: Doc) => rule.to?.length === 1 && rule.to[0].ipBlock?.cidr === "192.168.100.21/32";
        for (const p of policies) {
            for (const rule of p.spec.egress ?? []) {
                if (p.metadata.name === "worker" && toSubmitHost(rule)) continue;
                for (const peer of rule.to ?? []) {
                    if (peer.ipBlock) assert.deepEqual(peer.ipBlock.except.slice().sort(), ["10.244.0.0/16", "10.96.0.0/12", "169.254.169.254/32", "192.168.100.0/24"].sort(), p.metadata.name);
                }
            }
        }
    });

    it("lets the workers' starters connect back to condor_tail and condor_ssh_to_job on the submit host: its address, the tools' ports, nothing else", () => {
        const policies = run.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => p.revealedInputs as Doc);
        const submitHost = `${vmAddress("192.168.100.0/24", { role: "submit", index: 0 })}/32`;
        assert.equal(submitHost, "192.168.100.21/32");
        const rules = policies.flatMap((p) => (p.spec.egress ?? []).filter((r: Doc) => (r.to ?? []).some((peer: Doc) => peer.ipBlock?.cidr === submitHost))
            .map((r: Doc) => ({ policy: p.metadata.name, rule: r })));
        assert.deepEqual(rules, [{
            policy: "worker",
            rule: { to: [{ ipBlock: { cidr: submitHost } }], ports: [{ protocol: "TCP", port: SUBMIT_TOOL_PORTS.first, endPort: SUBMIT_TOOL_PORTS.last }] },
        }]);
        // The same range the submit container's tools bind in (components/submit/tools.ts).
        assert.match(renderToolsConfig("192.168.100.21"), new RegExp(`^TOOL.IN_LOWPORT = ${SUBMIT_TOOL_PORTS.first}\nTOOL.IN_HIGHPORT = ${SUBMIT_TOOL_PORTS.last}$`, "m"));
    });

    it("mounts shared storage through the kubelet: NFS PersistentVolumes and the CVMFS CSI driver", () => {
        const pvs = run.ofType("kubernetes:core/v1:PersistentVolume").map((p) => p.revealedInputs as Doc);
        const pv = (n: string) => pvs.find((p) => p.metadata.name === `htcondor-${n}`).spec;
        assert.deepEqual(pv("home").nfs, { server: "192.168.100.20", path: "/srv/incant/home", readOnly: false });
        assert.deepEqual(pv("scratch").accessModes, ["ReadWriteMany"]);
        // No NFS archive: the storage controller does not export one (issue 15).
        assert.equal(pvs.find((p) => p.metadata.name === "htcondor-archive"), undefined);
        // The facility's one NFS client option list (the submit host's mounts use it too).
        assert.deepEqual(pv("home").mountOptions, [...NFS_CLIENT_OPTIONS]);
        for (const o of ["vers=4.2", "hard", "nosuid", "nodev"]) assert.ok(pv("scratch").mountOptions.includes(o), o);
        for (const n of ["home", "scratch"]) {
            assert.deepEqual(pv(n).claimRef, { namespace: "htcondor", name: n });
            assert.equal(pv(n).persistentVolumeReclaimPolicy, "Retain");
        }
        const release = run.ofType("kubernetes:helm.sh/v3:Release")[0].revealedInputs as Doc;
        assert.equal(release.chart, "oci://registry.cern.ch/kubernetes/charts/cvmfs-csi");
        assert.equal(release.version, "2.5.0");
        assert.equal(release.namespace, "cvmfs-csi");
        // The facility's squid at its fixed Service address (components/cache), not CERN's proxy nor DIRECT.
        assert.match(release.values.extraConfigMaps["cvmfs-csi-default-local"]["default.local"], /^CVMFS_HTTP_PROXY=http:\/\/10\.96\.0\.20:3128$/m);
        assert.match(release.values.extraConfigMaps["cvmfs-csi-default-local"]["default.local"], /^CVMFS_REPOSITORIES=atlas\.cern\.ch,atlas-condb\.cern\.ch,sft\.cern\.ch,unpacked\.cern\.ch$/m);
        const claim = run.ofType("kubernetes:core/v1:PersistentVolumeClaim").find((c) => (c.inputs.metadata as Doc).name === "cvmfs")!.revealedInputs as Doc;
        assert.deepEqual(claim.spec.accessModes, ["ReadOnlyMany"]);
        const worker = podSpecOf(deploymentOf(run, "worker")).containers[0];
        const cvmfs = worker.volumeMounts.filter((m: Doc) => m.name === "cvmfs");
        assert.deepEqual(cvmfs.map((m: Doc) => m.mountPath), ["/cvmfs/atlas.cern.ch", "/cvmfs/atlas-condb.cern.ch", "/cvmfs/sft.cern.ch", "/cvmfs/unpacked.cern.ch"]);
        assert.ok(cvmfs.every((m: Doc) => m.mountPropagation === "HostToContainer" && m.readOnly && m.subPath === m.mountPath.slice(7)));
        const mounts = Object.fromEntries(worker.volumeMounts.map((m: Doc) => [m.mountPath, m]));
        assert.equal(mounts["/archive"], undefined);
        assert.equal(mounts["/home"].readOnly, false);
    });

    it("keeps the central manager's accountant on a local volume of the second worker, apart from the schedd's spool", () => {
        const pv = run.ofType("kubernetes:core/v1:PersistentVolume").map((p) => p.revealedInputs as Doc)
            .find((p) => p.metadata.name === `htcondor-${CENTRAL_MANAGER_SPOOL.claim}`).spec;
        assert.deepEqual(pv.local, { path: CENTRAL_MANAGER_SPOOL.hostPath });
        assert.deepEqual(pv.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values, ["incant-dev-worker-1"]);
        assert.equal(pv.persistentVolumeReclaimPolicy, "Retain");
        const cm = podSpecOf(deploymentOf(run, "central-manager"));
        assert.deepEqual(cm.volumes.find((v: Doc) => v.name === "spool"), { name: "spool", persistentVolumeClaim: { claimName: CENTRAL_MANAGER_SPOOL.claim } });
        assert.equal(cm.containers[0].volumeMounts.find((m: Doc) => m.name === "spool").mountPath, "/var/lib/condor/spool");
        assert.notEqual(CENTRAL_MANAGER_SPOOL.hostPath, SCHEDD_SPOOL.hostPath);
    });

    it("keeps the schedd's queue on a local volume of the first worker, not in the pod", () => {
        const pv = run.ofType("kubernetes:core/v1:PersistentVolume").map((p) => p.revealedInputs as Doc)
            .find((p) => p.metadata.name === `htcondor-${SCHEDD_SPOOL.claim}`).spec;
        assert.deepEqual(pv.local, { path: SCHEDD_SPOOL.hostPath });
        assert.deepEqual(pv.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0],
            { key: "kubernetes.io/hostname", operator: "In", values: ["incant-dev-worker-0"] });
        assert.equal(pv.persistentVolumeReclaimPolicy, "Retain");
        assert.deepEqual(pv.claimRef, { namespace: "htcondor", name: SCHEDD_SPOOL.claim });
        const claim = run.ofType("kubernetes:core/v1:PersistentVolumeClaim").map((c) => c.revealedInputs as Doc)
            .find((c) => c.metadata.name === SCHEDD_SPOOL.claim);
        assert.equal(claim.spec.volumeName, `htcondor-${SCHEDD_SPOOL.claim}`);
        const schedd = podSpecOf(deploymentOf(run, "scheduler"));
        const spool = schedd.volumes.find((v: Doc) => v.name === "spool");
        assert.deepEqual(spool, { name: "spool", persistentVolumeClaim: { claimName: SCHEDD_SPOOL.claim } });
        assert.equal(schedd.containers[0].volumeMounts.find((m: Doc) => m.name === "spool").mountPath, "/var/lib/condor/spool");
        assert.equal((deploymentOf(run, "scheduler").revealedInputs as Doc).spec.strategy.type, "Recreate", "never two schedds on one queue");
        // The image's hook gives the bare node directory to condor, as the packages do.
        const cm = run.ofType("kubernetes:core/v1:ConfigMap").map((c) => c.revealedInputs as Doc).find((c) => c.metadata.name === "htcondor-scheduler");
        assert.match(cm.data["pre-exec.sh"], /chown condor:condor "\$\{spool\}"/);
    });

    it("creates the configured users in the pods, with their uids, from one script", () => {
        const users = run.ofType("kubernetes:core/v1:ConfigMap").find((c) => (c.inputs.metadata as Doc).name === "htcondor-users")!.revealedInputs as Doc;
        assert.equal(users.data.users, "atlasuser1 20001\natlasuser2 20002\natlasuser3 20003\natlasuser4 20004\natlasuser5 20005\n");
        const cm = run.ofType("kubernetes:core/v1:ConfigMap").find((c) => (c.inputs.metadata as Doc).name === "htcondor-worker")!.revealedInputs as Doc;
        assert.match(cm.data["pre-exec.sh"], /pool-users\.sh sync/);
        assert.match(cm.data["pool-users.sh"], /useradd --uid "\$\{uid\}" --gid "\$\{uid\}"/);
        assert.equal(setting(configOf(run, "worker"), "STARTER_ALLOW_RUNAS_OWNER"), "true");
        // Pod host names are not in UID_DOMAIN: without this the starter would run jobs as nobody.
        assert.equal(setting(configOf(run, "worker"), "TRUST_UID_DOMAIN"), "true");
        assert.equal(setting(configOf(run, "scheduler"), "UID_DOMAIN"), setting(configOf(run, "worker"), "UID_DOMAIN"));
        const config = podSpecOf(deploymentOf(run, "worker")).volumes.find((v: Doc) => v.name === "config");
        assert.deepEqual(config.configMap.items.map((i: Doc) => i.path).sort(), ["50-incant.conf", "pre-exec.sh"]);
    });

    it("gives the submit host a configuration for remote submission with IAM tokens, and the pool CA", () => {
        const conf = run.outputs.submitHostConfig as string;
        assert.equal(setting(conf, "COLLECTOR_HOST"), "condor.htcondor.svc:30618");
        assert.equal(setting(conf, "SCHEDD_HOST"), "schedd@incant.cloud.infn.it");
        assert.equal(setting(conf, "DAEMON_LIST"), "MASTER", "no schedd on the submit host");
        assert.deepEqual(list(setting(conf, "SEC_CLIENT_AUTHENTICATION_METHODS")), ["SCITOKENS"]);
        assert.match(run.outputs.caCertPem as string, /^-----BEGIN CERTIFICATE-----/);
        const certs = run.ofType("tls:index/certRequest:CertRequest").map((c) => (c.revealedInputs as Doc).dnsNames[0]).sort();
        assert.deepEqual(certs, ["condor.htcondor.svc", "schedd.htcondor.svc"], "the names the SSL host check verifies");
        assert.equal(setting(configOf(run, "central-manager"), "HOST_ALIAS"), "condor.htcondor.svc");
        assert.equal(setting(configOf(run, "scheduler"), "HOST_ALIAS"), "schedd.htcondor.svc");
    });

    it("leaves the rendered workloads readable: no secret inside a Deployment or a ConfigMap", () => {
        for (const r of [...deployments(run), ...run.ofType("kubernetes:core/v1:ConfigMap")]) assert.deepEqual(r.secretPaths, [], r.name);
        for (const d of deployments(run)) assert.match(podSpecOf(d) && (d.revealedInputs as Doc).spec.template.metadata.annotations[CHECKSUM_ANNOTATION], /^[0-9a-f]{64}$/);
    });
});

describe("HTCondor configuration serialiser", () => {
    it("writes KEY = value lines, lists comma-separated, and refuses what would change the file's meaning", () => {
        assert.equal(renderCondorConfig([{ comment: "a\nb" }, { use: "security:recommended_v24_0" }, { key: "ALLOW_READ", value: ["a@d", "b@d"] }, { key: "X", value: "" }]),
            "# a\n# b\nuse security:recommended_v24_0\nALLOW_READ = a@d, b@d\nX =\n");
        assert.throws(() => renderCondorConfig([{ key: "A", value: "1\nALLOW_WRITE = *" }]), /invalid value/);
        assert.throws(() => renderCondorConfig([{ key: "A", value: "continued \\" }]), /invalid value/);
        assert.throws(() => renderCondorConfig([{ key: "A B", value: "1" }]), /invalid HTCondor configuration key/);
    });
});

describe("HTCondor pool (configuration changes)", () => {
    it("follows incant:nodes.workers.count with the worker replicas only: no pod template changes", async () => {
        const nodes = merged(devValue("nodes"), { workers: { count: 3 } });
        const three = await runPool({ nodes });
        const seven = await runPool();
        const worker = deploymentOf(three, "worker").revealedInputs as Doc;
        assert.equal(worker.spec.replicas, 3);
        // A worker VM more or less restarts no pod (red when the affinity listed the workers by name).
        for (const role of ["central-manager", "scheduler", "worker"] as const) {
            assert.deepEqual((deploymentOf(three, role).revealedInputs as Doc).spec.template, (deploymentOf(seven, role).revealedInputs as Doc).spec.template, role);
        }
    });

    it("restarts no pod when the key is re-keyed or the tokens renewed, and the roles' pods when their configuration changes", async () => {
        const checksums = (r: ProgramRun) => Object.fromEntries(deployments(r).map((d) => [(d.revealedInputs.metadata as Doc).name, (d.revealedInputs as Doc).spec.template.metadata.annotations[CHECKSUM_ANNOTATION]]));
        const templates = (r: ProgramRun) => Object.fromEntries(deployments(r).map((d) => [(d.revealedInputs.metadata as Doc).name, (d.revealedInputs as Doc).spec.template]));
        const base = checksums(await runPool());
        const again = checksums(await runPool());
        // No churn between runs.
        assert.deepEqual(again, base, "no churn between runs");
        // The digest covers every file and certificate, and nothing else (no generation, no token, no key).
        const files = { "50-incant.conf": "A = 1\n", users: "u 2000\n" };
        const sum = podChecksum(files, ["cert"]);
        assert.equal(podChecksum({ users: "u 2000\n", "50-incant.conf": "A = 1\n" }, ["cert"]), sum);
        for (const changed of [podChecksum({ ...files, users: "" }, ["cert"]), podChecksum(files, ["cert2"])]) assert.notEqual(changed, sum);
        // Re-keying: a new key and new tokens in the Secrets, and the same pod templates (red when the
        // checksum held the generation, the key or the tokens: every pod restarted, running jobs with them).
        const baseRun = await runPool();
        const rotatedRun = await runPool({ htcondor: merged(devValue("htcondor"), { keyGeneration: 2 }) });
        assert.deepEqual(rotatedRun.ofType("random:index/randomBytes:RandomBytes")[0].inputs.keepers, { keyGeneration: "2" }, "a new key (the provider replaces the resource)");
        // (The offline RandomBytes is seeded by its name, so the key's bytes stay; the provider makes new ones.)
        const secretData = (r: ProgramRun, name: string) => JSON.stringify((r.ofType("kubernetes:core/v1:Secret").find((x) => (x.inputs.metadata as Doc).name === name)!.revealedInputs as Doc));
        assert.deepEqual(templates(rotatedRun), templates(baseRun), "no pod template changes on re-keying");
        // A renewed token clock (a longer lifetime stands in for the provider's replacement: new
        // validity): new tokens, same pod templates.
        const renewedRun = await runPool({ htcondor: merged(devValue("htcondor"), { tokenLifetimeDays: 30 }) });
        assert.notEqual(secretData(renewedRun, SECRETS.startdToken), secretData(baseRun, SECRETS.startdToken));
        assert.deepEqual(templates(renewedRun), templates(baseRun), "no pod template changes on renewal");
        // A user leaves: no pod restarts, the users ConfigMap changes alone (tests/htcondor-users.test.ts, issue 14).
        const users = (devValue("users") as unknown as unknown[]).slice(1);
        const fewer = checksums(await runPool({ users }));
        for (const name of Object.keys(base)) assert.equal(fewer[name], again[name], `${name} does not restart with the new users`);
    });

    it("validates incant:htcondor.tokenLifetimeDays (7 to 3650 days, default 90) and declares it in Pulumi.yaml", () => {
        assert.equal(DEFAULTS.htcondor.tokenLifetimeDays, 90);
        assert.deepEqual(configProblems({ ...GOOD_CONFIG, htcondor: { tokenLifetimeDays: 365 } }), []);
        for (const bad of [0, 6, 3651, 1.5]) {
            const problems = configProblems({ ...GOOD_CONFIG, htcondor: { tokenLifetimeDays: bad } });
            assert.equal(problems.length, 1, `${bad}: ${problems.join("; ")}`);
            assert.match(problems[0], bad === 1.5 ? /incant:htcondor\.tokenLifetimeDays must be an integer/ : /incant:htcondor\.tokenLifetimeDays .*between 7 and 3650/);
        }
        const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as { config: Record<string, { description: string }> };
        assert.match(project.config.htcondor.description, /\btokenLifetimeDays\b/);
    });

    it("refuses users named like the pool's own identities or the images' accounts (one list, components/config/accounts.ts)", async () => {
        for (const name of ["schedd", "condor", "submituser", "sshd", "slot1_3"]) {
            const users = [{ name, uid: 20010, iamSubject: "5d2b0a6e-0000-4000-8000-000000000010" }];
            await assert.rejects(runPool({ users }), new RegExp(`incant:users\\[0\\]\\.name \\("${name}"\\) is an account the VMs or the facility's images already have`));
        }
        for (const name of ["root", "condor", "startd", "schedd", "submit", "nobody", "submituser", "sshd", "rpcuser"]) assert.ok(RESERVED_USER_NAMES.includes(name), name);
    });

    it("sets the CVMFS proxy of the CSI driver from incant:cvmfs.httpProxy", async () => {
        const run = await runPool({ cvmfs: { httpProxy: "http://squid-a.example:3128" } });
        const values = (run.ofType("kubernetes:helm.sh/v3:Release")[0].revealedInputs as Doc).values;
        assert.match(values.extraConfigMaps["cvmfs-csi-default-local"]["default.local"], /^CVMFS_HTTP_PROXY=http:\/\/squid-a\.example:3128$/m);
    });
});

describe("HTCondor pool in the facility (index.ts)", () => {
    it("runs on the cluster's provider, after its pod network, with the cluster's nodes and the storage controller's exports", async () => {
        const run = await runProgram("dev");
        const pool = run.get("incant:htcondor:HTCondorPool", "htcondor");
        const provider = run.get("pulumi:providers:kubernetes", "kubernetes-provider");
        const children = run.resources.filter((r) => r.parent === pool.urn && r.type.startsWith("kubernetes:"));
        assert.ok(children.length >= 25);
        for (const r of children) assert.ok(r.provider?.startsWith(`${provider.urn}::`), `${r.type} ${r.name} uses the cluster's provider`);
        const calico = run.get("kubernetes:helm.sh/v3:Release", "kubernetes-calico");
        for (const d of run.ofType("kubernetes:apps/v1:Deployment").filter((x) => x.parent === pool.urn)) {
            assert.ok(d.dependencies.includes(calico.urn), `${d.name} waits for the pod network`);
        }
        const workers = run.ofType("openstack:compute/instance:Instance").filter((i) => (i.inputs.metadata as Doc)?.role === "worker").map((i) => String(i.inputs.name));
        const worker = run.ofType("kubernetes:apps/v1:Deployment").find((d) => (d.inputs.metadata as Doc).name === "htcondor-worker")!.revealedInputs as Doc;
        assert.equal(worker.spec.replicas, workers.length, "one worker pod per worker VM");
        const home = run.ofType("kubernetes:core/v1:PersistentVolume").find((p) => (p.inputs.metadata as Doc).name === "htcondor-home")!.revealedInputs as Doc;
        assert.equal(home.spec.nfs.server, run.outputs.nfsServer);
        assert.equal((run.outputs.htcondorEndpoints as Doc).collectorAddress, "192.168.100.10:30618");
    });

    it("puts the spools on Cinder claims that wait for the Cinder CSI driver when the cluster has it (dev), with no local volume", async () => {
        const run = await runProgram("dev");
        const csi = run.get("kubernetes:helm.sh/v3:Release", "kubernetes-cloud-provider-cinder-csi");
        for (const spool of [SCHEDD_SPOOL, CENTRAL_MANAGER_SPOOL]) {
            const claim = run.ofType("kubernetes:core/v1:PersistentVolumeClaim").find((c) => (c.inputs.metadata as Doc).name === spool.claim)!;
            const spec = (claim.revealedInputs as Doc).spec;
            assert.equal(spec.storageClassName, "csi-cinder-sc-retain");
            assert.deepEqual(spec.accessModes, ["ReadWriteOnce"]);
            assert.equal(spec.resources.requests.storage, spool.capacity);
            assert.equal(spec.volumeName, undefined, "provisioned, not a reserved PV");
            assert.ok(claim.dependencies.includes(csi.urn), `${spool.claim} waits for the Cinder CSI driver`);
            assert.ok(!run.ofType("kubernetes:core/v1:PersistentVolume").some((p) => (p.inputs.metadata as Doc).name === `htcondor-${spool.claim}`));
        }
        const schedd = podSpecOf(deploymentOf(run, "scheduler"));
        assert.deepEqual(schedd.volumes.find((v: Doc) => v.name === "spool"), { name: "spool", persistentVolumeClaim: { claimName: SCHEDD_SPOOL.claim } });
    });

    it("without a cloud provider, has the spool's node directory made by every worker before it joins", async () => {
        const run = await runProgram("dev", { openstack: { cloudProvider: false } });
        for (const claim of [SCHEDD_SPOOL.claim, CENTRAL_MANAGER_SPOOL.claim]) {
            const pv = run.ofType("kubernetes:core/v1:PersistentVolume").find((p) => (p.inputs.metadata as Doc).name === `htcondor-${claim}`)!.revealedInputs as Doc;
            const node = pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0];
            const workers = run.ofType("openstack:compute/instance:Instance").filter((i) => (i.inputs.metadata as Doc)?.role === "worker");
            assert.ok(workers.some((i) => i.inputs.name === node), `${node} is a worker VM of the facility`);
            for (const vm of workers) {
                const doc = cloudConfigOf(run, String(vm.revealedInputs.name)) as { runcmd: string[][] };
                const at = doc.runcmd.findIndex((c) => c[0] === "install" && c.includes(pv.spec.local.path));
                assert.ok(at >= 0, `${vm.name} makes ${pv.spec.local.path}`);
                assert.ok(at < doc.runcmd.findIndex((c) => c[0] === "/usr/local/sbin/incant-kubeadm"), `${vm.name}: before joining`);
            }
        }
    });
});
