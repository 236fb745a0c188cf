/**
 * The Dask worker jobs' submit description (examples/notebooks/incant_dask.py), read back by
 * HTCondor's own condor_submit (-dry-run: the job ad, no schedd): every argument of the worker
 * command arrives as one argument, whatever quotes, spaces or shell syntax it holds.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { requireCondition, run } from "./harness/tools";
import { NOTEBOOKS, PYTHON } from "./harness/notebook";
import { findHtcondor } from "./pool/install";

/** The job ad's Arguments (HTCondor's V2 syntax): blanks separate, '...' quotes, '' inside quotes is one '. */
function parseArgsV2(raw: string): string[] {
    const args: string[] = [];
    let cur: string | undefined;
    let quoted = false;
    for (let i = 0; i < raw.length; i++) {
        const c = raw[i];
        if (c === "'") {
            if (quoted && raw[i + 1] === "'") { cur = (cur ?? "") + "'"; i++; continue; }
            quoted = !quoted;
            cur = cur ?? "";
        } else if (/\s/.test(c) && !quoted) {
            if (cur !== undefined) args.push(cur);
            cur = undefined;
        } else cur = (cur ?? "") + c;
    }
    if (cur !== undefined) args.push(cur);
    return args;
}

/** The helper's submit description and the worker command it means, from Python. */
function render(address: string, lcgView: string | null): { submit: string; executable: string; args: string[] } {
    const py = [
        "import json, sys",
        "sys.path.insert(0, sys.argv[1])",
        "import incant_dask as d",
        "view = json.loads(sys.argv[3])",
        "exe, args = d.worker_command(sys.argv[2], view, nthreads=1, memory_limit='2048MB')",
        "print(json.dumps({'submit': d.render_submit(d.submit_description(sys.argv[2], view), 2), 'executable': exe, 'args': args}))",
    ].join("\n");
    const r = run(PYTHON, ["-c", py, NOTEBOOKS, address, JSON.stringify(lcgView)]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

describe("Dask worker jobs: the submit description, read back by condor_submit", function () {
    this.timeout(60_000);
    let condorSubmit: string;
    let tmp: string;
    before(function () {
        const install = findHtcondor();
        requireCondition(this, !("missing" in install), "missing" in install ? install.missing : "");
        requireCondition(this, run(PYTHON, ["-c", "import distributed"]).status === 0, "python3-distributed is required (.ci/run installs it)");
        condorSubmit = path.join((install as { prefix: string }).prefix, "bin", "condor_submit");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "incant-dask-submit-"));
    });
    after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

    /** condor_submit -dry-run's job ads (one per queued job), no configuration, no schedd. */
    function dryRun(submit: string): Record<string, string>[] {
        const file = path.join(tmp, "dask.sub");
        const out = path.join(tmp, "ads");
        fs.writeFileSync(file, submit);
        const r = spawnSync(condorSubmit, ["-dry-run", out, file], { encoding: "utf8", cwd: tmp, env: { PATH: "/usr/bin:/bin", CONDOR_CONFIG: "/dev/null" }, timeout: 30_000 });
        assert.equal(r.status, 0, r.stderr + r.stdout);
        return fs.readFileSync(out, "utf8").split(/\n(?=ClusterId=|\n)/).filter((b) => b.includes("=")).map((block) => Object.fromEntries(
            block.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])));
    }

    const unquote = (v: string) => JSON.parse(v) as string;

    for (const [what, view] of [
        ["without a view", null],
        ["with the LCG view", "/cvmfs/sft.cern.ch/lcg/views/LCG_107/x86_64-el9-gcc13-opt"],
        ["with a hostile view path (quotes, blanks, shell)", "/cvmfs/sft.cern.ch/x'y\"z $(touch pwned) `id`;"],
    ] as [string, string | null][]) {
        it(`keeps every argument whole ${what}`, () => {
            const r = render("tcp://10.0.0.5:8786", view);
            const ads = dryRun(r.submit);
            assert.ok(ads.length >= 1, "no job ad");
            const ad = ads[0];
            assert.equal(unquote(ad.Cmd), r.executable);
            assert.deepEqual(parseArgsV2(unquote(ad.Arguments)), r.args);
            assert.ok(r.args.includes("tcp://10.0.0.5:8786"));
            if (view) assert.ok(r.args.includes(view) && !r.args[1].includes(view), "the view is an argument, not script text");
            assert.equal(unquote(ad.JobBatchName), "dask-workers");
            assert.equal(ad.RequestCpus, "1");
            assert.ok(!fs.existsSync(path.join(tmp, "pwned")));
        });
    }

    it("refuses a line end that would end the submit file's line", () => {
        const py = "import sys; sys.path.insert(0, sys.argv[1]); import incant_dask as d; d.condor_arguments(['a\\nqueue 99'])";
        const r = run(PYTHON, ["-c", py, NOTEBOOKS]);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /ValueError: an argument cannot hold a line end/);
    });
});
