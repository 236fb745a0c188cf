/**
 * The worked example notebook (examples/notebooks/ntuple-histograms.ipynb), executed with
 * nbclient on Debian's python3 against a local Dask cluster, on n-tuples written by the real
 * smoke-test job script (examples/smoke-test/smoke-test.sh, with a stand-in CVMFS tree). Its
 * histograms are checked against ones computed here from the same files.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ROOT } from "./harness/program";
import { requireCondition, run } from "./harness/tools";

const PYTHON = "/usr/bin/python3";
const NOTEBOOKS = path.join(ROOT, "examples", "notebooks");

/** Rows of the smoke test's CSV n-tuples (comment line, header, rows). */
function readNtuples(files: string[]): Record<string, number>[] {
    return files.flatMap((f) => {
        const lines = fs.readFileSync(f, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
        const header = lines[0].split(",");
        return lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], Number(v)])));
    });
}

/** numpy.histogram's bins: [low, high) except the last, which includes high; outside values dropped. */
function histogram(values: number[], lo: number, hi: number, bins: number): number[] {
    const counts = new Array<number>(bins).fill(0);
    const width = (hi - lo) / bins;
    for (const v of values) {
        if (v < lo || v > hi) continue;
        counts[v === hi ? bins - 1 : Math.floor((v - lo) / width)]++;
    }
    return counts;
}

/** Runs examples/smoke-test/smoke-test.sh as a job would, `jobs` times, into `outdir`. */
export function smokeTestNtuples(tmp: string, outdir: string, jobs: number, events: number): string[] {
    const cvmfs = path.join(tmp, "cvmfs-atlas");
    fs.mkdirSync(path.join(cvmfs, "repo", "ATLASLocalRootBase", "user"), { recursive: true });
    fs.writeFileSync(path.join(cvmfs, "repo", "ATLASLocalRootBase", "user", "atlasLocalSetup.sh"), "# stand-in\n");
    for (let proc = 0; proc < jobs; proc++) {
        const r = spawnSync("bash", [path.join(ROOT, "examples", "smoke-test", "smoke-test.sh"), "7", String(proc), outdir, String(events)],
            { encoding: "utf8", env: { ...process.env, CVMFS_ATLAS: cvmfs }, timeout: 30_000 });
        assert.equal(r.status, 0, r.stderr + r.stdout);
    }
    return fs.readdirSync(outdir).filter((f) => /^ntuple_7_\d+\.csv$/.test(f)).map((f) => path.join(outdir, f)).sort();
}

/** Executes a notebook with nbclient (per-cell timeout), returns the executed notebook. */
export function executeNotebook(notebook: string, env: Record<string, string>, cwd: string, timeoutMs: number): { cells: { cell_type: string; outputs?: { text?: string; ename?: string; evalue?: string }[] }[] } {
    const driver = [
        "import sys, nbformat",
        "from nbclient import NotebookClient",
        "nb = nbformat.read(sys.argv[1], as_version=4)",
        "NotebookClient(nb, timeout=int(sys.argv[3]), kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()",
        "nbformat.write(nb, sys.stdout)",
    ].join("\n");
    const r = spawnSync(PYTHON, ["-c", driver, notebook, cwd, String(Math.floor(timeoutMs / 1000))], {
        encoding: "utf8", cwd, env: { PATH: "/usr/bin:/bin", ...env }, timeout: timeoutMs + 30_000, maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, `notebook failed:\n${r.stderr.split("\n").slice(-40).join("\n")}`);
    return JSON.parse(r.stdout);
}

export const cellText = (nb: ReturnType<typeof executeNotebook>) =>
    nb.cells.filter((c) => c.cell_type === "code").map((c) => (c.outputs ?? []).map((o) => o.text ?? "").join("")).join("\n");

describe("examples/notebooks: the n-tuple histograms notebook, executed", function () {
    this.timeout(300_000);
    let tmp: string;
    before(function () {
        const mods = run(PYTHON, ["-c", "import dask.dataframe, distributed, pandas, nbclient, nbformat, ipykernel"]);
        requireCondition(this, mods.status === 0, "python3-distributed, python3-pandas, python3-nbclient and python3-ipykernel are required (.ci/run installs them)");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "incant-notebook-"));
    });
    after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

    it("histograms the smoke test's n-tuples on a local Dask cluster, as the files say", () => {
        const scratch = path.join(tmp, "scratch", "smoke-test");
        const files = smokeTestNtuples(tmp, scratch, 3, 200);
        assert.equal(files.length, 3);
        const out = path.join(tmp, "histograms");
        const nb = executeNotebook(path.join(NOTEBOOKS, "ntuple-histograms.ipynb"), {
            HOME: tmp, USER: "atlasuser1",
            INCANT_NTUPLES: path.join(scratch, "ntuple_*.csv"), INCANT_DASK_BACKEND: "local", INCANT_DASK_WORKERS: "2", INCANT_OUTPUT: out,
        }, NOTEBOOKS, 120_000);
        const text = cellText(nb);
        const rows = readNtuples(files);
        const withJets = rows.filter((r) => r.n_jets > 0);
        assert.match(text, new RegExp(`^${rows.length} events, ${withJets.length} with at least one jet$`, "m"));
        assert.match(text, /^workers: 2, running as HTCondor jobs: 0$/m);
        const table = fs.readFileSync(path.join(out, "histograms.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
        const counts = (name: string) => table.filter((c) => c[0] === name).map((c) => Number(c[3]));
        assert.deepEqual(counts("lead_jet_pt_gev"), histogram(withJets.map((r) => r.lead_jet_pt_gev), 0, 300, 15));
        assert.deepEqual(counts("met_gev"), histogram(rows.map((r) => r.met_gev), 0, 200, 10));
        assert.ok(counts("met_gev").reduce((a, b) => a + b, 0) > 0.9 * rows.length, "most events land in the MET histogram");
    });

    it("stops with a clear message when no n-tuple matches", () => {
        assert.throws(() => executeNotebook(path.join(NOTEBOOKS, "ntuple-histograms.ipynb"), {
            HOME: tmp, USER: "atlasuser1", INCANT_NTUPLES: path.join(tmp, "nothing", "*.csv"), INCANT_OUTPUT: path.join(tmp, "out2"),
        }, NOTEBOOKS, 60_000), /no n-tuples match .*run the smoke test first/);
    });
});
