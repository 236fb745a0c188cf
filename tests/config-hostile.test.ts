/**
 * Hostile strings in every string-valued configuration key (issue #13 item 11), property-based
 * with fast-check. Two properties:
 * 1. Validation: any string in any string key is either refused with a message naming that key
 *    (one line, no stack trace, no secret-looking value echoed) or accepted unchanged and free of
 *    line ends.
 * 2. Confinement: values the grammars accept, built from every character they allow, go through
 *    the real program (offline engine), and each rendered artifact is read back with its own
 *    parser (YAML, HTCondor config via condor_config_val when HTCONDOR_HOME is set or our parser
 *    of the subset we write, the SciTokens map file, systemd units through the INI reader, env
 *    files through bash, NFS exports): the artifact has the same structure as with tame values,
 *    and the values land whole where they belong.
 * Run counts are kept small (each program run takes about a second); fast-check prints the seed
 * of a failure, which reproduces it.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import YAML from "yaml";
import { ConfigValidationError, groupSlug, RawConfig, validateConfig } from "../components/config/validate";
import { looksSecret } from "../components/config/grammar";
import { isReservedAccount } from "../components/config/accounts";
import { DEFAULTS } from "../components/config/defaults";
import { parseIni } from "../components/compute/ini";
import { EXTRACTORS, Files } from "../offline/artifacts";
import { runProgram } from "./harness/program";
import { tempFile } from "./harness/tools";

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICMHfMeNXSjdokUYxpyuIWE069qGQiqhM4/MygGDNztg ops";
const SECRETS = new Set(["s3AccessKeyId", "s3SecretAccessKey", "sshPrivateKey", "registryPassword", "osApplicationCredentialSecret", "s3IamClientSecret", "jupyterhubIamClientSecret"]);

/** A stack with every optional string key set, so that every string key is reachable. */
const FULL: RawConfig = {
    environment: "dev", namePrefix: "incant-dev", sshPublicKey: SSH_KEY,
    openstack: {
        cloud: "infn-cloud-bari", authUrl: "https://keystone.recas.ba.infn.it/v3", region: "RegionOne", image: "ubuntu-22.04",
        ubuntuRelease: "22.04", externalNetwork: "public", availabilityZone: "nova", applicationCredentialId: "a1b2c3",
    },
    network: {
        cidr: "192.168.100.0/24", dnsServers: ["131.154.1.1"], podCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12",
        adminCidrs: ["192.135.24.0/24"], userCidrs: ["131.154.0.0/16"], allowWideCidrs: { reason: "reviewed: operators' VPN pool, ticket 42" },
    },
    nodes: { workers: { flavor: "large" }, controlPlane: { flavor: "large" }, storage: { flavor: "medium" }, submit: { flavor: "large" } },
    versions: { kubernetes: "1.31", kubernetesPatch: "1.31.4", htcondor: "24.0.23", calico: "v3.29.1", monitoring: "66.3.1", cvmfsCsi: "2.5.0", cvmfsService: "2.12.6-1" },
    iam: { issuer: "https://iam.cloud.infn.it/", audience: "incant.cloud.infn.it", kubernetesGroups: ["incant-admins"] },
    s3: { endpoint: "https://rgw.cloud.infn.it", bucket: "incant-dev-archive", region: "us-east-1", credentials: "static", iamClientId: "incant-storage", stsRoleArn: "arn:aws:iam:::role/IAMaccess" },
    registry: { server: "harbor.cloud.infn.it", project: "incant", username: "robot$incant+pulumi" },
    images: {
        worker: "harbor.cloud.infn.it/incant/atlas-worker:24.0.22-1", scheduler: "harbor.cloud.infn.it/incant/atlas-scheduler:24.0.22-1",
        centralManager: "htcondor/cm:24.0.22-el9", submit: "harbor.cloud.infn.it/incant/atlas-submit:24.0.22-1",
    },
    users: [{ name: "atlasuser1", uid: 20001, iamSubject: "5d2b0a6e-0000-4000-8000-000000000001" }],
    htcondor: { trustDomain: "incant.cloud.infn.it" },
    cvmfs: { repositories: ["atlas.cern.ch", "sft.cern.ch"], httpProxy: "DIRECT" },
    jupyterhub: {
        enabled: true, iamClientId: "incant-dev-jupyterhub", image: "quay.io/jupyterhub/k8s-singleuser-sample:4.4.0",
        lcgView: "/cvmfs/sft.cern.ch/lcg/views/LCG_107/x86_64-el9-gcc13-opt",
    },
};

type Path = (string | number)[];

