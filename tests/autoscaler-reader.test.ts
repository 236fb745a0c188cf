/**
 * What the autoscaler reads (components/autoscaler/pool-reader.ts, kube.ts), from answers shaped
 * as HTCondor 24.0.23's condor_status -json printed them on the loopback pool
 * (tests/pool/autoscale.test.ts) and as the API server lists pods.
 */
import { strict as assert } from "assert";
import { idleJobsFromSubmitters, parseAds, startdsByMachine, STARTD_QUERY } from "../components/autoscaler/pool-reader";
import { nodeIndexOf, scaleInHazard, workerPods } from "../components/autoscaler/kube";

// condor_status -json -attributes ... on the loopback pool: one partitionable slot per worker pod,
// a dynamic slot per claim; plus what `-startd` would have returned (the daemon's ad, no slot).
const SLOTS = JSON.stringify([
    { Activity: "Idle", Cpus: 1, IncantDrain: false, Machine: "htcondor-worker-0", Memory: 3072, Name: "slot1@htcondor-worker-0", SlotType: "Partitionable", State: "Unclaimed", TotalSlotCpus: 3, TotalSlotMemory: 5120 },
    { Activity: "Busy", Cpus: 1, IncantDrain: false, Machine: "htcondor-worker-0", Memory: 1024, Name: "slot1_1@htcondor-worker-0", SlotType: "Dynamic", State: "Claimed" },
    { Activity: "Busy", Cpus: 1, IncantDrain: false, Machine: "htcondor-worker-0", Memory: 1024, Name: "slot1_2@htcondor-worker-0", SlotType: "Dynamic", State: "Claimed" },
    { Activity: "Idle", Cpus: 3, IncantDrain: true, Machine: "htcondor-worker-1", Memory: 5120, Name: "slot1@htcondor-worker-1", SlotType: "Partitionable", State: "Unclaimed", TotalSlotCpus: 3, TotalSlotMemory: 5120 },
    { Activity: "Idle", Cpus: 3, IncantDrain: false, Machine: "htcondor-worker-2.htcondor.svc", Memory: 5120, Name: "slot1@htcondor-worker-2", SlotType: "Partitionable", State: "Drained", TotalSlotCpus: 3, TotalSlotMemory: 5120 },
    { IncantDrain: false, Machine: "htcondor-worker-3", Name: "htcondor-worker-3" },
], null, 1);

describe("autoscaler: reading the pool", () => {
    it("asks for slot ads (not -startd, whose daemon ads have no slot) with the drain attribute", () => {
        assert.ok(!STARTD_QUERY.includes("-startd"));
        assert.match(STARTD_QUERY.join(" "), /-json -attributes .*SlotType.*IncantDrain/);
    });

    it("folds slot ads into one state per worker: size, free room, claims, our drain, others' drain; daemon ads ignored", () => {
        const s = startdsByMachine(parseAds(SLOTS));
        assert.deepEqual(Object.fromEntries(s), {
            "htcondor-worker-0": { cpus: 3, memoryMb: 5120, freeCpus: 1, freeMemoryMb: 3072, claimedSlots: 2, drainingByUs: false, drainingByOthers: false },
            "htcondor-worker-1": { cpus: 3, memoryMb: 5120, freeCpus: 3, freeMemoryMb: 5120, claimedSlots: 0, drainingByUs: true, drainingByOthers: false },
            "htcondor-worker-2": { cpus: 3, memoryMb: 5120, freeCpus: 3, freeMemoryMb: 5120, claimedSlots: 0, drainingByUs: false, drainingByOthers: true },
        });
    });

    it("parses an empty answer as no ads and refuses anything but a list of ads", () => {
        assert.deepEqual(parseAds("\n"), []);
        assert.throws(() => parseAds("{\"a\": 1}"), /list of ads/);
        assert.throws(() => parseAds("[1, 2]"), /list of ads/);
        assert.throws(() => parseAds("Error: communication error"));
    });

    it("spreads a submitter's WeightedIdleJobs over its IdleJobs in whole CPUs, memory per core of the worker", () => {
        const jobs = idleJobsFromSubmitters([
            { Name: "atlasuser1@incant.cloud.infn.it", IdleJobs: 5, WeightedIdleJobs: 8, RunningJobs: 1 },
            { Name: "atlasuser2@incant.cloud.infn.it", IdleJobs: 0, WeightedIdleJobs: 0 },
            { Name: "atlasuser3@incant.cloud.infn.it", IdleJobs: 2 },
        ], { cpus: 4, memoryMb: 8000 });
        assert.deepEqual(jobs.map((j) => [j.cpus, j.memoryMb]), [[2, 4000], [2, 4000], [2, 4000], [1, 2000], [1, 2000], [1, 2000], [1, 2000]]);
        assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
    });

    it("bounds the submitters' idle jobs by the schedds' own TotalIdleJobs (a submitter's ad lingers after its jobs ran)", () => {
        const submitters = [{ Name: "group_atlasuser1.atlasuser1@incant.cloud.infn.it", IdleJobs: 2, WeightedIdleJobs: 2, RunningJobs: 4 }];
        const shape = { cpus: 3, memoryMb: 5120 };
        assert.deepEqual(idleJobsFromSubmitters(submitters, shape, [{ Name: "schedd@incant.cloud.infn.it", TotalIdleJobs: 0 }]), []);
        assert.equal(idleJobsFromSubmitters(submitters, shape, [{ Name: "schedd@incant.cloud.infn.it", TotalIdleJobs: 1 }]).length, 1);
        // No schedd ad (the schedd down, or not yet advertised): the submitter ads as they are.
        assert.equal(idleJobsFromSubmitters(submitters, shape, []).length, 2);
    });

    it("reads pods: terminating ones left out, VM index from the node name, the drain annotation", () => {
        const pod = (name: string, o: { node?: string; drain?: string; deleting?: boolean; ready?: boolean; phase?: string } = {}) => ({
            metadata: { name, ...(o.deleting ? { deletionTimestamp: "2026-11-27T00:00:00Z" } : {}), annotations: (o.drain ? { "incant.cloud.infn.it/drain": o.drain } : {}) as Record<string, string> },
            spec: { nodeName: o.node },
            status: { phase: o.phase ?? "Running", conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }] },
        });
        const items = [pod("a", { node: "incant-dev-worker-3", drain: "true" }), pod("b", { node: "incant-dev-worker-10" }), pod("c", { deleting: true }), pod("d", { node: "cp", drain: "false" })];
        assert.deepEqual(workerPods(items), [
            { name: "a", nodeIndex: 3, drainAnnotated: true }, { name: "b", nodeIndex: 10, drainAnnotated: false }, { name: "d", nodeIndex: undefined, drainAnnotated: false },
        ]);
        assert.equal(nodeIndexOf("incant-dev-control-plane-0"), undefined);
        // The ReplicaSet removes unscheduled, pending and unready pods before it looks at deletion costs.
        assert.equal(scaleInHazard(items.slice(0, 2), ["a"]), undefined);
        assert.match(scaleInHazard([...items.slice(0, 2), pod("e", { node: "incant-dev-worker-4", ready: false })], ["a"])!, /^e is not scheduled, running and ready/);
        assert.match(scaleInHazard([...items.slice(0, 2), pod("f", { phase: "Pending" })], ["a"])!, /^f /);
    });
});
