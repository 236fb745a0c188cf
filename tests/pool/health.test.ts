/**
 * Worker health on the loopback pool (issue #17, components/htcondor/health.ts): the startd runs the
 * rendered cron (cvmfs-health.sh from the worker's ConfigMap, as the condor user) against the
 * pool's stand-in /cvmfs tree; its ad shows HasCvmfs and the failed repositories, changing when a
 * repository's root goes empty (what a failed automount looks like) and when it comes back; START
 * refuses jobs meanwhile; the pod's probe script answers "live" throughout and "ready" only while
 * the worker can run jobs. The /tmp guard (issue 12, tmp-guard.sh): a job of atlasuser3 that writes
 * three times TMP_LIMIT_MIB under /tmp (in a private directory the condor user cannot read) is held
 * with the guard's reason, its files are removed once its processes are gone, and atlasuser4's job on
 * the same worker runs on, started once. Users no other pool test runs jobs as: the loopback pods
 * share the host's process table, so another pool's job of the same uid would keep the guard from
 * cleaning (in a pod, /proc shows the container's processes only).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { CVMFS_CHECK_PERIOD_SECONDS, HEALTH_DIR, HEALTH_SCRIPTS, TMP_GUARD_PERIOD_SECONDS, TMP_HOLD_SUBCODE, TMP_LIMIT_MIB } from "../../components/htcondor/health";
import { requireLoopbackPool } from "./install";
import { output, userSession } from "./journey";
import { hostPathOf } from "./pod";
import { LoopbackPool, setting } from "./pool";
import { ADDRESSES } from "./plans";

/** One cron period, the startd's publication (If_Changed) and the collector's answer. */
const CHANGE_MS = (CVMFS_CHECK_PERIOD_SECONDS + 30) * 1000;

