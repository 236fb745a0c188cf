/**
 * JupyterHub (components/jupyterhub): the dev stack's Helm values against the chart's own schema
 * (vendored from the pinned version), every object the component makes against the Kubernetes
 * schemas, the hub's config snippet run in Python as the chart runs it, and the exposure.
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Ajv from "ajv";
import * as YAML from "yaml";
import { runProgram, ProgramRun, ROOT } from "./harness/program";
import { validateK8sObject } from "./harness/k8s";
import { requireCondition, run } from "./harness/tools";
import { RecordedResource } from "../offline/engine";
import { cvmfsVolumeMounts } from "../components/htcondor/cvmfs";
import { flows } from "../components/network/ports";
import { DEFAULTS } from "../components/config/defaults";
import { HUB_USERS_FILE, JUPYTERHUB_CHART, USER_FILES, USER_GUARANTEES } from "../components/jupyterhub/values";
import { lcgKernel, userBashrc } from "../components/jupyterhub/userfiles";

const VENDOR = path.join(ROOT, "components", "jupyterhub", "vendor");
const RELEASE = "kubernetes:helm.sh/v3:Release";
const PYTHON = "/usr/bin/python3";

type Values = Record<string, unknown>;
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's coalescing of user values over the chart's defaults: maps merge, null deletes, the rest replaces. */
function helmMerge(defaults: unknown, user: unknown): unknown {
    if (!isMap(defaults) || !isMap(user)) return user;
    const out: Record<string, unknown> = { ...defaults };
    for (const [k, v] of Object.entries(user)) {
        if (v === null) delete out[k];
        else out[k] = helmMerge(defaults[k], v);
    }
    return out;
}

function chartSchemaValidator() {
    const schema = JSON.parse(fs.readFileSync(path.join(VENDOR, "values.schema.json"), "utf8"));
    const defaults = YAML.parse(fs.readFileSync(path.join(VENDOR, "values.yaml"), "utf8"));
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    return (values: Values): string[] => {
        const ok = validate(helmMerge(defaults, values));
        return ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
    };
}

/** Whether the input at JSON path `p` is secret: it or an object holding it is. */
const secretAt = (paths: string[], p: string) => paths.some((s) => p === s || p.startsWith(`${s}.`) || p.startsWith(`${s}[`));
const at = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((o, k) => (isMap(o) ? o[k] : undefined), v);

