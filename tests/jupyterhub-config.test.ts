/** `incant:jupyterhub`: defaults, what enabling it requires, and the values it refuses. */
import { strict as assert } from "assert";
import { ConfigValidationError, RawConfig, validateConfig } from "../components/config/validate";
import { DEFAULTS } from "../components/config/defaults";

const BASE: RawConfig = {
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICMHfMeNXSjdokUYxpyuIWE069qGQiqhM4/MygGDNztg ops",
    network: { adminCidrs: ["192.0.2.0/24"] },
};
const SECRETS = new Set(["s3AccessKeyId", "s3SecretAccessKey", "sshPrivateKey", "jupyterhubIamClientSecret"]);
const ON = { enabled: true, iamClientId: "incant-dev-jupyterhub" };

function problems(raw: RawConfig, secretKeys: Set<string> = SECRETS): string[] {
    try {
        validateConfig({ ...BASE, ...raw }, { stack: "dev", secretKeys });
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigValidationError, String(e));
        return e.problems;
    }
}

function expectProblem(raw: RawConfig, key: string, fragment: string, secretKeys?: Set<string>): void {
    const found = problems(raw, secretKeys);
    const match = found.find((p) => p.startsWith(`incant:${key} `) && p.includes(fragment));
    assert.ok(match, `expected a problem for incant:${key} containing "${fragment}", got:\n${found.join("\n")}`);
    assert.ok(match.endsWith("[Pulumi.dev.yaml]"), match);
}

describe("incant:jupyterhub", () => {
    it("is off by default and then needs no client", () => {
        const c = validateConfig(BASE, { stack: "dev", secretKeys: new Set(["s3AccessKeyId", "s3SecretAccessKey", "sshPrivateKey"]) });
        assert.equal(c.jupyterhub.enabled, false);
        assert.deepEqual({ ...c.jupyterhub, iamClientId: undefined }, { ...DEFAULTS.jupyterhub, iamClientId: undefined });
    });

    it("accepts an enabled hub with its client and secret, keeping the given values", () => {
        const c = validateConfig({ ...BASE, jupyterhub: { ...ON, nodePort: 31443, cpuLimit: 4, memoryLimitGb: 3 } }, { stack: "dev", secretKeys: SECRETS });
        assert.equal(c.jupyterhub.enabled, true);
        assert.equal(c.jupyterhub.iamClientId, "incant-dev-jupyterhub");
        assert.deepEqual([c.jupyterhub.nodePort, c.jupyterhub.cpuLimit, c.jupyterhub.memoryLimitGb], [31443, 4, 3]);
    });

    it("accepts an LCG view set in the stack file (a path the looks-like-a-token check would refuse)", () => {
        const view = "/cvmfs/sft.cern.ch/lcg/views/LCG_106b/x86_64-el9-gcc13-opt";
        const c = validateConfig({ ...BASE, jupyterhub: { ...ON, lcgView: view } }, { stack: "dev", secretKeys: SECRETS });
        assert.equal(c.jupyterhub.lcgView, view);
    });

    const cases: [string, RawConfig, string, string, Set<string>?][] = [
        ["enabled without a client", { jupyterhub: { enabled: true } }, "jupyterhub.iamClientId", "is required when jupyterhub.enabled"],
        ["enabled without the client secret", { jupyterhub: ON }, "jupyterhubIamClientSecret", "pulumi config set --secret incant:jupyterhubIamClientSecret",
            new Set(["s3AccessKeyId", "s3SecretAccessKey", "sshPrivateKey"])],
        ["the secret in plain text", { jupyterhub: ON, jupyterhubIamClientSecret: "abc" }, "jupyterhubIamClientSecret", "must be set as a secret",
            new Set(["s3AccessKeyId", "s3SecretAccessKey", "sshPrivateKey"])],
        ["a port outside the NodePort range", { jupyterhub: { ...ON, nodePort: 443 } }, "jupyterhub.nodePort", "between 30000 and 32767"],
        ["the collector's port", { jupyterhub: { ...ON, nodePort: 30618 } }, "jupyterhub.nodePort", "must differ from htcondor.collectorPort"],
        ["an unpinned image", { jupyterhub: { ...ON, image: "quay.io/jupyter/base-notebook:latest" } }, "jupyterhub.image", "pinned tag"],
        ["an image without a tag", { jupyterhub: { ...ON, image: "quay.io/jupyter/base-notebook" } }, "jupyterhub.image", "pinned tag"],
        ["a view outside sft.cern.ch", { jupyterhub: { ...ON, lcgView: "/cvmfs/atlas.cern.ch/repo/x/y" } }, "jupyterhub.lcgView", "LCG view"],
        ["a view with shell in it", { jupyterhub: { ...ON, lcgView: "/cvmfs/sft.cern.ch/lcg/views/LCG_107/x;rm -rf ~" } }, "jupyterhub.lcgView", "LCG view"],
        ["no sft.cern.ch repository", { jupyterhub: ON, cvmfs: { repositories: ["atlas.cern.ch"] } }, "jupyterhub.enabled", "needs sft.cern.ch"],
        ["zero memory", { jupyterhub: { ...ON, memoryLimitGb: 0 } }, "jupyterhub.memoryLimitGb", "positive integer"],
        ["culling every minute", { jupyterhub: { ...ON, cullIdleSeconds: 60 } }, "jupyterhub.cullIdleSeconds", "between 300"],
        ["an unknown key", { jupyterhub: { ...ON, adminUsers: ["x"] } }, "jupyterhub.adminUsers", "not a known key"],
        ["a bad client id", { jupyterhub: { ...ON, iamClientId: "a b" } }, "jupyterhub.iamClientId", "client id"],
    ];
    for (const [what, raw, key, fragment, secrets] of cases) {
        it(`refuses ${what}`, () => expectProblem(raw, key, fragment, secrets));
    }
});