describe("HTCondor pool on loopback: worker health (startd cron, probes)", function () {
    let pool: LoopbackPool;

    before(async function () {
        const install = requireLoopbackPool(this);
        pool = await LoopbackPool.create(install);
        // The scheduler and the submit container for the /tmp guard's jobs (the last case).
        pool.start("central-manager", "scheduler", "worker", "submit");
        await pool.waitForSubmitUser("atlasuser1");
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

    describe("the /tmp guard (#12)", () => {
        /** A job of `user` from `files` in ~/<name>, submitted with condor_submit -remote; its cluster. */
        const submitJob = (user: string, name: string, files: Record<string, string>): string => {
            const u = userSession(pool, user);
            const dir = path.join(pool.volumes.home, user, name);
            fs.mkdirSync(dir, { recursive: true });
            for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text, { mode: f.endsWith(".sh") ? 0o755 : 0o644 });
            for (const f of ["", ...Object.keys(files)]) fs.chownSync(path.join(dir, f), u.uid, u.uid);
            const submit = u.run(["condor_submit", "-remote", scheddName(), `${name}.sub`], { cwd: `/home/${user}/${name}` });
            assert.equal(submit.status, 0, output(submit));
            return /submitted to cluster (\d+)\./.exec(submit.stdout)![1];
        };
        const scheddName = () => setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        const q = (user: string, cluster: string, attrs: string[]) =>
            userSession(pool, user).run(["condor_q", "-name", scheddName(), cluster, "-af", ...attrs]).stdout.trim();
        /** What the facility's users hold in the worker pod's /tmp and /var/tmp (paths, on the host). */
        const leftovers = () => ["/tmp", "/var/tmp"].flatMap((d) => {
            const r = spawnSync("find", [hostPathOf(pool.pods.worker.dir, d)!, "-mindepth", "1", "-uid", "+19999"], { encoding: "utf8" });
            return r.stdout.split("\n").filter(Boolean);
        });
        const [FILLER, SLEEPER] = ["atlasuser3", "atlasuser4"];
        let filler = "", sleeper = "";
        after(() => {
            if (filler) userSession(pool, FILLER).run(["condor_rm", "-name", scheddName(), filler]);
            if (sleeper) userSession(pool, SLEEPER).run(["condor_rm", "-name", scheddName(), sleeper]);
        });

        it("holds a job that writes three times the limit under /tmp, removes its files, and another user's job runs on", async function () {
            // The jobs start, one guard pass and one cron period see the files, the startd holds; the
            // next pass removes them: a few periods, well within this.
            this.timeout(8 * TMP_GUARD_PERIOD_SECONDS * 1000 + 120_000);
            const mib = 3 * TMP_LIMIT_MIB;
            sleeper = submitJob(SLEEPER, "sleeper", {
                "sleeper.sh": "#!/bin/bash\nsleep 600\n",
                "sleeper.sub": ["executable = sleeper.sh", "request_memory = 32MB", "request_disk = 10MB", "log = sleeper.log", "should_transfer_files = YES", "queue", ""].join("\n"),
            });
            // In a directory only its owner may enter (the startd's cron, as condor, could not measure it).
            filler = submitJob(FILLER, "filler", {
                "filler.sh": `#!/bin/bash\nset -e\nmkdir -m 0700 /tmp/private\nhead -c ${mib}M /dev/zero > /tmp/private/big\necho x > /var/tmp/small\nsleep 600\n`,
                "filler.sub": ["executable = filler.sh", "request_memory = 32MB", "request_disk = 10MB", "log = filler.log", "should_transfer_files = YES", "queue", ""].join("\n"),
            });
            const held = await pool.waitFor(`job ${filler} held`, () => {
                const r = q(FILLER, filler, ["JobStatus", "HoldReasonCode", "HoldReasonSubCode", "HoldReason"]);
                // Held by condor_submit -remote until its input is spooled (code 16) first: not this hold.
                return r.startsWith("5 ") && !r.includes("Spooling input") ? r : r.startsWith("4") ? `completed: ${r}` : undefined;
            }, 6 * TMP_GUARD_PERIOD_SECONDS * 1000 + 60_000).catch((e) => {
                const ad = pool.pods["central-manager"].exec(["condor_status", "-af", "Name", "IncantTmpOverUsers", "IncantTmpOverUsage", "IncantTmpGuardOk"]);
                throw new Error(`${e.message}\n${output(ad)}\n${pool.daemonLog("worker", "TmpGuardLog")}\n${pool.daemonLog("worker", "StartLog").split("\n").slice(-15).join("\n")}`);
            });
            // 21: the startd's policy held it (condor_holdcodes.h StartdHeldJob), with the guard's subcode.
            const m = new RegExp(`^5 21 ${TMP_HOLD_SUBCODE} Error from slot1_\\d+@htcondor-worker-0: ${FILLER} holds (\\d+) MiB under /tmp and /var/tmp on this worker, over the ${TMP_LIMIT_MIB} MiB a user may; write temporary files under \\$TMPDIR \\(the job's sandbox\\)$`).exec(held);
            assert.ok(m, held);
            assert.ok(Number(m[1]) >= mib, held);
            // Its processes are gone: the guard's next pass removes what it wrote, the private directory too.
            await pool.waitFor(`${FILLER}'s /tmp files removed`, () => leftovers().length === 0 || undefined, 3 * TMP_GUARD_PERIOD_SECONDS * 1000)
                .catch((e) => { throw new Error(`${e.message}: ${leftovers().join(", ")}`); });
            assert.match(fs.readFileSync(path.join(pool.pods.worker.dir, "var-log", "condor", "TmpGuardLog"), "utf8"), new RegExp(`removed the leftovers of uid \\d+ \\(${FILLER}\\)`));
            // The other user's job on the same worker runs on, never restarted (the schedd counts each shadow it starts).
            assert.equal(q(SLEEPER, sleeper, ["JobStatus", "JobRunCount", "RemoteHost"]).replace(/slot1_\d+@/, "slot1_N@"), "2 1 slot1_N@htcondor-worker-0");
            // And the user is off the list again: their next job may start here.
            const listed = await pool.waitFor("IncantTmpOverUsers empty", () => {
                const r = pool.pods["central-manager"].exec(["condor_status", "-af", "IncantTmpOverUsers", "IncantTmpGuardOk", "-constraint", "PartitionableSlot"]);
                return r.status === 0 && r.stdout.trim() === "true" ? r.stdout.trim() : undefined;
            }, 3 * TMP_GUARD_PERIOD_SECONDS * 1000);
            assert.equal(listed, "true");
        });
    });
});
