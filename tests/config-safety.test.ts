/**
 * Configuration safety (issue #13, items 4-10): strict keys and numbers, every problem at once,
 * CIDR openness by address count, per-language grammars, reserved accounts and uids, slug
 * collisions, platform limits, and messages that never print a key or token.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { LIST_LIMITS, OBJECT_KEYS, RawConfig, validateConfig } from "../components/config/validate";
import { configProblems, GOOD_CONFIG, REQUIRED_SECRETS } from "./harness/config";
import { NOVA_USER_DATA_LIMIT } from "../components/compute/cloudinit";
import { runProgram } from "./harness/program";
import { RESERVED_ACCOUNT_NAMES } from "../components/config/accounts";
import { CONFIGMAP_RESERVE, KUBERNETES_OBJECT_LIMIT, poolConfigMapBytes } from "../components/config/limits";
import { cidrUnionSize, parseCidr } from "../components/config/cidr";
import { unsafeTextProblem } from "../components/config/grammar";
import { readStack } from "../offline/stackfile";
import { rawConfig } from "../components/config/load";

const ROOT = path.resolve(__dirname, "..");
const GOOD = GOOD_CONFIG;
const SECRETS = REQUIRED_SECRETS;
const problems = (raw: RawConfig): string[] => configProblems(raw);

/** The one problem naming `key`, which must contain each fragment. */
function problemFor(raw: RawConfig, key: string, ...fragments: string[]): string {
    const found = problems(raw);
    const match = found.find((p) => p.startsWith(`incant:${key} `) && fragments.every((f) => p.includes(f)));
    assert.ok(match, `expected a problem for incant:${key} containing ${JSON.stringify(fragments)}, got:\n${found.join("\n")}`);
    return match!;
}

const user = (name: string, uid: number, sub = `sub-${name}`) => ({ name, uid, iamSubject: sub });

describe("strict configuration (#13 item 4)", () => {
    it("refuses unknown keys inside objects, with the nearest known key", () => {
        assert.equal(problemFor({ ...GOOD, nodes: { wrokers: { count: 3 } } }, "nodes.wrokers"),
            "incant:nodes.wrokers is not a known key; did you mean nodes.workers? (known: controlPlane, storage, submit, workers) [Pulumi.dev.yaml]");
        problemFor({ ...GOOD, nodes: { workers: { cuont: 3 } } }, "nodes.workers.cuont", "did you mean nodes.workers.count?");
        problemFor({ ...GOOD, s3: { exportReadWirte: true } }, "s3.exportReadWirte", "did you mean s3.exportReadWrite?");
        problemFor({ ...GOOD, users: [{ ...user("alice", 20001), uidd: 3 }] }, "users[0].uidd", "did you mean users[0].uid?");
        problemFor({ ...GOOD, flavors: { big: { vcpus: 2, ramGb: 4, disk: 3 } } }, "flavors.big.disk", "not a known key");
        problemFor({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], allowWideCidrs: { reasn: "x" } } }, "network.allowWideCidrs.reasn", "did you mean network.allowWideCidrs.reason?");
    });

    it("quotes an unknown key that is not an identifier, so it cannot break the message", () => {
        const p = problemFor({ ...GOOD, nodes: { "a\nb": 1 } }, "nodes.\"a\\nb\"", "not a known key");
        assert.ok(!p.includes("\n"), p);
    });

    it("refuses numbers that are not finite integers, and null that would hide them", () => {
        problemFor({ ...GOOD, nodes: { workers: { count: Infinity } } }, "nodes.workers.count", "must be a finite integer (got Infinity)");
        problemFor({ ...GOOD, nodes: { workers: { count: 3.5 } } }, "nodes.workers.count", "must be an integer (got 3.5)");
        problemFor({ ...GOOD, nodes: { workers: { count: "1e400" } } }, "nodes.workers.count", "must be an integer");
        // What `count: .inf` or `count: 1e400` becomes once the engine carries it as JSON.
        const viaJson = JSON.parse(JSON.stringify({ count: YAML.parse("count: .inf").count })) as Record<string, unknown>;
        assert.equal(viaJson.count, null);
        problemFor({ ...GOOD, nodes: { workers: viaJson } }, "nodes.workers.count", "is empty (null)", ".inf");
        problemFor({ ...GOOD, nodes: { workers: { count: YAML.parse("1e400") } } }, "nodes.workers.count", "finite");
    });

    it("reports every problem at once, the quota overrun included", () => {
        const found = problems({ ...GOOD, nodes: { workers: { count: 60 }, wrokers: {} }, network: { adminCidrs: ["bad"] } });
        for (const key of ["nodes.wrokers", "network.adminCidrs[0]", "quota.vcpus"]) {
            assert.ok(found.some((p) => p.startsWith(`incant:${key} `)), `no problem for ${key}:\n${found.join("\n")}`);
        }
    });

    it("never claims a uid clash between two refused uids", () => {
        const found = problems({ ...GOOD, users: [user("alice", 0), user("bob", 5)] });
        assert.ok(!found.some((p) => p.includes("duplicates")), found.join("\n"));
        assert.equal(problemFor({ ...GOOD, users: [user("alice", 20001), user("bob", 20001)] }, "users[1].uid"),
            "incant:users[1].uid duplicates users[0].uid (20001) [Pulumi.dev.yaml]");
    });

    it("declares in Pulumi.yaml exactly the keys validation knows, object by object", () => {
        const declared = (YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { description: string }> }).config;
        const topLevel = OBJECT_KEYS[""].filter((k) => k in declared);
        assert.deepEqual(topLevel, [...OBJECT_KEYS[""]], "every top-level key is declared");
        // Each structured key's description lists its keys in braces, like "{cidr, dnsServers, ...}".
        for (const key of ["openstack", "network", "quota", "versions", "iam", "s3", "registry", "images", "htcondor", "cvmfs"] as const) {
            const listed = /\{([^{}]*)\}/.exec(declared[key].description)![1].split(",").map((k) => k.trim().replace(/:.*$/, ""));
            assert.deepEqual([...listed].sort(), [...OBJECT_KEYS[key]].sort(), `Pulumi.yaml's ${key} description`);
        }
    });
});

