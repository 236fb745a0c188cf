/**
 * Running the example notebooks (examples/notebooks) and the data they read: n-tuples written by
 * the real smoke-test job script, nbclient on Debian's python3, and the histograms recomputed here.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { ROOT } from "./program";

export const PYTHON = "/usr/bin/python3";
export const NOTEBOOKS = path.join(ROOT, "examples", "notebooks");
/** What the notebook imports from Debian (.ci/run: python3-distributed, -pandas, -nbclient, -ipykernel). */
export const PYTHON_MODULES = "dask.dataframe, distributed, pandas, nbclient, nbformat, ipykernel";

/** Rows of the smoke test's CSV n-tuples (comment line, header, rows). */
export function readNtuples(files: string[]): Record<string, number>[] {
    return files.flatMap((f) => {
        const lines = fs.readFileSync(f, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
        const header = lines[0].split(",");
        return lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], Number(v)])));
    });
}

/** numpy.histogram's bins: [low, high) except the last, which includes high; outside values dropped. */
export function histogram(values: number[], lo: number, hi: number, bins: number): number[] {
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
export function executeNotebook(notebook: string, env: Record<string, string>, cwd: string, timeoutMs: number): ExecutedNotebook {
    const r = spawnSync(PYTHON, ["-c", NBCLIENT_DRIVER, notebook, cwd, String(Math.floor(timeoutMs / 1000))], {
        encoding: "utf8", cwd, env: { PATH: "/usr/bin:/bin", ...env }, timeout: timeoutMs + 30_000, maxBuffer: 64 * 1024 * 1024,
    });
    return executed(r);
}

/** Python that executes argv[1] with nbclient (kernel python3, cwd argv[2], per-cell timeout argv[3] s) and prints the result. */
export const NBCLIENT_DRIVER = [
    "import sys, nbformat",
    "from nbclient import NotebookClient",
    "nb = nbformat.read(sys.argv[1], as_version=4)",
    "NotebookClient(nb, timeout=int(sys.argv[3]), kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()",
    "nbformat.write(nb, sys.stdout)",
].join("\n");

export type ExecutedNotebook = { cells: { cell_type: string; outputs?: { text?: string | string[]; ename?: string; evalue?: string }[] }[] };

/** The executed notebook from the driver's run; fails with the end of its stderr. */
export function executed(r: { status: number | null; stdout: string; stderr: string }): ExecutedNotebook {
    assert.equal(r.status, 0, `notebook failed:\n${r.stderr.split("\n").slice(-40).join("\n")}`);
    return JSON.parse(r.stdout) as ExecutedNotebook;
}

export const cellText = (nb: ExecutedNotebook) =>
    // nbformat keeps multi-line text as a list of lines.
    nb.cells.filter((c) => c.cell_type === "code").map((c) => (c.outputs ?? []).map((o) => [o.text ?? ""].flat().join("")).join("")).join("\n");