/** Every path of FULL whose value is a string: the keys this test attacks. */
function stringPaths(value: unknown, at: Path = []): Path[] {
    if (typeof value === "string") return [at];
    if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...at, i]));
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...at, k]));
    return [];
}

const keyOf = (p: Path) => p.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");

function withValue(raw: RawConfig, p: Path, value: unknown): RawConfig {
    const copy = structuredClone(raw) as Record<string | number, unknown>;
    let node = copy;
    for (const step of p.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
    node[p[p.length - 1]] = value;
    return copy as RawConfig;
}

function valueAt(obj: unknown, p: Path): unknown {
    return p.reduce<unknown>((node, step) => (node as Record<string | number, unknown> | undefined)?.[step], obj);
}

/** Fragments that mean something in one of the languages config strings land in. */
const HOSTILE = [
    "$(", "FULL_HOSTNAME)", "$(DOLLAR)", "${HOME}", "$", ",", ", ANY", " ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u0085", "\u2028", "\u2029",
    "\u0000", "\u202e", "\ufeff", "'", "\"", "`", "\\", "#", ";", "|", "&", "%n", "%%", "=", ":", ": ", "- ", "---", "{", "}", "[", "]", "*",
    "!", "?", ">", "<", "@", "+", "(rw,no_root_squash)", "/", "..", "\\\n", "^", ".*", "use ROLE:Execute", "@=end", "ANY", "-----BEGIN",
    "a", "incant", "1", "é", "😀", "\u00a0", "x".repeat(300),
];
const hostileString = fc.oneof(
    fc.array(fc.constantFrom(...HOSTILE), { minLength: 1, maxLength: 6 }).map((parts) => parts.join("")),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 20 }),
);

const LINE_BREAKS = /[\n\r\u0085\u2028\u2029\v\f]/;

describe("hostile strings in every string key (#13 item 11)", () => {
    const paths = stringPaths(FULL);

    it("FULL is a valid stack and reaches every string key", () => {
        validateConfig(FULL, { stack: "dev", secretKeys: SECRETS });
        assert.ok(paths.length >= 45, `${paths.length} string keys`);
    });

    it("refuses with the key named, or accepts the value unchanged; never a stack trace", () => {
        fc.assert(fc.property(fc.constantFrom(...paths), hostileString, (p, value) => {
            const key = keyOf(p);
            let config;
            try {
                config = validateConfig(withValue(FULL, p, value), { stack: "dev", secretKeys: SECRETS });
            } catch (e) {
                if (!(e instanceof ConfigValidationError)) throw new Error(`${key}: not a validation error: ${String(e)}`);
                assert.ok(e.problems.some((m) => m.startsWith(`incant:${key} `) || m.startsWith(`incant:${key}[`)),
                    `${key} ${JSON.stringify(value)} refused without naming it:\n${e.problems.join("\n")}`);
                for (const m of e.problems) {
                    assert.ok(!LINE_BREAKS.test(m), `a message spans lines: ${JSON.stringify(m)}`);
                    if (looksSecret(value)) assert.ok(!m.includes(value), `secret-looking value echoed: ${m}`);
                }
                return;
            }
            assert.equal(valueAt(config, p), value, `${key} accepted but changed`);
            assert.ok(!LINE_BREAKS.test(value) && !/[\u0000-\u001f\u007f-\u009f]/.test(value), `${key} accepted ${JSON.stringify(value)}`);
        }), { numRuns: 600 });
    });

    it("refuses hostile key names (unknown keys, flavor names) in one line naming where they are", () => {
        const objects: Path[] = [[], ["nodes"], ["nodes", "workers"], ["iam"], ["s3"], ["users", 0], ["network"], ["flavors"]];
        fc.assert(fc.property(fc.constantFrom(...objects), hostileString, (p, key) => {
            const raw = { ...structuredClone(FULL), flavors: structuredClone(DEFAULTS.flavors) } as Record<string, unknown>;
            const target = (p.length ? valueAt(raw, p) ?? (raw[p[0]] = {}) : raw) as Record<string, unknown>;
            if (key in target) return;
            target[key] = p[0] === "flavors" ? { vcpus: 1, ramGb: 1 } : 1;
            try {
                const config = validateConfig(raw as RawConfig, { stack: "dev", secretKeys: SECRETS });
                assert.ok(p[0] === "flavors" && key in config.flavors, `${keyOf(p)}.${JSON.stringify(key)} accepted`);
                assert.ok(!LINE_BREAKS.test(key), "a flavor name with a line break accepted");
            } catch (e) {
                if (!(e instanceof ConfigValidationError)) throw new Error(`not a validation error: ${String(e)}`);
                const prefix = p.length ? `incant:${keyOf(p)}.` : "incant:";
                assert.ok(e.problems.some((m) => m.startsWith(prefix)), `${JSON.stringify(key)} under ${keyOf(p)}:\n${e.problems.join("\n")}`);
                for (const m of e.problems) assert.ok(!LINE_BREAKS.test(m), `a message spans lines: ${JSON.stringify(m)}`);
            }
        }), { numRuns: 300 });
    });
});

