/** Configuration validation: every bad input stops the program with a message naming key and stack file. */
import { strict as assert } from "assert";
import { ConfigValidationError, RawConfig, validateConfig, htcondorAdvisoryProblem } from "../components/config/validate";
import { cidrsOverlap, parseCidr, rangeToCidrs } from "../components/config/cidr";
import { plannedVms, quotaProblems, quotaUse } from "../components/config/quota";
import { DEFAULTS } from "../components/config/defaults";
import { rawConfig } from "../components/config/load";
import { runProgram } from "./harness/program";
import { configProblems, GOOD_CONFIG, REQUIRED_SECRETS } from "./harness/config";
import { registeredBeforeFailure } from "../offline/engine";

const GOOD = GOOD_CONFIG;
const SECRETS = REQUIRED_SECRETS;
const problems = configProblems;

function expectProblem(raw: RawConfig, key: string, fragment: string, secretKeys = SECRETS): void {
    const found = problems(raw, secretKeys);
    const match = found.find((p) => p.startsWith(`incant:${key} `) && p.includes(fragment));
    assert.ok(match, `expected a problem for incant:${key} containing "${fragment}", got:\n${found.join("\n")}`);
    assert.ok(match!.endsWith("[Pulumi.dev.yaml]"), `message must name the stack file: ${match}`);
}

