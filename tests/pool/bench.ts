/**
 * `npm run bench -- --pool`: the loopback pool's latency and throughput (docs/benchmarks.md).
 * 1. submit -> first job running: condor_submit -remote of one short job at a random point of the
 *    negotiation cycle (NEGOTIATOR_INTERVAL is HTCondor's default, 60 s: the rendered
 *    configuration does not set it), from the job's own QDate and JobCurrentStartExecutingDate;
 * 2. 200 short jobs (/bin/true) to completion on the one worker's partitionable slot.
 * Needs what the pool tests need (root, HTCondor); prints what it measured.
 */
import * as fs from "fs";
import * as path from "path";
import { findHtcondor } from "./install";
import { userSession, UserSession } from "./journey";
import { sleep } from "./pod";
import { LoopbackPool, setting } from "./pool";

interface Trial { delayS: number; startS: number }

const jobFile = (dir: string, name: string, lines: string[]) => fs.writeFileSync(path.join(dir, name), [...lines, ""].join("\n"));

async function waitJobs(pool: LoopbackPool, u: UserSession, schedd: string, cluster: string, timeoutMs: number): Promise<string[]> {
    return pool.waitFor(`cluster ${cluster} to complete`, () => {
        const q = u.run(["condor_q", "-name", schedd, cluster, "-af", "JobStatus", "QDate", "JobCurrentStartExecutingDate", "CompletionDate"]);
        const rows = q.stdout.trim().split("\n").filter(Boolean);
        return rows.length && rows.every((r) => r.startsWith("4 ")) ? rows : undefined;
    }, timeoutMs);
}

export async function benchPool(trials = 3, jobs = 200): Promise<void> {
    const install = findHtcondor();
    if ("missing" in install) { console.log(`pool bench skipped: ${install.missing}`); return; }
    if (process.getuid?.() !== 0) { console.log("pool bench skipped: needs root"); return; }
    const pool = await LoopbackPool.create(install);
    try {
        pool.start("central-manager", "scheduler", "worker", "submit");
        const cm = pool.pods["central-manager"];
        await pool.waitFor("the slot", () => cm.exec(["condor_status", "-af", "Name"]).stdout.trim(), 60_000);
        const schedd = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        const u = userSession(pool, "atlasuser1");
        const dir = path.join(pool.volumes.home, "atlasuser1", "bench");
        fs.mkdirSync(dir);
        fs.chownSync(dir, u.uid, u.uid);
        const common = ["executable = /bin/true", "transfer_executable = false", "request_cpus = 1", "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES", "log = bench.log"];
        jobFile(dir, "one.sub", [...common, "queue 1"]);
        jobFile(dir, "many.sub", [...common, `queue ${jobs}`]);
        const results: Trial[] = [];
        for (let i = 0; i < trials; i++) {
            // A random point of the 60 s negotiation cycle.
            const delayS = Math.round(Math.random() * 60);
            await sleep(delayS * 1000);
            const s = u.run(["condor_submit", "-remote", schedd, "one.sub"], { cwd: "/home/atlasuser1/bench" });
            const cluster = /submitted to cluster (\d+)\./.exec(s.stdout)?.[1];
            if (!cluster) throw new Error(`submit failed: ${s.stdout}${s.stderr}`);
            const [row] = await waitJobs(pool, u, schedd, cluster, 150_000);
            const [, qdate, start] = row.split(" ").map(Number);
            results.push({ delayS, startS: start - qdate });
            console.log(`trial ${i + 1}: submitted ${delayS} s after the previous job, running ${start - qdate} s after its submission`);
        }
        const t0 = Date.now();
        const s = u.run(["condor_submit", "-remote", schedd, "many.sub"], { cwd: "/home/atlasuser1/bench", timeoutMs: 120_000 });
        const cluster = /submitted to cluster (\d+)\./.exec(s.stdout)?.[1];
        if (!cluster) throw new Error(`submit failed: ${s.stdout}${s.stderr}`);
        const rows = await waitJobs(pool, u, schedd, cluster, 900_000);
        const wall = (Date.now() - t0) / 1000;
        const qdate = Math.min(...rows.map((r) => Number(r.split(" ")[1])));
        const last = Math.max(...rows.map((r) => Number(r.split(" ")[3])));
        const cpus = cm.exec(["condor_status", "-af", "TotalSlotCpus"]).stdout.trim();
        console.log(`\n| measure | result |\n|---|---|`);
        console.log(`| submit -> first job running (QDate to JobCurrentStartExecutingDate), ${trials} trials | ${results.map((r) => `${r.startS} s`).join(", ")} |`);
        console.log(`| ${jobs} x /bin/true on one worker slot of ${cpus} CPUs, first QDate to last CompletionDate | ${last - qdate} s (${(jobs / Math.max(1, last - qdate)).toFixed(2)} jobs/s); ${wall.toFixed(0)} s wall including condor_submit -remote |`);
    } finally {
        await pool.stop();
    }
}