// --- Confinement: accepted values through the real program ------------------------------------

/** Values the grammars accept, using every special character they allow. */
const chars = (set: string) => fc.constantFrom(...set.split(""));
const word = (set: string, min: number, max: number) => fc.string({ unit: chars(set), minLength: min, maxLength: max });
const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const label = word("abcdefghijklmnopqrstuvwxyz0123456789", 1, 10);
const dnsName = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join("."));

const tameValues = {
    audience: "incant.cloud.infn.it", issuerPath: "", trustDomain: "incant.cloud.infn.it", subject: "5d2b0a6e-0000-4000-8000-000000000001",
    userName: "atlasuser1", group: "incant-admins", registryUser: "robot-incant", bucket: "incant-dev-archive", sshComment: "ops",
    proxy: "DIRECT", region: "us-east-1",
};
type Values = typeof tameValues;

const hostileValues: fc.Arbitrary<Values> = fc.record({
    audience: word(`${ALNUM}._:/-`, 1, 40).filter((a) => a.toUpperCase() !== "ANY" && !looksSecret(a)),
    issuerPath: word(`${ALNUM}._~/-`, 0, 30).filter((s) => !looksSecret(s)),
    trustDomain: dnsName,
    subject: word(`${ALNUM}._@+:=-`, 1, 40).filter((s) => !looksSecret(s)),
    userName: fc.tuple(chars("abcdefghijklmnopqrstuvwxyz_"), word("abcdefghijklmnopqrstuvwxyz0123456789_-", 0, 20))
        .map(([a, b]) => a + b).filter((n) => !isReservedAccount(n)),
    group: word(`${ALNUM}._/@+-`, 1, 30).filter((s) => !looksSecret(s)),
    registryUser: word(`${ALNUM}._@$+-`, 1, 30).filter((s) => !looksSecret(s)),
    bucket: fc.tuple(label, word("abcdefghijklmnopqrstuvwxyz0123456789.-", 1, 20), label).map(([a, b, c]) => `${a}${b}${c}`.slice(0, 63))
        .filter((b) => b.length >= 3 && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b)),
    sshComment: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }).map((s) => s.trim() || "x"),
    proxy: fc.array(fc.oneof(fc.constant("DIRECT"), fc.tuple(dnsName, fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `http://${h}:${p}`)), { minLength: 1, maxLength: 3 })
        .chain((parts) => fc.array(fc.constantFrom("|", ";"), { minLength: parts.length - 1, maxLength: parts.length - 1 })
            .map((seps) => parts.map((p, i) => (i ? seps[i - 1] : "") + p).join(""))),
    region: word(`${ALNUM}_-`, 1, 20),
});

function stackFor(v: Values): RawConfig {
    const raw = structuredClone(FULL) as Record<string, Record<string, unknown>>;
    raw.iam = { ...raw.iam, audience: v.audience, issuer: `https://iam.example.org/${v.issuerPath}${v.issuerPath.endsWith("/") || !v.issuerPath ? "" : "/"}`, kubernetesGroups: [v.group] };
    raw.htcondor = { trustDomain: v.trustDomain };
    raw.users = [{ name: v.userName, uid: 20001, iamSubject: v.subject }] as unknown as Record<string, unknown>;
    raw.registry = { ...raw.registry, username: v.registryUser };
    raw.s3 = { ...raw.s3, bucket: v.bucket, region: v.region };
    raw.cvmfs = { ...raw.cvmfs, httpProxy: v.proxy };
    (raw as RawConfig).sshPublicKey = `${SSH_KEY.split(" ").slice(0, 2).join(" ")} ${v.sshComment}`;
    // The program reads the stack file's keys: openstack.applicationCredentialId needs a real secret flow.
    delete (raw.openstack as Record<string, unknown>).applicationCredentialId;
    delete (raw.openstack as Record<string, unknown>).authUrl;
    return raw as RawConfig;
}