describe("config validation", () => {
    it("accepts a minimal stack file and fills the paper's defaults", () => {
        const c = validateConfig(GOOD, { stack: "dev", secretKeys: SECRETS });
        assert.equal(c.nodes.workers.count, 7);
        assert.equal(c.nodes.controlPlane.count, 1);
        assert.deepEqual(c.quota, { vcpus: 92, ramGb: 168, blockStorageGb: 1000 });
        assert.equal(c.namePrefix, "incant-dev");
        assert.deepEqual(c.network.userCidrs, ["192.0.2.0/24"], "userCidrs default to adminCidrs");
    });

    const cases: [string, RawConfig, string, string][] = [
        ["a count of zero", { nodes: { workers: { count: 0 } } }, "nodes.workers.count", "positive integer up to 10000 (got 0)"],
        ["a negative count", { nodes: { workers: { count: -3 } } }, "nodes.workers.count", "positive integer"],
        ["a count of the wrong type", { nodes: { workers: { count: "many" } } }, "nodes.workers.count", "must be an integer"],
        ["two control planes", { nodes: { controlPlane: { count: 2 } } }, "nodes.controlPlane.count", "1 or 3"],
        ["an unknown flavor", { nodes: { workers: { flavor: "huge" } } }, "nodes.workers.flavor", "unknown flavor \"huge\""],
        ["a bad CIDR", { network: { adminCidrs: ["192.0.2.0/24"], cidr: "10.0.0.300/24" } }, "network.cidr", "IPv4 CIDR"],
        ["host bits in a CIDR", { network: { adminCidrs: ["192.0.2.1/24"] } }, "network.adminCidrs[0]", "IPv4 CIDR"],
        ["admin access from anywhere", { network: { adminCidrs: ["0.0.0.0/0"] } }, "network.adminCidrs[0]", "(0.0.0.0/0) covers 4,294,967,296 addresses, half of the IPv4 internet"],
        ["no admin CIDR", { network: { adminCidrs: [] } }, "network.adminCidrs", "at least one"],
        ["overlapping pod and node networks", { network: { adminCidrs: ["192.0.2.0/24"], podCidr: "192.168.0.0/16" } }, "network.podCidr", "overlaps incant:network.cidr"],
        ["overlapping service and pod networks", { network: { adminCidrs: ["192.0.2.0/24"], serviceCidr: "10.244.128.0/20" } }, "network.serviceCidr", "overlaps incant:network.podCidr"],
        ["a subnet too small for the workers", { network: { adminCidrs: ["192.0.2.0/24"], cidr: "192.168.100.0/26" }, nodes: { workers: { count: 40 } } }, "network.cidr", "too few addresses"],
        ["a subnet too small for any worker", { network: { adminCidrs: ["192.0.2.0/24"], cidr: "192.168.100.0/29" } }, "network.cidr", "too few addresses"],
        ["a missing SSH key", { sshPublicKey: undefined }, "sshPublicKey", "is required"],
        ["a malformed SSH key", { sshPublicKey: "not a key" }, "sshPublicKey", "OpenSSH public key"],
        ["an unknown key", { nodez: {} }, "nodez", "not a known key"],
        ["a vulnerable HTCondor", { versions: { htcondor: "24.0.3" } }, "versions.htcondor", "HTCONDOR-2026-0001"],
        ["an unpinned image", { images: { worker: "htcondor/execute:latest" } }, "images.worker", "pinned tag"],
        ["a tagless image behind a registry port", { images: { worker: "harbor.example:5000/atlas/execute" } }, "images.worker", "pinned tag"],
        ["a minor the node setup does not know", { versions: { kubernetes: "1.36", kubernetesPatch: "1.36.4" } }, "versions.kubernetes", "containerd 2"],
        ["a negative home quota", { users: [{ name: "a", uid: 20001, iamSubject: "x", homeQuotaGb: -1 }] }, "users[0].homeQuotaGb", "between 0"],
        ["a fractional scratch quota", { nodes: { storage: { scratchQuotaGb: 1.5 } } }, "nodes.storage.scratchQuotaGb", "integer"],
        ["a patch outside the minor", { versions: { kubernetes: "1.31", kubernetesPatch: "1.30.2" } }, "versions.kubernetesPatch", "not inside"],
        ["duplicate user ids", { users: [{ name: "a", uid: 20001, iamSubject: "x" }, { name: "b", uid: 20001, iamSubject: "y" }] }, "users[1].uid", "duplicates"],
        ["a system uid", { users: [{ name: "a", uid: 0, iamSubject: "x" }] }, "users[0].uid", "between 2000 and 59999 (got 0)"],
        ["a zero share", { users: [{ name: "a", uid: 20001, iamSubject: "x", share: 0 }] }, "users[0].share", "a positive integer up to 100 (got 0)"],
        ["a user's private key for a public one", { users: [{ name: "a", uid: 20001, iamSubject: "x", sshPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" }] }, "users[0].sshPublicKey", "OpenSSH public key"],
        ["a user's key with a line end", { users: [{ name: "a", uid: 20001, iamSubject: "x", sshPublicKey: "ssh-ed25519 AAAA\ncommand=\"sh\" ssh-ed25519 AAAA" }] }, "users[0].sshPublicKey", ""],
        ["a negative claim worklife", { htcondor: { claimWorklifeSeconds: -1 } }, "htcondor.claimWorklifeSeconds", "between 0 and 86400 (got -1)"],
        ["an issuer without https", { iam: { issuer: "http://iam.example/" } }, "iam.issuer", "https://"],
        ["a CVMFS repository that is not a name", { cvmfs: { repositories: ["atlas.cern.ch", "/cvmfs/sft.cern.ch"] } }, "cvmfs.repositories[1]", "repository name"],
    ];
    for (const [what, patch, key, fragment] of cases) {
        it(`rejects ${what} (${key})`, () => expectProblem({ ...GOOD, ...patch }, key, fragment));
    }

    it("fits workers from .32 up to the broadcast address", () => {
        const cidrProblems = (count: number) => problems({ ...GOOD, network: { adminCidrs: ["192.0.2.0/24"], cidr: "192.168.100.0/26" }, nodes: { workers: { count } } })
            .filter((p) => p.startsWith("incant:network.cidr "));
        assert.deepEqual(cidrProblems(31), []);
        assert.equal(cidrProblems(32).length, 1);
    });

    it("accepts images pinned by tag or by digest (the policy pack's rule)", () => {
        const digest = `@sha256:${"a".repeat(64)}`;
        assert.deepEqual(problems({ ...GOOD, images: { worker: `harbor.example:5000/atlas/execute${digest}`, scheduler: `htcondor/cm:24.0.22${digest}`, submit: "htcondor/submit:24.0.22-el9" } }), []);
    });

    it("requires the S3 keys for static credentials, and only then", () => {
        expectProblem(GOOD, "s3AccessKeyId", "is required when s3.credentials is \"static\"", new Set());
        assert.deepEqual(problems({ ...GOOD, s3: { credentials: "sts", iamClientId: "incant-storage" } }, new Set(["s3IamClientSecret", "sshPrivateKey"])), []);
    });

    it("requires the IAM client and its secret for STS credentials", () => {
        expectProblem({ ...GOOD, s3: { credentials: "sts" } }, "s3.iamClientId", "is required when s3.credentials is \"sts\"", new Set());
        expectProblem({ ...GOOD, s3: { credentials: "sts", iamClientId: "c" } }, "s3IamClientSecret", "pulumi config set --secret incant:s3IamClientSecret", new Set());
        expectProblem({ ...GOOD, s3: { stsRoleArn: "IAMaccess" } }, "s3.stsRoleArn", "role ARN");
        const c = validateConfig(GOOD, { stack: "dev", secretKeys: SECRETS });
        assert.equal(c.s3.stsRoleArn, "arn:aws:iam:::role/IAMaccess");
    });

    it("requires the SSH private key the program reaches the submit host with", () => {
        expectProblem(GOOD, "sshPrivateKey", "pulumi config set --secret incant:sshPrivateKey", new Set(["s3AccessKeyId", "s3SecretAccessKey"]));
    });

    it("spells out the command that sets each secret, and the known keys", () => {
        const has = (found: string[], ...messages: string[]) => {
            for (const m of messages) assert.ok(found.includes(`${m} [Pulumi.dev.yaml]`), `expected:\n${m}\ngot:\n${found.join("\n")}`);
        };
        const set = (key: string) => `pulumi config set --secret incant:${key} --stack dev`;
        has(problems({ ...GOOD, sshPrivateKey: "x", openstack: { applicationCredentialId: "a" }, registry: { server: "r.example", username: "u" }, nodez: {} }, new Set()),
            `incant:sshPrivateKey must be set as a secret: ${set("sshPrivateKey")}`,
            `incant:sshPrivateKey is required: the program reaches the submit host over SSH with the private key of sshPublicKey (${set("sshPrivateKey")} < <key file>)`,
            `incant:osApplicationCredentialSecret is required when openstack.applicationCredentialId is set (${set("osApplicationCredentialSecret")})`,
            `incant:s3AccessKeyId is required when s3.credentials is "static" (${set("s3AccessKeyId")})`,
            `incant:s3SecretAccessKey is required when s3.credentials is "static" (${set("s3SecretAccessKey")})`,
            `incant:registryPassword is required when registry.username is set (${set("registryPassword")})`,
            "incant:nodez is not a known key; did you mean nodes? (known: autoscaling, cache, cvmfs, environment, flavors, htcondor, iam, images, jupyterhub, jupyterhubIamClientSecret, namePrefix, network, nodes, openstack, " +
            "osApplicationCredentialSecret, quota, readinessTimeoutSeconds, registry, registryPassword, s3, s3AccessKeyId, s3IamClientSecret, " +
            "s3SecretAccessKey, sshPrivateKey, sshPublicKey, users, versions)");
        has(problems({ ...GOOD, s3: { credentials: "sts", iamClientId: "c" } }, new Set()),
            `incant:s3IamClientSecret is required when s3.credentials is "sts" (${set("s3IamClientSecret")})`);
    });

    it("rejects a secret set in clear (s3SecretAccessKey)", () => {
        expectProblem({ ...GOOD, s3SecretAccessKey: "AKIA..." }, "s3SecretAccessKey", "must be set as a secret", new Set(["s3AccessKeyId"]));
    });

    it("lists every problem at once, one message each", () => {
        const found = problems({ ...GOOD, nodes: { workers: { count: 0, flavor: "huge" } }, network: { adminCidrs: ["bad"] } });
        assert.ok(found.length >= 3, found.join("\n"));
        assert.ok(found.every((p) => /^incant:\S+ /.test(p)), found.join("\n"));
    });

    it("never prints a secret value", () => {
        const secret = "SUPER-SECRET-VALUE-123";
        const found = problems({ ...GOOD, s3SecretAccessKey: secret }, new Set(["s3AccessKeyId"]));
        assert.ok(found.length > 0);
        assert.ok(found.every((p) => !p.includes(secret)), found.join("\n"));
    });
});

describe("quota check", () => {
    it("fits the paper's 10 VMs in the Table 1 pool", () => {
        const c = validateConfig(GOOD, { stack: "dev", secretKeys: SECRETS });
        const vms = plannedVms(c);
        assert.equal(vms.length, 10);
        assert.deepEqual(quotaUse(vms), { vcpus: 38, ramGb: 76, blockStorageGb: 980 });
        assert.deepEqual(quotaProblems(c), []);
    });

    it("counts every VM and the data volume, and names the quota key on overrun", () => {
        const c = { ...DEFAULTS, namePrefix: "t" };
        const bigger = { ...c, nodes: { ...c.nodes, storage: { ...c.nodes.storage, dataVolumeGb: 100 + 21 } } };
        assert.deepEqual(quotaProblems(bigger), ["quota.blockStorageGb is exceeded: the VMs and volumes need 1001 GB of block storage but the pool has 1000"]);
        const cpus = { ...c, nodes: { ...c.nodes, workers: { ...c.nodes.workers, count: 21 } } };
        assert.ok(quotaProblems(cpus).some((p) => p.startsWith("quota.vcpus is exceeded: the VMs and volumes need 94 vCPU")));
        assert.ok(quotaProblems(cpus).some((p) => p.startsWith("quota.ramGb")));
    });

    it("reports an overrun through validation with the stack file", () => {
        expectProblem({ ...GOOD, nodes: { workers: { count: 30 } } }, "quota.vcpus", "is exceeded");
    });
});

describe("CIDR arithmetic", () => {
    it("detects overlap exactly at the edges", () => {
        assert.ok(cidrsOverlap(parseCidr("10.0.0.0/24")!, parseCidr("10.0.0.255/32")!));
        assert.ok(!cidrsOverlap(parseCidr("10.0.0.0/24")!, parseCidr("10.0.1.0/24")!));
    });
    it("covers an address range with the fewest blocks", () => {
        assert.deepEqual(rangeToCidrs("192.168.100.32", 7), ["192.168.100.32/30", "192.168.100.36/31", "192.168.100.38/32"]);
        assert.deepEqual(rangeToCidrs("192.168.100.32", 32), ["192.168.100.32/27"]);
        assert.deepEqual(rangeToCidrs("10.0.0.255", 2), ["10.0.0.255/32", "10.0.1.0/32"]);
    });
});

describe("HTCondor advisories", () => {
    it("accepts fixed versions and rejects affected ones", () => {
        assert.equal(htcondorAdvisoryProblem("24.0.23"), undefined);
        assert.equal(htcondorAdvisoryProblem("25.13.3"), undefined);
        // Fixed for the advisory, but the pool's FS authentication behind a NodePort needs 24.0.23.
        assert.match(htcondorAdvisoryProblem("24.0.22")!, /HTCONDOR-3860 .*use 24\.0\.23 or later/);
        assert.match(htcondorAdvisoryProblem("25.12.0")!, /HTCONDOR-2026-0002/);
        assert.match(htcondorAdvisoryProblem("23.10.1")!, /HTCONDOR-2026-0001/);
    });
});

describe("raw config from the engine's map", () => {
    it("parses objects and lists, keeps scalars and bad JSON as text, hides secrets, skips other namespaces", () => {
        const { raw, secretKeys } = rawConfig({
            "incant:nodes": ' {"workers":{"count":3}}', "incant:users": "[]", "incant:namePrefix": "x",
            "incant:network": "{not json", "incant:sshPrivateKey": "-----BEGIN", "aws:region": "{}",
        }, (k) => k === "incant:sshPrivateKey");
        assert.deepEqual(raw, {
            nodes: { workers: { count: 3 } }, users: [], namePrefix: "x", network: "{not json", sshPrivateKey: true,
        });
        assert.deepEqual([...secretKeys], ["sshPrivateKey"]);
    });
});

describe("the program on bad config", () => {
    it("fails before registering any resource", async () => {
        let caught: unknown;
        try {
            await runProgram("dev", { nodes: { workers: { count: 0 } } });
        } catch (e) {
            caught = e;
        }
        assert.ok(caught instanceof Error, "the program must throw");
        assert.deepEqual(registeredBeforeFailure(caught)?.map((r) => r.type), [], "no resource may be registered");
        assert.match((caught as Error).message, /incant:nodes\.workers\.count must be a positive integer up to 10000 \(got 0\) \[Pulumi\.dev\.yaml\]/);
    });
});

describe("stack names from `pulumi stack init` (the default environment and namePrefix come from them)", () => {
    const forStack = (stack: string, raw: RawConfig = GOOD): string[] => {
        try {
            validateConfig(raw, { stack, secretKeys: SECRETS });
            return [];
        } catch (e) {
            assert.ok(e instanceof ConfigValidationError, String(e));
            return e.problems;
        }
    };

    it("refuses a stack name that would make an invalid default, without echoing it", () => {
        for (const stack of ["My_Stack", "Bad Name;$(id)", "a-stack-name-far-too-long-for-dns"]) {
            const found = forStack(stack);
            for (const key of ["environment", "namePrefix"]) {
                assert.ok(found.some((p) => p.startsWith(`incant:${key} is not set, and its default from the stack name is not a valid name`)), `${stack}: ${found.join("\n")}`);
            }
            // Only as part of the stack file's name, which every message ends with.
            assert.ok(found.every((p) => !p.replace(` [Pulumi.${stack}.yaml]`, "").includes(stack)), "the stack name is not echoed");
        }
    });

    it("accepts such a stack when both names are set explicitly, and any valid stack name", () => {
        assert.deepEqual(forStack("My_Stack", { ...GOOD, environment: "lab", namePrefix: "incant-lab" }), []);
        assert.deepEqual(forStack("staging-2"), []);
    });
});
