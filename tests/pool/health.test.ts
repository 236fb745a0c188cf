/**
 * Worker health on the loopback pool (issue #17, components/htcondor/health.ts): the startd runs the
 * rendered cron (cvmfs-health.sh from the worker's ConfigMap, as the condor user) against the
 * pool's stand-in /cvmfs tree; its ad shows HasCvmfs and the failed repositories, changing when a
 * repository's root goes empty (what a failed automount looks like) and when it comes back; START
 * refuses jobs meanwhile; the pod's probe script answers "live" throughout and "ready" only while
 * the worker can run jobs.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { CVMFS_CHECK_PERIOD_SECONDS, HEALTH_DIR, HEALTH_SCRIPTS } from "../../components/htcondor/health";
import { requireLoopbackPool } from "./install";
import { output } from "./journey";
import { LoopbackPool } from "./pool";
import { ADDRESSES } from "./plans";

/** One cron period, the startd's publication (If_Changed) and the collector's answer. */
const CHANGE_MS = (CVMFS_CHECK_PERIOD_SECONDS + 30) * 1000;

describe("HTCondor pool on loopback: worker health (startd cron, probes)", function () {
    let pool: LoopbackPool;

    before(async function () {
        const install = requireLoopbackPool(this);
        pool = await LoopbackPool.create(install);
        pool.start("central-manager", "worker");
    });

    after(async function () {
        this.timeout(60_000);
        if (pool) await pool.stop();
    });

    /** The worker's slot as the collector has it: HasCvmfs, the failed repositories, whether it would start a job. */
    const slot = () => {
        const r = pool.pods["central-manager"].exec(["condor_status", "-af", "HasCvmfs", "CvmfsFailedRepositories", "Start"]);
        return r.status === 0 ? r.stdout.trim() : "";
    };
    const probe = (mode: "live" | "ready") => pool.pods.worker.exec([`${HEALTH_DIR}/${HEALTH_SCRIPTS.probe}`, mode]);

    it("publishes HasCvmfs = true from the cron's check of every configured repository; the worker is live and ready", async () => {
        const ad = await pool.waitFor("the slot with HasCvmfs", () => /^(true|false) /.test(slot()) ? slot() : undefined, 90_000)
            .catch((e) => { throw new Error(`${e.message}\n${pool.daemonLog("worker", "StartLog").split("\n").slice(-10).join("\n")}`); });
        assert.equal(ad, "true  true");
        const live = probe("live"), ready = probe("ready");
        assert.equal(live.status, 0, output(live));
        assert.equal(ready.status, 0, output(ready));
    });

    it("a repository whose root goes empty: HasCvmfs false naming it, START false, not ready but live; back when it returns", async function () {
        // Two changes, each up to a cron period and the collector's update: more than mocha's default.
        this.timeout(2 * CHANGE_MS + 60_000);
        const root = path.join(pool.volumes.cvmfs, "sft.cern.ch");
        const aside = path.join(pool.dir, "sft-lcg-aside");
        fs.renameSync(path.join(root, "lcg"), aside);
        try {
            const broken = await pool.waitFor("HasCvmfs false", () => slot().startsWith("false ") ? slot() : undefined, CHANGE_MS);
            assert.equal(broken, "false sft.cern.ch false");
            const ready = probe("ready");
            assert.equal(ready.status, 1, output(ready));
            assert.match(output(ready), /cannot run jobs \(HasCvmfs\): slot1@htcondor-worker-0 false/);
            const live = probe("live");
            assert.equal(live.status, 0, output(live));
        } finally {
            fs.renameSync(aside, path.join(root, "lcg"));
        }
        const mended = await pool.waitFor("HasCvmfs true again", () => slot().startsWith("true ") ? slot() : undefined, CHANGE_MS);
        assert.equal(mended, "true  true");
        const ready = probe("ready");
        assert.equal(ready.status, 0, output(ready));
    });

    it("the probe fails live when the startd hangs, while its shared port still accepts connections (what a TCP probe saw)", async () => {
        const mnt = fs.readlinkSync(`/proc/${pool.pods.worker.pid}/ns/mnt`);
        const startd = spawnSync("pgrep", ["-x", "condor_startd"], { encoding: "utf8" }).stdout.trim().split("\n")
            .find((pid) => pid && fs.readlinkSync(`/proc/${pid}/ns/mnt`) === mnt);
        assert.ok(startd, "no condor_startd in the worker pod");
        process.kill(Number(startd), "SIGSTOP");
        try {
            const tcp = pool.pods.worker.exec(["bash", "-c", `exec 3<>/dev/tcp/${ADDRESSES.worker}/9618`]);
            assert.equal(tcp.status, 0, `the shared port: ${output(tcp)}`);
            const live = probe("live");
            assert.equal(live.status, 1, output(live));
            assert.match(output(live), /the startd does not answer/);
        } finally {
            process.kill(Number(startd), "SIGCONT");
        }
        const live = await pool.waitFor("live again", () => { const r = probe("live"); return r.status === 0 ? r : undefined; }, 30_000);
        assert.equal(live.status, 0);
    });
});
