/**
 * Fair share on the loopback pool (issue #17, components/htcondor/fairshare.ts): atlasuser1 fills
 * the worker's slot with a long queue, atlasuser2 submits after; atlasuser2's job runs while
 * atlasuser1 still has idle jobs, because atlasuser1's claims end after CLAIM_WORKLIFE and the
 * negotiator then serves the group furthest below its quota. The dev stack with one change,
 * `incant:htcondor.claimWorklifeSeconds: 20` (default 600), so that the test waits seconds, not
 * minutes; everything else is the rendered configuration, unchanged. Then what docs/operations.md
 * tells users to run: condor_userprio (their priority) and condor_q -better-analyze (why a job idles).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { requireLoopbackPool } from "./install";
import { output, userSession } from "./journey";
import { devStackWith, LoopbackPool, removeStackFile, setting } from "./pool";

const WORKLIFE = 20;


describe("HTCondor pool on loopback: fair share between two users", function () {
    let pool: LoopbackPool;
    let scheddName: string;
    let stack: string;

    before(async function () {
        const install = requireLoopbackPool(this);
        stack = devStackWith("incant:htcondor", `claimWorklifeSeconds: ${WORKLIFE}`);
        pool = await LoopbackPool.create(install, { stackFile: stack });
        scheddName = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        pool.start("central-manager", "scheduler", "worker", "submit");
        await pool.waitForSubmitUser("atlasuser2");
        await pool.waitForWorkerSlot();
    });

    after(async function () {
        this.timeout(60_000);
        if (pool) await pool.stop();
        removeStackFile(stack);
    });

    /** Writes a sleep job's submit file into the user's home and submits `count` of them remotely. */
    const submit = (user: string, count: number, seconds: number): string => {
        const u = userSession(pool, user);
        const dir = path.join(pool.volumes.home, user, "fairshare");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `sleep${seconds}.sub`), ["executable = /bin/sleep", `arguments = ${seconds}`, "transfer_executable = false",
            "request_cpus = 1", "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES",
            // What a user might try: another user's group. The schedd's transform overrides it.
            "accounting_group = group_atlasuser5", `queue ${count}`, ""].join("\n"));
        for (const f of ["", `sleep${seconds}.sub`]) fs.chownSync(path.join(dir, f), u.uid, u.uid);
        const r = u.run(["condor_submit", "-remote", scheddName, `sleep${seconds}.sub`], { cwd: `/home/${user}/fairshare` });
        assert.equal(r.status, 0, output(r));
        return /submitted to cluster (\d+)\./.exec(r.stdout)![1];
    };

    /** Every job in the queue as [owner, status, accounting group] (the operator's view, in the scheduler pod). */
    const queue = (): string[][] => pool.pods.scheduler.exec(["condor_q", "-allusers", "-af", "Owner", "JobStatus", "AccountingGroup"]).stdout
        .trim().split("\n").filter(Boolean).map((l) => l.split(" "));
    const count = (q: string[][], owner: string, status: string) => q.filter(([o, s]) => o === owner && s === status).length;

    it(`gives atlasuser2 a slot while atlasuser1's long queue still waits (claims end after ${WORKLIFE} s)`, async () => {
        const cpus = Number(pool.pods["central-manager"].exec(["condor_status", "-af", "TotalSlotCpus"]).stdout.trim());
        assert.ok(cpus >= 1, `the worker's slot has ${cpus} CPUs`);
        submit("atlasuser1", cpus * 6, 30);
        await pool.waitFor("atlasuser1's jobs on every CPU", () => count(queue(), "atlasuser1", "2") === cpus, 120_000);
        const cluster = submit("atlasuser2", 1, 5);
        const seen = await pool.waitFor("atlasuser2's job running", () => {
            const q = queue();
            return count(q, "atlasuser2", "2") + count(q, "atlasuser2", "4") > 0 || !q.some(([o]) => o === "atlasuser2") ? q : undefined;
        }, 180_000).catch((e) => { throw new Error(`${e.message}; queue: ${JSON.stringify(queue())}\n${pool.daemonLog("central-manager", "NegotiatorLog").split("\n").slice(-15).join("\n")}`); });
        assert.ok(count(seen, "atlasuser1", "1") > 0, `atlasuser1 had no idle job left when atlasuser2's ran: ${JSON.stringify(seen)}`);
        const groups = new Set(seen.map(([o, , g]) => `${o} ${g}`));
        assert.deepEqual([...groups].sort(), ["atlasuser1 group_atlasuser1.atlasuser1", "atlasuser2 group_atlasuser2.atlasuser2"]);
        assert.ok(cluster);
    });

    it("condor_userprio, run by a user, shows both users' groups with their usage (docs/operations.md)", async () => {
        const u = userSession(pool, "atlasuser2");
        let last = "";
        const names = await pool.waitFor("both submitters in condor_userprio", () => {
            const p = u.run(["condor_userprio", "-allusers", "-af", "Name"]);
            last = output(p);
            return p.status === 0 && /^group_atlasuser1\.atlasuser1@/m.test(p.stdout) && /^group_atlasuser2\.atlasuser2@/m.test(p.stdout) ? p.stdout : undefined;
        }, 90_000).catch((e) => { throw new Error(`${e.message}: ${last}`); });
        assert.doesNotMatch(names, /^atlasuser[12]@/m, "a job outside its owner's group");
        // The table docs/operations.md shows: each group with its quota and its user under it.
        const table = u.run(["condor_userprio", "-allusers", "-most"]);
        assert.equal(table.status, 0, output(table));
        assert.match(table.stdout, /^group_atlasuser2\s/m);
        assert.match(table.stdout, /Effective/);
    });

    it("condor_q -better-analyze, run by atlasuser1, explains an idle job (docs/operations.md)", () => {
        const u = userSession(pool, "atlasuser1");
        const idle = u.run(["condor_q", "-name", scheddName, "-constraint", "JobStatus == 1", "-af", "ClusterId", "ProcId"]).stdout.trim().split("\n")[0];
        assert.ok(idle, "atlasuser1 has no idle job left to analyse");
        const r = u.run(["condor_q", "-name", scheddName, "-better-analyze", idle.replace(" ", ".")]);
        assert.equal(r.status, 0, output(r));
        assert.match(r.stdout, /The Requirements expression for job/);
        assert.match(r.stdout, /Run analysis summary ignoring user priority\.\s+Of 1 machines,/);
        assert.match(r.stdout, /\d+ match but are serving other users/);
        for (const user of ["atlasuser1", "atlasuser2"]) pool.pods.scheduler.exec(["condor_rm", user]);
    });
});