async function render(v: Values): Promise<Files> {
    const raw = stackFor(v);
    validateConfig(raw, { stack: "dev", secretKeys: SECRETS });
    const run = await runProgram("dev", raw);
    const files: Files = Object.assign({}, ...EXTRACTORS.map((e) => e(run)));
    // A file named after a value: compare it under a stable name.
    return Object.fromEntries(Object.entries(files).map(([p, text]) => [p.replace(`incant-iam-${groupSlug(v.group)}`, "incant-iam-GROUP"), text]));
}

/** Key paths of a parsed YAML document (list indices kept: lists must keep their length). */
function yamlShape(value: unknown, at = ""): string[] {
    if (Array.isArray(value)) return [`${at}[]${value.length}`, ...value.flatMap((v, i) => yamlShape(v, `${at}[${i}]`))];
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [`${at}.${k}`, ...yamlShape(v, `${at}.${k}`)]);
    return [`${at}:${typeof value}`];
}

/** Structures compared as sets of paths, the differences named. */
function sameShape(name: string, actual: string[], expected: string[]): void {
    const extra = actual.filter((x) => !expected.includes(x));
    const missing = expected.filter((x) => !actual.includes(x));
    assert.deepEqual({ extra, missing }, { extra: [], missing: [] }, `${name}: structure differs from the tame render`);
}