describe("CIDR openness by address count (#13 item 5)", () => {
    it("refuses two halves of the internet, even with the override", () => {
        const halves = ["0.0.0.0/1", "128.0.0.0/1"];
        problemFor({ ...GOOD, network: { adminCidrs: halves } }, "network.adminCidrs[0]", "half of the IPv4 internet");
        problemFor({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], userCidrs: ["0.0.0.0/2", "64.0.0.0/2"], allowWideCidrs: { reason: "the whole internet, really, for a demo" } } },
            "network.userCidrs", "together cover 2,147,483,648 addresses, half of the IPv4 internet");
    });

    it("refuses an entry wider than a /15 and lists over 2^20 addresses, unless a reason is given", () => {
        const wide = { ...GOOD, network: { adminCidrs: ["10.0.0.0/8"] } };
        problemFor(wide, "network.adminCidrs[0]", "(10.0.0.0/8) is wider than a /15 (16,777,216 addresses, the limit is 131,072)", "allowWideCidrs");
        const many = Array.from({ length: 9 }, (_, i) => `${100 + i * 2}.0.0.0/15`);
        problemFor({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], userCidrs: many } }, "network.userCidrs", "together cover 1,179,648 addresses, over the 1,048,576 allowed");
        const reason = { reason: "INFN's whole 10/8 VPN pool: operators connect from any of it" };
        assert.deepEqual(problems({ ...wide, network: { ...wide.network, allowWideCidrs: reason } }), []);
        problemFor({ ...wide, network: { ...wide.network, allowWideCidrs: { reason: "because" } } }, "network.allowWideCidrs.reason", "at least 20 characters");
    });

    it("accepts the stacks' own networks (a /16 and CERN's /15)", () => {
        for (const stack of ["dev", "prod"]) {
            const { raw } = rawConfig(readStack(stack).config, (k) => readStack(stack).secretKeys.includes(k));
            const cidrProblems = problems(raw).filter((p) => p.includes("Cidrs"));
            assert.deepEqual(cidrProblems, [], stack);
        }
    });

    it("keeps the facility's own ranges private and off the submit host's docker0", () => {
        const withNetwork = (network: Record<string, string>) => ({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], ...network } });
        problemFor(withNetwork({ cidr: "8.8.8.0/24" }), "network.cidr", "(8.8.8.0/24) is not a private range", "RFC 1918");
        problemFor(withNetwork({ podCidr: "100.0.0.0/16" }), "network.podCidr", "is not a private range");
        problemFor(withNetwork({ serviceCidr: "192.0.0.0/12" }), "network.serviceCidr", "is not a private range");
        problemFor(withNetwork({ cidr: "172.17.4.0/24" }), "network.cidr", "overlaps 172.17.0.0/16", "docker0");
        for (const cidr of ["10.10.0.0/24", "172.20.0.0/22", "192.168.7.0/24", "100.64.8.0/24"]) {
            assert.deepEqual(problems(withNetwork({ cidr })), [], cidr);
        }
    });

    it("counts overlapping entries once", () => {
        assert.equal(cidrUnionSize(["10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24"].map((c) => parseCidr(c)!)), 512);
        assert.equal(cidrUnionSize(["0.0.0.0/1", "128.0.0.0/1"].map((c) => parseCidr(c)!)), 2 ** 32);
    });
});

