/**
 * HTCondor metrics on the loopback pool (issue 17, components/observability): the central manager's
 * and the scheduler's condor_master run the rendered exporter daemon (INCANT_EXPORTER); Prometheus'
 * view of it is an HTTP GET of <pod address>:9620/metrics. With atlasuser1's jobs running, the output
 * carries the slots, the startd, the CVMFS check, the negotiator, the queue by owner and the
 * submitter's usage; and every condor_* metric the dashboards and alerts query is in it (squid_*
 * ones are checked against a real squid in tests/cache.test.ts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CONDOR_METRICS_PORT, queriedMetrics } from "../../components/observability/metrics";
import { requireLoopbackPool } from "./install";
import { output, userSession } from "./journey";
import { LoopbackPool, setting } from "./pool";
import { ADDRESSES } from "./plans";


describe("HTCondor pool on loopback: metrics for Prometheus", function () {
    let pool: LoopbackPool;

    before(async function () {
        const install = requireLoopbackPool(this, ["curl", "python3"]);
        pool = await LoopbackPool.create(install);
        pool.start("central-manager", "scheduler", "worker", "submit");
        await pool.waitForSubmitUser("atlasuser1");
        await pool.waitFor("the schedd and the slot in the collector", () => {
            const ads = pool.pods["central-manager"].exec(["condor_status", "-any", "-af", "MyType"]).stdout;
            return /^Scheduler$/m.test(ads) && /^Machine$/m.test(ads);
        }, 90_000);
    });

    after(async function () {
        this.timeout(60_000);
        if (pool) await pool.stop();
    });

    /** One scrape of a pod's exporter, as Prometheus does it (HTTP GET /metrics). */
    const scrape = (role: "central-manager" | "scheduler") => {
        const r = pool.pods[role].exec(["curl", "-sf", "-m", "30", `http://${ADDRESSES[role]}:${CONDOR_METRICS_PORT}/metrics`]);
        return r.status === 0 ? r.stdout : "";
    };

    it("the masters run the exporters; with atlasuser1's jobs running, the scrapes show the pool, the queue and the user's usage", async () => {
        const u = userSession(pool, "atlasuser1");
        const dir = path.join(pool.volumes.home, "atlasuser1", "metrics");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "sleep.sub"), ["executable = /bin/sleep", "arguments = 120", "transfer_executable = false", "request_cpus = 1",
            "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES", "queue 5", ""].join("\n"));
        for (const f of ["", "sleep.sub"]) fs.chownSync(path.join(dir, f), u.uid, u.uid);
        const scheddName = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        const submit = u.run(["condor_submit", "-remote", scheddName, "sleep.sub"], { cwd: "/home/atlasuser1/metrics" });
        assert.equal(submit.status, 0, output(submit));
        const queue = await pool.waitFor("running jobs in the scheduler's metrics", () => /^condor_jobs\{owner="atlasuser1",status="running"\} [1-9]/m.test(scrape("scheduler")) ? scrape("scheduler") : undefined, 120_000);
        assert.match(queue, /^condor_up\{daemon="schedd"\} 1$/m);
        assert.match(queue, /^condor_jobs\{owner="atlasuser1",status="idle"\} [1-9]/m);
        assert.match(queue, /^condor_jobs_idle_oldest_seconds\{owner="atlasuser1"\} \d+$/m);
        // The submitter's usage and the claimed slots reach the collector in separate updates (schedd, startd): wait for both.
        const poolMetrics = await pool.waitFor("atlasuser1's usage and the claimed slots in the central manager's metrics", () => {
            const m = scrape("central-manager");
            return /^condor_submitter_resources_used\{submitter="group_atlasuser1\.atlasuser1@[^"]+"\} [1-9]/m.test(m)
                && /^condor_slot_cpus\{state="Claimed"\} [1-9]/m.test(m) ? m : undefined;
        }, 120_000);
        assert.match(poolMetrics, /^condor_startds 1$/m);
        assert.match(poolMetrics, /^condor_slot_cpus\{state="Claimed"\} [1-9]/m);
        assert.match(poolMetrics, /^condor_startd_has_cvmfs\{machine="htcondor-worker-0"\} 1$/m);
        assert.match(poolMetrics, /^condor_up\{daemon="negotiator"\} 1$/m);
        assert.match(poolMetrics, /^condor_negotiator_last_cycle_end_timestamp_seconds \d{10}$/m);
        assert.match(poolMetrics, /^# TYPE condor_submitter_cpu_seconds_total counter$/m);

        // What the dashboards and alerts query exists in what the exporters produce.
        const produced = new Set([...`${poolMetrics}\n${queue}`.matchAll(/^(condor_[a-z_]+)[{ ]/gm)].map((m) => m[1]));
        const missing = queriedMetrics().filter((n) => n.startsWith("condor_") && !produced.has(n));
        assert.deepEqual(missing, [], `queried but not produced: ${missing.join(", ")}\n${poolMetrics}\n${queue}`);
        u.run(["condor_rm", "-name", scheddName, "atlasuser1"]);
    });
});
