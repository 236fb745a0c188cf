/**
 * The VM count rules of docs/elasticity.md (components/autoscaler/vms.ts): tables and properties.
 */
import { strict as assert } from "assert";
import * as fc from "fast-check";
import { planVms } from "../components/autoscaler/vms";

describe("autoscaler: worker VM count (vms.ts)", () => {
    it("tables", () => {
        const base = { quotaWorkers: 7, keep: 2 };
        assert.deepEqual(planVms({ ...base, replicas: 5, vms: 3, busyIndexes: [0, 1, 2] }), { count: 5, drain: [], reason: "5 worker pods wanted: 3 -> 5 VMs" });
        assert.equal(planVms({ ...base, replicas: 12, vms: 3, busyIndexes: [0, 1, 2] }).count, 7, "capped by the quota");
        assert.deepEqual(planVms({ ...base, replicas: 2, vms: 5, busyIndexes: [0, 1] }), { count: 2, drain: [2, 3, 4], reason: "5 -> 2 VMs (worker pods wanted: 2)" });
        assert.deepEqual(planVms({ ...base, replicas: 2, vms: 5, busyIndexes: [0, 1, 3] }), { count: 4, drain: [4], reason: "5 -> 4 VMs (worker pods wanted: 2)" }, "VM 3 runs a pod: only VM 4 goes");
        assert.deepEqual(planVms({ ...base, replicas: 1, vms: 5, busyIndexes: [0, 4] }).count, 5, "VM 4 runs a pod: none goes");
        assert.equal(planVms({ ...base, replicas: 0, vms: 3, busyIndexes: [] }).count, 2, "workers 0 and 1 stay");
    });

    it("properties: within [keep, quota] unless already outside, never removes a VM with a worker pod, drains exactly what goes", () => {
        fc.assert(fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 2, max: 20 }), fc.array(fc.integer({ min: 0, max: 19 })),
            (replicas, vms, quotaWorkers, busy) => {
                const p = planVms({ replicas, vms, quotaWorkers, keep: 2, busyIndexes: busy });
                if (p.count > vms) assert.ok(p.count <= quotaWorkers);
                if (p.count < vms) {
                    assert.ok(p.count >= Math.min(quotaWorkers, 2));
                    for (let i = p.count; i < vms; i++) assert.ok(!busy.includes(i), `VM ${i} with a pod removed`);
                }
                assert.deepEqual(p.drain, p.count < vms ? Array.from({ length: vms - p.count }, (_, i) => p.count + i) : []);
            }), { numRuns: 3000 });
    });
});