describe("strings checked for the languages they land in (#13 item 6)", () => {
    it("refuses a multi-token or macro audience for HTCondor, and ANY", () => {
        problemFor({ ...GOOD, iam: { audience: "incant, ANY, $(FULL_HOSTNAME)" } }, "iam.audience", "must be one audience", "expands $(...)");
        problemFor({ ...GOOD, iam: { audience: "any" } }, "iam.audience", "not ANY");
        assert.deepEqual(problems({ ...GOOD, iam: { audience: "https://incant.cloud.infn.it" } }), []);
    });

    it("refuses every line end and line separator, in every string key, naming the key", () => {
        for (const ch of ["\n", "\r", "\v", "\f", "\u0085", "\u2028", "\u2029", "\u0000", "\u202e"]) {
            const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
            problemFor({ ...GOOD, s3: { bucket: `a${ch}b` } }, "s3.bucket", `U+${code}`);
            problemFor({ ...GOOD, openstack: { image: `ubuntu${ch}22.04` } }, "openstack.image", `U+${code}`);
            problemFor({ ...GOOD, users: [user("alice", 20001, `x${ch}y`)] }, "users[0].iamSubject", `U+${code}`);
            assert.ok(unsafeTextProblem(`x${ch}`));
        }
    });

    it("refuses shell, HTCondor, systemd and URL syntax where it would be read as such", () => {
        assert.deepEqual(problems({ ...GOOD, cvmfs: { httpProxy: "http://a.example:3128|http://b.example:3128;DIRECT" } }), []);
        problemFor({ ...GOOD, cvmfs: { httpProxy: "DIRECT; rm -rf /" } }, "cvmfs.httpProxy", "DIRECT or http://host:port proxies");
        problemFor({ ...GOOD, cvmfs: { httpProxy: "http://$(id):3128" } }, "cvmfs.httpProxy", "DIRECT or http://host:port proxies");
        problemFor({ ...GOOD, iam: { issuer: "https://iam.example/$(id)/" } }, "iam.issuer", "https:// URL");
        problemFor({ ...GOOD, iam: { issuer: "https://iam.example/a,b/" } }, "iam.issuer", "https:// URL");
        problemFor({ ...GOOD, s3: { region: "us-east-1%n" } }, "s3.region", "region name");
        problemFor({ ...GOOD, s3: { credentials: "sts", iamClientId: "c'; id #" } }, "s3.iamClientId", "client id");
        problemFor({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], dnsServers: ["1.1.1.1 8.8.8.8"] } }, "network.dnsServers[0]", "IPv4 address");
        problemFor({ ...GOOD, htcondor: { trustDomain: "a".repeat(64) + ".example" } }, "htcondor.trustDomain", "DNS name");
        problemFor({ ...GOOD, images: { worker: "harbor.example/x:1.0 --privileged" } }, "images.worker", "image reference");
        problemFor({ ...GOOD, sshPublicKey: `${GOOD.sshPublicKey as string}\u2028ssh-rsa AAAA evil` }, "sshPublicKey", "U+2028");
    });
});

