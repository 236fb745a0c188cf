/**
 * Dask over HTCondor on the loopback pool (tests/pool/README.md): the example notebook
 * (examples/notebooks/ntuple-histograms.ipynb) executed by nbclient as atlasuser1 in the submit
 * pod with its IAM token, INCANT_DASK_BACKEND=htcondor: incant_dask.py starts the Dask scheduler
 * there and submits `dask worker tcp://...` jobs with condor_submit -remote; the pool's worker pod
 * runs them as atlasuser1, and the notebook's histograms are computed on them. Mandatory under CI=true.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireCondition, run } from "../harness/tools";
import { cellText, executed, histogram, NBCLIENT_DRIVER, NOTEBOOKS, PYTHON, PYTHON_MODULES, readNtuples, smokeTestNtuples } from "../harness/notebook";
import { requireLoopbackPool } from "./install";
import { output, userSession } from "./journey";
import { ADDRESSES } from "./plans";
import { LoopbackPool, setting } from "./pool";


describe("Dask workers as HTCondor jobs on the loopback pool (the example notebook)", function () {
    this.timeout(600_000);
    let pool: LoopbackPool;
    let scheddName: string;

    before(async function () {
        const install = requireLoopbackPool(this);
        requireCondition(this, run(PYTHON, ["-c", `import ${PYTHON_MODULES}`]).status === 0, "python3-distributed, -pandas, -nbclient, -ipykernel are required (.ci/run installs them)");
        pool = await LoopbackPool.create(install);
        scheddName = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        pool.start("central-manager", "scheduler", "worker", "submit");
        await pool.waitForSubmitUser("atlasuser1");
        await pool.waitFor("the worker's slot", () => {
            const r = pool.pods["central-manager"].exec(["condor_status", "-af", "Name"]);
            return r.status === 0 && r.stdout.trim() !== "";
        }, 60_000);
    });

    after(async function () {
        this.timeout(60_000);
        if (pool) await pool.stop();
    });

    it("runs the notebook's histograms on Dask workers that are atlasuser1's HTCondor jobs", async () => {
        const u = userSession(pool, "atlasuser1");
        // The batch half: n-tuples on atlasuser1's scratch, written by the smoke-test job script.
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "incant-dask-"));
        const scratch = path.join(pool.volumes.scratch, "atlasuser1", "smoke-test");
        let files: string[];
        try {
            files = smokeTestNtuples(tmp, scratch, 2, 300);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
        for (const f of [scratch, ...files]) fs.chownSync(f, u.uid, u.uid);
        // The notebook and its helper in the user's home, as in a user's server.
        const home = path.join(pool.volumes.home, "atlasuser1", "notebooks");
        fs.cpSync(NOTEBOOKS, home, { recursive: true });
        for (const f of ["", ...fs.readdirSync(home)]) fs.chownSync(path.join(home, f), u.uid, u.uid);
        const out = "/scratch/atlasuser1/histograms";

        const env = {
            INCANT_DASK_BACKEND: "htcondor", INCANT_DASK_WORKERS: "2", INCANT_DASK_WORKER_MEMORY_MB: "1024",
            // The user's server address (the pod IP a KubeSpawner pod's hostname resolves to).
            INCANT_DASK_HOST: ADDRESSES.submit, INCANT_SCHEDD: scheddName, INCANT_OUTPUT: out,
        };
        // The token as a user's server has it: in BEARER_TOKEN (auth_state_hook, incant_hub_config.py), and
        // nowhere else: the session's token file (also a default discovery path) is read and removed first.
        const asHubServer = 'BEARER_TOKEN=$(cat "$BEARER_TOKEN_FILE") && rm -f "$BEARER_TOKEN_FILE" && unset BEARER_TOKEN_FILE && export BEARER_TOKEN && exec "$@"';
        const r = u.run(["sh", "-c", asHubServer, "sh", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            PYTHON, "-c", NBCLIENT_DRIVER, "ntuple-histograms.ipynb", "/home/atlasuser1/notebooks", "300"], {
            cwd: "/home/atlasuser1/notebooks", timeoutMs: 420_000,
        });
        // Whatever happened, the jobs the notebook submitted are listed here (and removed by it): a fresh token file.
        const history = userSession(pool, "atlasuser1").run(["condor_history", "-name", scheddName, "-af", "ClusterId", "Owner", "JobBatchName", "JobStatus", "RemoteHost"]);
        const nb = executed({ status: r.status, stdout: r.stdout, stderr: `${r.stderr}\n--- condor_history:\n${output(history)}` });
        const text = cellText(nb);

        const cluster = /^HTCondor job cluster (\d+) on (\S+); scheduler at tcp:\/\/([\d.]+):8786$/m.exec(text);
        assert.ok(cluster, text);
        assert.equal(cluster[2], scheddName);
        assert.equal(cluster[3], ADDRESSES.submit, "the scheduler listens on the user's pod address");
        assert.match(text, /^2 workers connected$/m);
        assert.match(text, /^workers: 2, running as HTCondor jobs: 2$/m);

        const rows = readNtuples(files);
        const withJets = rows.filter((x) => x.n_jets > 0);
        assert.match(text, new RegExp(`^${rows.length} events, ${withJets.length} with at least one jet$`, "m"));
        const table = fs.readFileSync(path.join(pool.volumes.scratch, "atlasuser1", "histograms", "histograms.csv"), "utf8")
            .trim().split("\n").slice(1).map((l) => l.split(","));
        const counts = (name: string) => table.filter((c) => c[0] === name).map((c) => Number(c[3]));
        assert.deepEqual(counts("lead_jet_pt_gev"), histogram(withJets.map((x) => x.lead_jet_pt_gev), 0, 300, 15));
        assert.deepEqual(counts("met_gev"), histogram(rows.map((x) => x.met_gev), 0, 200, 10));
        assert.ok(fs.existsSync(path.join(pool.volumes.scratch, "atlasuser1", "histograms")), out);

        // The worker jobs were atlasuser1's (mapped from the token), in the same fair share as batch jobs, ran on the pool's worker, and are gone.
        const after = userSession(pool, "atlasuser1");
        const jobs = await pool.waitFor("the Dask worker jobs in the history", () => {
            const h = after.run(["condor_history", "-name", scheddName, cluster[1], "-af", "Owner", "JobBatchName", "AccountingGroup", "LastRemoteHost"]);
            const lines = h.stdout.trim().split("\n").filter(Boolean);
            return lines.length === 2 ? lines : undefined;
        }, 60_000);
        // Charged to the owner's accounting group, as every batch job is (the schedd's transform, fairshare.ts).
        for (const line of jobs) assert.match(line, /^atlasuser1 dask-workers group_atlasuser1\.atlasuser1 \S*htcondor-worker-0/);
    });
});