/** Our reader of the HTCondor config subset renderCondorConfig writes: KEY = value, use, include, comments. */
function parseCondorConfig(text: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const line of text.split("\n")) {
        if (/^\s*(#.*)?$/.test(line)) continue;
        const use = /^(use|include ifexist :)\s+(\S+)$/i.exec(line);
        if (use) {
            out.set(`${use[1]} ${use[2]}`, "");
            continue;
        }
        const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s?(.*)$/.exec(line);
        if (!m) throw new Error(`not an HTCondor config line: ${JSON.stringify(line)}`);
        assert.ok(!m[2].endsWith("\\"), `continuation line: ${line}`);
        out.set(m[1], m[2]);
    }
    return out;
}

/** HTCondor's own reading of a config file (expanded values), when HTCONDOR_HOME is set. */
function condorConfigVal(text: string, keys: string[]): Map<string, string> | undefined {
    const home = process.env.HTCONDOR_HOME;
    const tool = home && path.join(home, "bin", "condor_config_val");
    if (!tool || !fs.existsSync(tool)) return undefined;
    const file = tempFile("condor_config", `RELEASE_DIR = ${home}\nLOCAL_DIR = ${path.dirname(tempFile("x", ""))}\n${text}`);
    const r = spawnSync(tool, keys, { env: { ...process.env, CONDOR_CONFIG: file }, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, `condor_config_val: ${r.stderr}`);
    const values = r.stdout.split("\n").slice(0, keys.length);
    return new Map(keys.map((k, i) => [k, values[i]]));
}

/** An env file as sh reads it (`set -a; . file`), by bash itself. */
function readEnvFile(text: string): Record<string, string> {
    const file = tempFile("x.env", text);
    const r = spawnSync("bash", ["-c", "set -a; . \"$1\"; env -0", "_", file], { env: {}, encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, `bash: ${r.stderr}`);
    const env = Object.fromEntries(r.stdout.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    for (const k of ["PWD", "SHLVL", "_", "OLDPWD"]) delete env[k];
    return env;
}

describe("accepted values stay in their place in every artifact (#13 item 11)", () => {
    let baseline: Files;
    before(async () => {
        baseline = await render(tameValues);
    });

    it("renders hostile-but-valid values with the same structure, read back by each file's parser", async function () {
        this.timeout(300_000);
        let htcondorChecked = 0;
        await fc.assert(fc.asyncProperty(hostileValues, async (v) => {
            const files = await render(v);
            assert.deepEqual(Object.keys(files).sort(), Object.keys(baseline).sort(), "the same files");
            for (const [name, text] of Object.entries(files)) {
                const base = baseline[name];
                if (name.endsWith(".yaml")) {
                    sameShape(name, yamlShape(YAML.parse(text)), yamlShape(YAML.parse(base)));
                } else if (name.endsWith(".conf") && name.startsWith("htcondor/") || name.endsWith("50-incant-pool.conf")) {
                    const parsed = parseCondorConfig(text);
                    // Fair share names one key per user's accounting group (group_<login, - as _>).
                    const keysOf = (conf: Map<string, string>, user: string) =>
                        [...conf.keys()].map((k) => k.replace(`group_${user.replace(/-/g, "_")}`, "group_USER"));
                    assert.deepEqual(keysOf(parsed, v.userName), keysOf(parseCondorConfig(base), tameValues.userName), `${name}: HTCondor keys`);
                    // HTCondor reads both as lists (split at commas and white space) after expanding $(...).
                    const asList = (x: string | undefined) => (x ?? "").split(/[,\s]+/).filter(Boolean);
                    for (const [k, want] of [["SCITOKENS_SERVER_AUDIENCE", v.audience], ["TRUST_DOMAIN", v.trustDomain]] as const) {
                        if (!parsed.has(k)) continue;
                        assert.deepEqual(asList(parsed.get(k)), [want], `${name}: ${k} is one token`);
                        assert.ok(!parsed.get(k)!.includes("$("), `${name}: ${k} holds a macro`);
                    }
                    // The users' part (htcondor/users/*.conf) has neither: nothing to ask condor_config_val.
                    const asked = ["TRUST_DOMAIN", "SCITOKENS_SERVER_AUDIENCE"].filter((k) => parsed.has(k));
                    const condor = asked.length ? condorConfigVal(text, asked) : undefined;
                    if (condor) {
                        htcondorChecked++;
                        for (const [k, value] of condor) assert.equal(value, parsed.get(k), `${name}: condor_config_val ${k}`);
                    }
                } else if (name === "htcondor/mapfile") {
                    const lines = text.trim().split("\n");
                    assert.equal(lines.length, baseline[name].trim().split("\n").length);
                    const line = lines.find((l) => l.endsWith(` ${v.userName}@${v.trustDomain}`));
                    assert.ok(line, `no map line for the user:\n${text}`);
                    const fields = line!.split(" ");
                    assert.equal(fields.length, 3, line);
                    const issuer = `https://iam.example.org/${v.issuerPath}${v.issuerPath.endsWith("/") || !v.issuerPath ? "" : "/"}`;
                    assert.ok(new RegExp(fields[1]).test(`${issuer},${v.subject}`), `the map line matches the user's token: ${line}`);
                    assert.ok(!new RegExp(fields[1]).test(`${issuer},${v.subject}x`), `the map line matches only that subject: ${line}`);
                } else if (/\.(service|mount|timer)$|\.service\.d\//.test(name)) {
                    assert.deepEqual(Object.keys(parseIni(text)), Object.keys(parseIni(base)), `${name}: unit sections`);
                    for (const [section, keys] of Object.entries(parseIni(text))) {
                        assert.deepEqual(Object.keys(keys), Object.keys(parseIni(base)[section]), `${name} [${section}]`);
                    }
                } else if (name.endsWith(".env")) {
                    const env = readEnvFile(text);
                    assert.deepEqual(Object.keys(env).sort(), Object.keys(readEnvFile(base)).sort(), `${name}: variables`);
                    if ("FACILITY_USERS" in env) assert.equal(env.FACILITY_USERS, `${v.userName}:20001:100:100`);
                } else if (name.endsWith(".exports")) {
                    const fields = (t: string) => t.split("\n").map((l) => l.trim().split(/\s+/).length);
                    assert.deepEqual(fields(text), fields(base), `${name}: export fields`);
                } else if (name.endsWith(".pem")) {
                    // Certificates carry names, so their length varies: read one back instead.
                    assert.doesNotThrow(() => new crypto.X509Certificate(text), `${name}: a certificate`);
                } else {
                    assert.equal(text.split("\n").length, base.split("\n").length, `${name}: line count`);
                }
            }
            // Where the values must land, whole.
            const csi = YAML.parse(files["kubernetes/helm/htcondor-cvmfs-csi.yaml"]) as { values: { extraConfigMaps: Record<string, Record<string, string>> } };
            const defaultLocal = readEnvFile(csi.values.extraConfigMaps["cvmfs-csi-default-local"]["default.local"]);
            assert.equal(defaultLocal.CVMFS_HTTP_PROXY, v.proxy, "default.local as sh reads it");
            const cloudInit = YAML.parse(files["cloud-init/incant-dev-submit.yaml"]) as { users?: { ssh_authorized_keys?: string[] }[]; ssh_authorized_keys?: string[] };
            const keys = [...(cloudInit.ssh_authorized_keys ?? []), ...(cloudInit.users ?? []).flatMap((u) => u.ssh_authorized_keys ?? [])];
            assert.ok(keys.some((k) => k.endsWith(` ${v.sshComment}`)), `the SSH key with its comment: ${JSON.stringify(keys)}`);
        }), { numRuns: 8 });
        if (process.env.HTCONDOR_HOME) assert.ok(htcondorChecked > 0, "condor_config_val read the configs");
    });
});