describe("user accounts (#13 item 7)", () => {
    it("refuses every account the VMs or the images already have", () => {
        for (const name of ["daemon", "ubuntu", "sshd", "condor", "submituser", "slot1", "slot1_7", "_chrony", "rpcuser", "prometheus", "jovyan"]) {
            problemFor({ ...GOOD, users: [user(name, 20001)] }, "users[0].name", "already have", "accounts.ts");
        }
        assert.ok(RESERVED_ACCOUNT_NAMES.length > 40);
        assert.deepEqual(problems({ ...GOOD, users: [user("atlasuser1", 20001)] }), []);
    });

    it("keeps uids to 2000-59999 (the images' first accounts take 1000-1063, Debian reserves 60000 up)", () => {
        problemFor({ ...GOOD, users: [user("alice", 1000)] }, "users[0].uid", "between 2000 and 59999 (got 1000)");
        problemFor({ ...GOOD, users: [user("alice", 65534)] }, "users[0].uid", "between 2000 and 59999 (got 65534)");
        assert.deepEqual(problems({ ...GOOD, users: [user("alice", 2000), user("bob", 59999)] }), []);
    });
});

describe("names that collide after slugging (#13 item 8)", () => {
    it("refuses two IAM groups that become one ClusterRoleBinding name", () => {
        // The pair: "a,b" is not a group name at all (grammar), "a.b" then stands alone.
        assert.deepEqual(problems({ ...GOOD, iam: { kubernetesGroups: ["a,b", "a.b"] } }).map((p) => p.split(" ")[0]), ["incant:iam.kubernetesGroups[0]"]);
        assert.equal(problemFor({ ...GOOD, iam: { kubernetesGroups: ["a_b", "a.b"] } }, "iam.kubernetesGroups[1]"),
            "incant:iam.kubernetesGroups[1] (\"a.b\") and iam.kubernetesGroups[0] (\"a_b\") both become the resource name incant-iam-a-b: keep one of them [Pulumi.dev.yaml]");
        problemFor({ ...GOOD, iam: { kubernetesGroups: ["Admins", "admins"] } }, "iam.kubernetesGroups[1]", "incant-iam-admins");
    });
});

