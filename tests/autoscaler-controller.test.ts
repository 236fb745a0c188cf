/**
 * The controller's cycle (components/autoscaler/controller.ts) against a recording backend and
 * canned condor_status answers: what it calls, in which order, what it reports, and that a failure
 * changes nothing further. (The same code against real HTCondor: tests/pool/autoscale.test.ts.)
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Controller, WorkerBackend, WorkerPod } from "../components/autoscaler/controller";
import { AutoscalingPolicy } from "../components/autoscaler/decide";
import { METRIC_NAMES, renderMetrics } from "../components/autoscaler/metrics";
import { prometheusRule } from "../components/autoscaler/manifests";
import { requireTool } from "./harness/tools";
import { stringify } from "yaml";

const POLICY: AutoscalingPolicy = { enabled: true, min: 1, max: 4, scaleUpCooldownSeconds: 0, scaleDownCooldownSeconds: 0, idleSeconds: 0 };
const slot = (machine: string, free: number, drain = false) => ({ Machine: machine, Name: `slot1@${machine}`, SlotType: "Partitionable", Cpus: free, TotalSlotCpus: 3, Memory: 1000 * free, TotalSlotMemory: 3000, State: "Unclaimed", IncantDrain: drain });
const dyn = (machine: string, i: number) => ({ Machine: machine, Name: `slot1_${i}@${machine}`, SlotType: "Dynamic", Cpus: 1, Memory: 1000, State: "Claimed" });

class Recorder implements WorkerBackend {
    calls: string[] = [];
    fail?: string;
    constructor(public pods: WorkerPod[], public replicas = pods.length) {}
    async list() { return { pods: this.pods, replicas: this.replicas }; }
    async setDrain(pod: string, drain: boolean) { this.calls.push(`${drain ? "drain" : "undrain"} ${pod}`); }
    async scaleIn(remove: string[], replicas: number) {
        if (this.fail) throw new Error(this.fail);
        this.calls.push(`scaleIn ${remove.join(",")} -> ${replicas}`);
    }
    async scaleOut(replicas: number) { this.calls.push(`scaleOut ${replicas}`); }
    async event(type: string, reason: string) { this.calls.push(`event ${type} ${reason}`); }
}

const controller = (backend: Recorder, slots: object[], submitters: object[], policy = POLICY) => new Controller({
    policy, workerShape: { cpus: 3, memoryMb: 3000 }, quotaWorkers: 7, backend, clock: () => 1_000,
    condorStatus: async (args) => (args.includes("-schedd") ? "" : JSON.stringify(args.includes("-submitters") ? submitters : slots)),
});

describe("autoscaler controller cycle", () => {
    it("scales out for idle jobs: one scale call and an Event, metrics updated", async () => {
        const b = new Recorder([{ name: "w0", drainAnnotated: false }]);
        const c = controller(b, [slot("w0", 0), dyn("w0", 1), dyn("w0", 2), dyn("w0", 3)], [{ Name: "u@d", IdleJobs: 7, WeightedIdleJobs: 7 }]);
        const d = await c.cycle();
        assert.equal(d?.desired, 4);
        assert.deepEqual(b.calls, ["scaleOut 4", "event Normal ScaledOut"]);
        assert.deepEqual([c.metrics.workers, c.metrics.busyWorkers, c.metrics.idleJobs, c.metrics.idleCpus, c.metrics.scaleOuts], [1, 1, 7, 7, 1]);
    });

    it("removes only a pod that is annotated and whose startd advertises the drain; a pod annotated but not yet advertising waits", async () => {
        const pods = [{ name: "w0", nodeIndex: 0, drainAnnotated: false }, { name: "w1", nodeIndex: 1, drainAnnotated: true }, { name: "w2", nodeIndex: 2, drainAnnotated: true }];
        const b = new Recorder(pods);
        // w0 busy; w1 annotated and advertising; w2 annotated, its startd not yet advertising.
        await controller(b, [slot("w0", 2), dyn("w0", 1), slot("w1", 3, true), slot("w2", 3, false)], []).cycle();
        assert.deepEqual(b.calls, ["scaleIn w1 -> 2", "event Normal ScaledIn"]);
        // An advertised drain without the annotation (someone removed it) is not ours: kept.
        const b2 = new Recorder([{ name: "w0", nodeIndex: 0, drainAnnotated: false }, { name: "w1", nodeIndex: 1, drainAnnotated: false }]);
        await controller(b2, [slot("w0", 2), dyn("w0", 1), slot("w1", 3, true)], [], { ...POLICY, idleSeconds: 3600 }).cycle();
        assert.deepEqual(b2.calls, []);
    });

    it("undrains before it drains, and reports each", async () => {
        // w1 is ours and draining; jobs came back that need it: undrain w1, no new worker.
        const b = new Recorder([{ name: "w0", nodeIndex: 0, drainAnnotated: false }, { name: "w1", nodeIndex: 1, drainAnnotated: true }]);
        await controller(b, [slot("w0", 0), dyn("w0", 1), dyn("w0", 2), dyn("w0", 3), slot("w1", 3, true)], [{ Name: "u@d", IdleJobs: 2, WeightedIdleJobs: 2 }]).cycle();
        assert.deepEqual(b.calls, ["undrain w1", "event Normal DrainCancelled"]);
    });

    it("a failed action ends the cycle: counted, a Warning Event, nothing after it", async () => {
        const b = new Recorder([{ name: "w0", drainAnnotated: false }, { name: "w1", nodeIndex: 1, drainAnnotated: true }]);
        b.fail = "scale-in held: w0 is not scheduled, running and ready";
        const c = controller(b, [slot("w0", 3), slot("w1", 3, true)], []);
        assert.equal(await c.cycle(), undefined);
        assert.deepEqual(b.calls, ["event Warning AutoscalerError"]);
        assert.equal(c.metrics.cycleErrors, 1);
        // condor_status failing (collector down): the same.
        const c2 = new Controller({ policy: POLICY, workerShape: { cpus: 3, memoryMb: 3000 }, quotaWorkers: 7, backend: b, condorStatus: async () => { throw new Error("CEDAR:6001"); } });
        assert.equal(await c2.cycle(), undefined);
        assert.equal(c2.metrics.cycleErrors, 1);
    });

    it("kill switch: no call but the cancellation of its own drains", async () => {
        const b = new Recorder([{ name: "w0", drainAnnotated: false }, { name: "w1", drainAnnotated: true }]);
        await controller(b, [slot("w0", 0), dyn("w0", 1), dyn("w0", 2), dyn("w0", 3), slot("w1", 3, true)], [{ Name: "u@d", IdleJobs: 50 }], { ...POLICY, enabled: false }).cycle();
        assert.deepEqual(b.calls, ["undrain w1", "event Normal DrainCancelled"]);
    });

    it("its metrics and alert rules pass Prometheus's own checker (promtool)", function () {
        requireTool(this, "promtool");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-promtool-"));
        try {
            const c = controller(new Recorder([]), [], []);
            const m = spawnSync("promtool", ["check", "metrics"], { input: renderMetrics(c.metrics), encoding: "utf8" });
            assert.equal(m.status, 0, m.stdout + m.stderr);
            assert.equal(renderMetrics(c.metrics).split("\n").filter((l) => l && !l.startsWith("#")).length, METRIC_NAMES.length);
            const rule = prometheusRule("htcondor", "kube-prometheus-stack");
            fs.writeFileSync(path.join(dir, "rules.yaml"), stringify(rule.spec));
            const r = spawnSync("promtool", ["check", "rules", path.join(dir, "rules.yaml")], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /SUCCESS: 4 rules found/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