describe("JupyterHub (dev stack)", function () {
    this.timeout(120_000);
    let dev: ProgramRun;
    let release: RecordedResource;
    let values: Values;
    before(async () => {
        dev = await runProgram("dev");
        release = dev.resources.find((r) => r.type === RELEASE && r.name === "jupyterhub")!;
        assert.ok(release, "dev installs the hub");
        values = release.revealedInputs.values as Values;
    });

    it("installs the pinned chart whose schema is vendored", () => {
        assert.equal(release.revealedInputs.version, JUPYTERHUB_CHART.version);
        const readme = fs.readFileSync(path.join(VENDOR, "README.md"), "utf8");
        assert.ok(readme.includes(`**${JUPYTERHUB_CHART.version}**`) && /commit `[0-9a-f]{40}`/.test(readme), "vendor/README.md names the version and commit");
    });

    it("renders values the chart's values.schema.json accepts (merged over the chart's defaults, as Helm does)", () => {
        const problems = chartSchemaValidator()(values);
        assert.deepEqual(problems, []);
    });

    it("the schema check catches a misspelt key and a wrong type (it is not vacuous)", () => {
        const check = chartSchemaValidator();
        const typo = helmMerge(values, { singleuser: { memory: { limt: "2G" } } }) as Values;
        assert.ok(check(typo).some((p) => p.includes("limt")), check(typo).join("\n"));
        const wrongType = helmMerge(values, { proxy: { service: { nodePorts: { https: "30443" } } } }) as Values;
        assert.ok(check(wrongType).some((p) => p.includes("/proxy/service/nodePorts/https")), check(wrongType).join("\n"));
    });

    it("keeps the hub's secrets secret (client secret, cookie secret, proxy token, auth-state key)", () => {
        for (const p of ["values.hub.config.GenericOAuthenticator.client_secret", "values.hub.cookieSecret", "values.proxy.secretToken", "values.hub.config.CryptKeeper.keys[0]"]) {
            assert.ok(secretAt(release.secretPaths, p), `${p} is not secret (secret: ${release.secretPaths.join(", ")})`);
        }
        const secret = dev.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && at(r.revealedInputs, "metadata", "name") === "jupyterhub-tls")!;
        assert.ok(secretAt(secret.secretPaths, "stringData.tls.key"), "the proxy's TLS key is secret");
        assert.ok(!secretAt(release.secretPaths, "values.hub.config.GenericOAuthenticator.client_id"), "only the secrets are secret: the rendered values stay reviewable");
    });

    it("every object the component makes is a valid Kubernetes object", () => {
        const mine = dev.resources.filter((r) => r.urn.includes("incant:jupyterhub:JupyterHub") && r.type.startsWith("kubernetes:") && r.type !== RELEASE);
        assert.ok(mine.length >= 8, `only ${mine.length} objects`);
        for (const r of mine) assert.doesNotThrow(() => validateK8sObject(r), `${r.type} ${r.name}`);
    });

    it("the user pod's volumes, mounts and policies from the values are valid Kubernetes fields", () => {
        const storage = at(values, "singleuser", "storage") as { extraVolumes: unknown[]; extraVolumeMounts: unknown[] };
        validateK8sObject({
            type: "kubernetes:core/v1:Pod",
            revealedInputs: { metadata: { name: "jupyter-x" }, spec: { volumes: storage.extraVolumes, containers: [{ name: "notebook", image: "x:1", volumeMounts: storage.extraVolumeMounts }] } },
        });
        const np = at(values, "singleuser", "networkPolicy") as { ingress: unknown[]; egress: unknown[] };
        validateK8sObject({ type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", revealedInputs: { metadata: { name: "x" }, spec: { podSelector: {}, ingress: np.ingress, egress: np.egress } } });
    });

    it("mounts /home and /scratch from the workers' NFS exports, and CVMFS read-only like the workers", () => {
        const mounts = at(values, "singleuser", "storage", "extraVolumeMounts") as { name: string; mountPath: string; readOnly?: boolean }[];
        const repos = DEFAULTS.cvmfs.repositories;
        assert.deepEqual(mounts.filter((m) => m.name === "cvmfs"), cvmfsVolumeMounts("cvmfs", repos), "same subPaths, read-only, HostToContainer");
        assert.deepEqual(mounts.filter((m) => m.name !== "cvmfs").map((m) => [m.mountPath, m.readOnly]), [["/home", false], ["/scratch", false]]);
        const pvs = dev.resources.filter((r) => r.type === "kubernetes:core/v1:PersistentVolume");
        const nfsOf = (name: string) => at(pvs.find((r) => at(r.revealedInputs, "metadata", "name") === name)!.revealedInputs, "spec", "nfs");
        for (const share of ["home", "scratch"]) assert.deepEqual(nfsOf(`jupyterhub-${share}`), nfsOf(`htcondor-${share}`), `${share}: the pool's export`);
        const claim = (ns: string) => dev.resources.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim" &&
            at(r.revealedInputs, "metadata", "name") === "cvmfs" && at(r.revealedInputs, "metadata", "namespace") === ns)!.revealedInputs.spec;
        assert.deepEqual(claim("jupyterhub"), claim("htcondor"), "the same CVMFS CSI claim as the pool");
    });

    it("limits each user's server, culls idle servers, and runs no privileged init container", () => {
        assert.deepEqual(at(values, "singleuser", "cpu"), { limit: DEFAULTS.jupyterhub.cpuLimit, guarantee: USER_GUARANTEES.cpu });
        assert.deepEqual(at(values, "singleuser", "memory"), { limit: `${DEFAULTS.jupyterhub.memoryLimitGb}G`, guarantee: USER_GUARANTEES.memory });
        assert.deepEqual(at(values, "cull"), { enabled: true, timeout: 3600, every: 600, users: false });
        assert.equal(at(values, "singleuser", "cloudMetadata", "blockWithIptables"), false, "Calico blocks the metadata service; the iptables init container needs NET_ADMIN");
        for (const policy of [["hub", "networkPolicy"], ["proxy", "chp", "networkPolicy"], ["singleuser", "networkPolicy"]]) {
            assert.equal(at(values, ...policy, "egressAllowRules", "cloudMetadataServer"), false, `${policy.join(".")} reaches the metadata service`);
        }
    });

    it("is reachable only over HTTPS at the NodePort the security groups open to the user CIDRs", () => {
        assert.deepEqual(at(values, "proxy", "service"), { type: "NodePort", nodePorts: { https: 30443 }, disableHttpPort: true });
        assert.deepEqual(at(values, "proxy", "chp", "networkPolicy", "allowedIngressPorts"), ["https"]);
        assert.deepEqual(at(values, "proxy", "https"), { enabled: true, type: "secret", secret: { name: "jupyterhub-tls", key: "tls.key", crt: "tls.crt" } });
        const f = flows({ collectorPort: 30618, schedulerPort: 30619, jupyterhubPort: 30443 }).filter((x) => x.ports?.[0] === 30443);
        assert.deepEqual(f.map((x) => [x.from, x.to, x.protocol]), [[{ cidrs: "user" }, "control-plane", "tcp"]]);
        assert.equal(flows({ collectorPort: 30618, schedulerPort: 30619 }).filter((x) => x.ports?.[0] === 30443).length, 0, "closed without a hub");
        const rules = dev.resources.filter((r) => r.type === "openstack:networking/secGroupRule:SecGroupRule" && r.revealedInputs.portRangeMin === 30443);
        assert.deepEqual(rules.map((r) => r.revealedInputs.remoteIpPrefix).sort(), ["131.154.0.0/16", "192.135.24.0/24"], "dev's user CIDRs, nothing else");
    });

    it("serves a certificate for the hub's address, chained to the pool CA", () => {
        const secret = dev.resources.find((r) => r.type === "kubernetes:core/v1:Secret" && at(r.revealedInputs, "metadata", "name") === "jupyterhub-tls")!;
        const pem = String(at(secret.revealedInputs, "stringData", "tls.crt"));
        const [leaf, ca] = pem.split(/(?<=-----END CERTIFICATE-----\n?)/).filter((s) => s.includes("BEGIN")).map((s) => new crypto.X509Certificate(s));
        const host = String(dev.outputs.kubernetesApiHost);
        assert.ok(leaf.subjectAltName?.includes(`IP Address:${host}`), `SAN ${leaf.subjectAltName} lacks ${host}`);
        assert.ok(leaf.verify(ca.publicKey) && leaf.checkIssued(ca), "signed by the CA in the chain");
        assert.ok(ca.subject.includes("INCANT HTCondor pool CA"));
        assert.equal(dev.outputs.jupyterhubUrl, `https://${host}:30443/`);
        assert.equal(at(values, "hub", "config", "GenericOAuthenticator", "oauth_callback_url"), `https://${host}:30443/hub/oauth_callback`);
    });

    it("the hub database is a Cinder claim when the cluster has the Cinder CSI driver (dev), and the release waits for it", () => {
        const release = dev.resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.name === "jupyterhub")!;
        assert.equal(at(release.revealedInputs, "values", "hub", "db", "pvc", "storageClassName"), "csi-cinder-sc-retain");
        assert.equal(at(release.revealedInputs, "values", "hub", "db", "type"), "sqlite-pvc");
        const csi = dev.resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.name === "kubernetes-cloud-provider-cinder-csi")!;
        assert.ok(release.dependencies.includes(csi.urn), "the hub's claim needs the driver");
        assert.ok(!dev.resources.some((r) => r.type === "kubernetes:core/v1:PersistentVolume" && at(r.revealedInputs, "metadata", "name") === "jupyterhub-hub-db-dir"));
    });

    it("without a cloud provider, the hub database has a local volume on a worker that every worker creates at boot", async () => {
        const dev = await runProgram("dev", { openstack: { cloudProvider: false } });
        const pv = dev.resources.find((r) => r.type === "kubernetes:core/v1:PersistentVolume" && at(r.revealedInputs, "metadata", "name") === "jupyterhub-hub-db-dir")!;
        const dir = String(at(pv.revealedInputs, "spec", "local", "path"));
        assert.deepEqual(at(pv.revealedInputs, "spec", "claimRef"), { namespace: "jupyterhub", name: "hub-db-dir" });
        const workers = dev.resources.filter((r) => r.type === "openstack:compute/instance:Instance" && String(r.revealedInputs.name).includes("worker"));
        assert.ok(workers.length > 0);
        for (const w of workers) assert.ok(String(w.revealedInputs.userData).includes(dir), `${String(w.revealedInputs.name)} does not make ${dir}`);
    });

    describe("the hub's config snippet, run as the chart runs it", () => {
        type Result = {
            usernames: { value?: string | null; error?: string }[]; allowedUsers: string[]; adminUsers: string[];
            spawn: Record<string, { uid: { value?: number; error?: string }; gid: { value?: number; error?: string } }>;
            fsGid: unknown; workingDir: string; environment: Record<string, string>; hookEnvironment: Record<string, string>;
        };
        let result: Result;
        before(function () {
            requireCondition(this, run(PYTHON, ["-c", "import traitlets"]).status === 0, "python3-traitlets is required (.ci/run installs it)");
            const extraFiles = at(values, "hub", "extraFiles", "incant-users") as { mountPath: string; data: unknown };
            assert.equal(extraFiles.mountPath, HUB_USERS_FILE);
            const probe = {
                snippet: at(values, "hub", "extraConfig", "10-incant"),
                usersFilePath: extraFiles.mountPath,
                usersFile: extraFiles.data,
                claims: [
                    { sub: "5d2b0a6e-0000-4000-8000-000000000002", preferred_username: "someone-else" },
                    { sub: "00000000-dead-beef-0000-000000000000", preferred_username: "atlasuser1" },
                    { preferred_username: "atlasuser1" },
                    { sub: "" },
                ],
                spawn: ["atlasuser2", "atlasuser5", "root", "unregistered-00000000-dead-beef-0000-000000000000"],
                authState: { access_token: "eyJ.test-token.sig", refresh_token: "r" },
            };
            const r = run(PYTHON, [path.join(ROOT, "tests", "fixtures", "jupyterhub", "run_hub_config.py")], JSON.stringify(probe), 30_000);
            assert.equal(r.status, 0, r.stderr);
            result = JSON.parse(r.stdout) as Result;
        });

        it("names users by their IAM subject, never by a claim they can choose", () => {
            assert.deepEqual(result.usernames.map((u) => u.value), ["atlasuser2", "unregistered-00000000-dead-beef-0000-000000000000", null, null]);
        });

        it("allows exactly the facility's users, and makes nobody admin", () => {
            assert.deepEqual(result.allowedUsers, ["atlasuser1", "atlasuser2", "atlasuser3", "atlasuser4", "atlasuser5"]);
            assert.ok(!result.allowedUsers.includes(String(result.usernames[1].value)), "an unknown subject maps to a name that is not allowed");
            assert.deepEqual(result.adminUsers, []);
        });

        it("spawns each user's server as their uid and private gid; refuses anybody else", () => {
            assert.deepEqual(result.spawn.atlasuser2, { uid: { value: 20002 }, gid: { value: 20002 } });
            assert.deepEqual(result.spawn.atlasuser5, { uid: { value: 20005 }, gid: { value: 20005 } });
            for (const who of ["root", "unregistered-00000000-dead-beef-0000-000000000000"]) {
                assert.match(String(result.spawn[who].uid.error), /not a facility user/);
            }
            assert.equal(result.fsGid, null, "no fsGroup: the kubelet would chown what it mounts");
        });

        it("starts in the user's NFS home, with the user's IAM token for HTCondor", () => {
            assert.equal(result.workingDir, "/home/{username}");
            assert.deepEqual(result.environment, { HOME: "/home/{username}", USER: "{username}", SCRATCH: "/scratch/{username}" });
            assert.deepEqual(result.hookEnvironment, { BEARER_TOKEN: "eyJ.test-token.sig" });
        });
    });

    describe("the user environment", () => {
        it("offers the LCG view as a kernel without putting the path into shell text", () => {
            const kernel = JSON.parse(lcgKernel("/cvmfs/sft.cern.ch/lcg/views/LCG_107/x86_64-el9-gcc13-opt")) as { argv: string[] };
            assert.equal(kernel.argv[4], "/cvmfs/sft.cern.ch/lcg/views/LCG_107/x86_64-el9-gcc13-opt");
            assert.ok(!kernel.argv[2].includes("/cvmfs"));
            assert.ok(kernel.argv.includes("{connection_file}"));
        });

        it("the terminals' rc file defines setupATLAS and lcgenv, and sources a view path literally (bash runs it)", function () {
            requireCondition(this, fs.existsSync("/bin/bash"), "bash");
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-bashrc-"));
            try {
                // A hostile view path (validation refuses it; the rc file must keep it inert anyway).
                const view = path.join(dir, "view'$(touch pwned)`touch pwned2`");
                fs.mkdirSync(view);
                fs.writeFileSync(path.join(view, "setup.sh"), "echo sourced-the-view\n");
                // A stand-in ATLASLocalRootBase: setupATLAS sources its user/atlasLocalSetup.sh with the arguments.
                fs.mkdirSync(path.join(dir, "alrb", "user"), { recursive: true });
                fs.writeFileSync(path.join(dir, "alrb", "user", "atlasLocalSetup.sh"), "echo \"atlas-setup $*\"\n");
                const rc = path.join(dir, "bashrc");
                fs.writeFileSync(rc, userBashrc(view));
                const r = spawnSync("/bin/bash", ["--rcfile", rc, "-i"], {
                    input: `echo "root=$ATLAS_LOCAL_ROOT_BASE"\nATLAS_LOCAL_ROOT_BASE=${dir}/alrb\nsetupATLAS -c el9\nlcgenv\n`,
                    cwd: dir, encoding: "utf8", timeout: 10_000, env: { PATH: process.env.PATH, HOME: dir, TERM: "dumb" },
                });
                assert.equal(r.status, 0, r.stderr);
                assert.match(r.stdout, /^atlas-setup -c el9$/m);
                assert.match(r.stdout, /^root=\/cvmfs\/atlas.cern.ch\/repo\/ATLASLocalRootBase$/m);
                assert.match(r.stdout, /^sourced-the-view$/m);
                assert.ok(!fs.existsSync(path.join(dir, "pwned")) && !fs.existsSync(path.join(dir, "pwned2")), "the path was executed as shell");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("gives every server the HTCondor client configuration and the pool CA", () => {
            const files = at(values, "singleuser", "extraFiles") as Record<string, { mountPath: string; stringData: string }>;
            assert.deepEqual(Object.fromEntries(Object.entries(files).map(([k, f]) => [k, f.mountPath])), USER_FILES);
            assert.match(files.condorConfig.stringData, /^COLLECTOR_HOST = condor\.htcondor\.svc:30618$/m);
            assert.match(files.condorConfig.stringData, /^SEC_CLIENT_AUTHENTICATION_METHODS = SCITOKENS$/m);
            assert.match(files.poolCa.stringData, /BEGIN CERTIFICATE/);
            assert.equal(at(values, "singleuser", "extraEnv", "CONDOR_CONFIG"), USER_FILES.condorConfig);
        });
    });
});