describe("platform limits (#13 item 9)", () => {
    const users = (n: number) => Array.from({ length: n }, (_, i) => user(`u${i}`, 2000 + i, `5d2b0a6e-0000-4000-8000-${String(i).padStart(12, "0")}`));

    it("refuses users that would make a pool ConfigMap exceed 1 MiB, with the number", () => {
        const p = problemFor({ ...GOOD, users: users(12_000) }, "users", "ConfigMap would hold", "1 MiB, 1,048,576 bytes");
        assert.match(p, /htcondor-users ConfigMap would hold [\d,]+ bytes/);
        assert.ok(!problems({ ...GOOD, users: users(500) }).some((q) => q.includes("ConfigMap")));
    });

    it("measures the ConfigMap with the pool's renderers, and pre-exec.sh fits the reserve", () => {
        const c = validateConfig({ ...GOOD, users: users(100) }, { stack: "dev", secretKeys: SECRETS });
        const small = poolConfigMapBytes(c).users;
        const big = poolConfigMapBytes({ ...c, users: users(1000) }).users;
        assert.ok(big > small * 5, `${small} -> ${big}`);
        const preExec = fs.statSync(path.join(ROOT, "components/htcondor/pre-exec.sh")).size;
        assert.ok(preExec < CONFIGMAP_RESERVE - 4096, `pre-exec.sh is ${preExec} bytes`);
        assert.equal(KUBERNETES_OBJECT_LIMIT, 1048576);
    });

    it("refuses a trust domain that makes the pool's network name longer than a DNS name", () => {
        const td = Array.from({ length: 4 }, () => "a".repeat(62)).join(".");
        problemFor({ ...GOOD, htcondor: { trustDomain: td } }, "htcondor.trustDomain", "PRIVATE_NETWORK_NAME 265 characters long, over the 253");
    });

    it("refuses lists longer than the user-data and objects are sized for", () => {
        const repos = Array.from({ length: 33 }, (_, i) => `r${i}.cern.ch`);
        problemFor({ ...GOOD, cvmfs: { repositories: repos } }, "cvmfs.repositories", "lists 33 entries, over the 32 allowed");
        problemFor({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], dnsServers: ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"] } }, "network.dnsServers", "over the 5 allowed");
        problemFor({ ...GOOD, s3: { bucket: "b".repeat(64) } }, "s3.bucket", "64 characters long, over the 63 allowed");
    });
});

describe("messages never print a key or token (#13 item 10)", () => {
    const PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
    const JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYTEifQ.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl";

    it("says a private key is in sshPublicKey without printing it", () => {
        const p = problemFor({ ...GOOD, sshPublicKey: PRIVATE }, "sshPublicKey", "holds a private key");
        assert.ok(!p.includes("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ") && !p.includes("BEGIN"), p);
    });

    it("refuses and never echoes a token-like value, whatever key it was pasted into", () => {
        const found = problems({
            ...GOOD, iam: { audience: JWT, issuer: `https://${"A".repeat(50)}/` }, s3: { region: "AKIAIOSFODNN7EXAMPLE1" },
            registry: { project: "ghp_abcdefghijklmnopqrstuvwxyz0123456789" }, cvmfs: { httpProxy: PRIVATE },
        });
        for (const key of ["iam.audience", "s3.region", "registry.project", "cvmfs.httpProxy"]) {
            assert.ok(found.some((p) => p.startsWith(`incant:${key} `)), `${key}:\n${found.join("\n")}`);
        }
        assert.ok(found.some((p) => p.startsWith("incant:iam.audience holds a ") && p.includes("looks like a key or token (not shown): credentials go in secret keys")), found.join("\n"));
        // A digest-pinned image is not a secret.
        assert.deepEqual(problems({ ...GOOD, images: { worker: `harbor.example/a/b:1@sha256:${"0a".repeat(32)}` } }), []);
        for (const secret of [JWT.slice(0, 20), "AKIAIOSFODNN7EXAMPLE", "ghp_abcdefghij", "b3BlbnNzaC1rZXkt", "AAAAAAAAAAAAAAAAAAAA"]) {
            assert.ok(found.every((p) => !p.includes(secret)), `${secret} printed:\n${found.join("\n")}`);
        }
    });
});

describe("Nova user-data stays under its limit at every configured maximum (#13 item 9)", () => {
    it("renders every VM's user-data under 65535 bytes with each key at its longest, in incompressible text", async () => {
        // Pseudo-random (seeded) text from each grammar's alphabet: gzip cannot shrink it much.
        let seed = 0x9e3779b9;
        const rand = (alphabet: string, n: number) => Array.from({ length: n }, () => {
            // xorshift32: every bit varies, unlike a small LCG's low bits.
            seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
            return alphabet[seed % alphabet.length];
        }).join("");
        const lower = "abcdefghijklmnopqrstuvwxyz0123456789";
        const dnsName = (total: number) => Array.from({ length: Math.floor(total / 64) }, () => `${rand("abcdefghijklmnopqrstuvwxyz", 1)}${rand(lower, 62)}`).join(".");
        const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const raw: RawConfig = {
            sshPublicKey: `ssh-rsa ${rand(b64, 16_384 - 8 - 1 - 300)} ${rand("abcdefghijklmnopqrstuvwxyz !#%&()*+,-.:;<=>?@[]^_{|}~", 299)}`,
            network: { adminCidrs: ["192.0.2.0/24"], dnsServers: Array.from({ length: LIST_LIMITS.dnsServers }, (_, i) => `203.0.113.${100 + i}`) },
            iam: {
                issuer: `https://${dnsName(250)}/${rand(lower + "._~-", 1700)}/`,
                audience: rand(lower + "._:/-", 255),
                kubernetesGroups: Array.from({ length: LIST_LIMITS.kubernetesGroups }, () => rand(lower + "._/@+-", 128)),
            },
            htcondor: { trustDomain: dnsName(240) },
            cvmfs: { repositories: Array.from({ length: LIST_LIMITS.cvmfsRepositories }, () => dnsName(250)), httpProxy: `http://${dnsName(230)}:3128` },
            users: Array.from({ length: 200 }, (_, i) => ({ name: `u${rand(lower, 20)}`, uid: 2000 + i, iamSubject: rand(lower + "._@+:=-", 255) })),
            // The hub needs sft.cern.ch among the repositories above; it adds nothing to any user-data.
            jupyterhub: { enabled: false },
        };
        const c = validateConfig(raw, { stack: "dev", secretKeys: SECRETS });
        assert.equal(c.sshPublicKey.length, 16_383);
        const run = await runProgram("dev", raw as Record<string, unknown>);
        const vms = run.resources.filter((r) => r.type === "openstack:compute/instance:Instance");
        assert.ok(vms.length >= 10);
        for (const vm of vms) {
            const size = String(vm.revealedInputs.userData).length;
            assert.ok(size <= NOVA_USER_DATA_LIMIT, `${String(vm.revealedInputs.name)}: ${size} bytes`);
        }
    });
});
