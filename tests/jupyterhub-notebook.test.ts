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
import { requireCondition, run } from "./harness/tools";
import { cellText, executeNotebook, histogram, NOTEBOOKS, PYTHON, PYTHON_MODULES, readNtuples, smokeTestNtuples } from "./harness/notebook";


describe("examples/notebooks: the n-tuple histograms notebook, executed", function () {
    this.timeout(300_000);
    let tmp: string;
    before(function () {
        const mods = run(PYTHON, ["-c", `import ${PYTHON_MODULES}`]);
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
