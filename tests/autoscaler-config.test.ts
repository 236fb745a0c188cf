/**
 * `incant:autoscaling` (components/config) and the quota's worker cap (components/config/quota.ts).
 */
import { strict as assert } from "assert";
import { RawConfig, validateConfig } from "../components/config/validate";
import { configProblems, GOOD_CONFIG, REQUIRED_SECRETS } from "./harness/config";
import { quotaWorkers } from "../components/config/quota";
import { quotaProblems } from "../components/config/quota";

const GOOD = GOOD_CONFIG;
const SECRETS = REQUIRED_SECRETS;
const problems = (raw: RawConfig): string[] => configProblems(raw);

describe("incant:autoscaling", () => {
    it("defaults: off (the kill switch), min 1, max = the worker VMs the quota allows, whatever nodes.workers.count is", () => {
        const c = validateConfig(GOOD, { stack: "dev", secretKeys: SECRETS });
        assert.deepEqual(c.autoscaling, { enabled: false, min: 1, max: 7, scaleUpCooldownSeconds: 60, scaleDownCooldownSeconds: 300, idleSeconds: 600, intervalSeconds: 30 });
        const more = validateConfig({ ...GOOD, nodes: { workers: { count: 3 } } }, { stack: "dev", secretKeys: SECRETS });
        assert.equal(more.autoscaling.max, 7, "dev's quota binds at 7 workers: a count change leaves the autoscaler's settings alone");
    });

    it("refuses max above the worker VMs, min above max, unknown keys and wrong types, naming the key and the stack file", () => {
        assert.deepEqual(problems({ ...GOOD, autoscaling: { max: 8 } }),
            ["incant:autoscaling.max must be at most 7, the worker VMs incant:quota allows beside the other VMs (one worker pod per worker VM) (got 8) [Pulumi.dev.yaml]"]);
        // Above the VMs there are now, within the quota: pods for the VM runner to place.
        assert.deepEqual(problems({ ...GOOD, nodes: { workers: { count: 3 } }, autoscaling: { max: 7 } }), []);
        assert.deepEqual(problems({ ...GOOD, autoscaling: { min: 5, max: 4 } }),
            ["incant:autoscaling.min must be at most autoscaling.max (4) (got 5) [Pulumi.dev.yaml]"]);
        const p = problems({ ...GOOD, autoscaling: { enabled: "yes", cooldown: 5, intervalSeconds: 1 } });
        assert.equal(p.length, 3, p.join("\n"));
        assert.ok(p.some((x) => x.startsWith("incant:autoscaling.enabled ")), p.join("\n"));
        assert.ok(p.some((x) => x.includes("cooldown")), p.join("\n"));
        assert.ok(p.some((x) => x.startsWith("incant:autoscaling.intervalSeconds ")), p.join("\n"));
    });

    it("quotaWorkers: the worker VMs the quota leaves beside the other VMs (dev: RAM binds at 18 of 4 vCPU / 8 GB)", () => {
        const c = validateConfig(GOOD, { stack: "dev", secretKeys: SECRETS });
        // Table 1: 92 vCPU, 168 GB, 1000 GB; others: control plane 4/8/100, storage 2/4/30+100, submit 4/8/50.
        // vCPU (92-10)/4 = 20, RAM (168-20)/8 = 18, disk (1000-280)/100 = 7.
        assert.equal(quotaWorkers(c), 7);
        const roomy = { ...c, quota: { ...c.quota, blockStorageGb: 5000 } };
        assert.equal(quotaWorkers(roomy), 18);
        // The cap is exact: one more worker VM overruns the quota, that many does not.
        const at = (n: number) => quotaProblems({ ...roomy, nodes: { ...roomy.nodes, workers: { ...roomy.nodes.workers, count: n } } });
        assert.deepEqual(at(18), []);
        assert.equal(at(19).length, 1);
    });
});
