/**
 * Worker health (components/htcondor/health.ts, issue #17): the startd cron script run for real on
 * a directory tree standing in for /cvmfs (present, empty, missing repositories, hostile arguments),
 * its output parsed the way the startd reads it; both scripts through shellcheck; the rendered
 * worker configuration read by condor_config_val; the worker Deployment's probes and script volume,
 * validated with kubernetes-models. The loopback pool runs the cron in a real startd
 * (tests/pool/health.test.ts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { CVMFS_CHECK_PERIOD_SECONDS, HEALTH_DIR, HEALTH_SCRIPTS, startdHealth } from "../components/htcondor/health";
import { renderCondorConfig } from "../components/htcondor/config";
import { htcondorConfigs } from "../offline/artifacts";
import { validateK8sObject } from "./harness/k8s";
import { ProgramRun, runProgram } from "./harness/program";
import { requireCondition, requireTool, shellcheck } from "./harness/tools";
import { findHtcondor, HtcondorInstall } from "./pool/install";

const SCRIPTS = path.join(__dirname, "..", "components", "htcondor");
const PROGRAM = path.join(__dirname, "fixtures", "htcondor-pool.program.ts");

/** The cron script's output as the startd reads it: `Attr = value` lines. */
function runCheck(root: string, repos: string[]): Record<string, string> {
    const r = spawnSync("bash", [path.join(SCRIPTS, HEALTH_SCRIPTS.cvmfs), ...repos], {
        encoding: "utf8", timeout: 30_000, env: { PATH: "/usr/bin:/bin", CVMFS_ROOT: root, CVMFS_CHECK_TIMEOUT: "5" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const lines = r.stdout.trimEnd().split("\n");
    for (const l of lines) assert.match(l, /^[A-Za-z]+ = (true|false|"[a-z0-9.,-]*")$/, `not an ad line: ${l}`);
    return Object.fromEntries(lines.map((l) => l.split(" = ") as [string, string]));
}

describe("worker health (#17)", () => {
    let root: string;
    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "incant-cvmfs-"));
        fs.mkdirSync(path.join(root, "atlas.cern.ch", "repo"), { recursive: true });
        fs.mkdirSync(path.join(root, "sft.cern.ch", "lcg"), { recursive: true });
        // A mount point whose automount failed: present, empty.
        fs.mkdirSync(path.join(root, "unpacked.cern.ch"));
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    describe("the startd cron script (cvmfs-health.sh)", () => {
        it("publishes HasCvmfs = true when every repository lists its root", () => {
            assert.deepEqual(runCheck(root, ["atlas.cern.ch", "sft.cern.ch"]), { HasCvmfs: "true", CvmfsFailedRepositories: '""' });
        });

        it("names an empty (failed automount) and a missing repository, and HasCvmfs = false", () => {
            assert.deepEqual(runCheck(root, ["atlas.cern.ch", "unpacked.cern.ch", "atlas-condb.cern.ch"]),
                { HasCvmfs: "false", CvmfsFailedRepositories: '"unpacked.cern.ch,atlas-condb.cern.ch"' });
        });

        it("is false when no repository is configured (nothing checked is not healthy)", () => {
            assert.equal(runCheck(root, []).HasCvmfs, "false");
        });

        it("refuses arguments that are not repository names, without echoing them into the ad", () => {
            fs.mkdirSync(path.join(root, "x"), { recursive: true });
            fs.writeFileSync(path.join(root, "x", "file"), "");
            const out = runCheck(path.join(root, "x"), ["..", "../x", 'a"b', "$(id)", "atlas.cern.ch\nHasCvmfs = true"]);
            assert.deepEqual(out, { HasCvmfs: "false", CvmfsFailedRepositories: '"invalid-name,invalid-name,invalid-name,invalid-name,invalid-name"' });
        });

        it("passes shellcheck, as does the probe script", function () {
            requireTool(this, "shellcheck");
            for (const s of Object.values(HEALTH_SCRIPTS)) {
                const r = shellcheck(fs.readFileSync(path.join(SCRIPTS, s), "utf8"), s);
                assert.ok(r.ok, `${s}: ${r.output}`);
            }
        });
    });

    describe("configuration", () => {
        it("refuses a repository name the script would refuse", () => {
            assert.throws(() => startdHealth(["atlas.cern.ch", "sft.cern.ch x"]), /not a CVMFS repository name/);
        });

        it("the rendered worker configuration, read by condor_config_val: the cron job, its period, START requires HasCvmfs", async function () {
            this.timeout(120_000);
            const found = findHtcondor();
            requireCondition(this, !("missing" in found), "missing" in found ? found.missing : "");
            const install = found as HtcondorInstall;
            const run: ProgramRun = await runProgram("dev", {}, { program: PROGRAM });
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-health-"));
            try {
                const conf = path.join(dir, "worker.conf");
                fs.writeFileSync(conf, htcondorConfigs(run)["htcondor/worker.conf"]);
                const value = (key: string) => {
                    const r = spawnSync(path.join(install.prefix, "bin", "condor_config_val"), [key], {
                        encoding: "utf8", env: { PATH: "/usr/bin:/bin", CONDOR_CONFIG: conf, LD_LIBRARY_PATH: path.join(install.prefix, "lib") },
                    });
                    assert.equal(r.status, 0, `${key}: ${r.stdout}${r.stderr}`);
                    return r.stdout.trim();
                };
                assert.ok(value("STARTD_CRON_JOBLIST").split(/[\s,]+/).includes("CVMFS"));
                assert.equal(value("STARTD_CRON_CVMFS_EXECUTABLE"), `${HEALTH_DIR}/${HEALTH_SCRIPTS.cvmfs}`);
                assert.equal(value("STARTD_CRON_CVMFS_ARGS"), "atlas.cern.ch atlas-condb.cern.ch sft.cern.ch unpacked.cern.ch");
                assert.equal(value("STARTD_CRON_CVMFS_PERIOD"), `${CVMFS_CHECK_PERIOD_SECONDS}s`);
                // Other conditions may be and-ed to it (the autoscaler's drain); this one must be there.
                assert.match(value("START"), /^\(.*\) && \(MY\.HasCvmfs =\?= true\)$/);
                assert.doesNotMatch(htcondorConfigs(run)["htcondor/worker.conf"], /^HasCvmfs\s*=/m, "HasCvmfs is measured, not a constant");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("the worker Deployment: exec probes (live, ready) on the mounted scripts, mode 0555, valid for the API", async function () {
            this.timeout(120_000);
            const run = await runProgram("dev", {}, { program: PROGRAM });
            const worker = run.ofType("kubernetes:apps/v1:Deployment").find((d) => (d.revealedInputs.metadata as { name: string }).name === "htcondor-worker")!;
            validateK8sObject(worker);
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            const spec = (worker.revealedInputs as any).spec.template.spec;
            const c = spec.containers[0];
            assert.deepEqual(c.livenessProbe.exec.command, [`${HEALTH_DIR}/${HEALTH_SCRIPTS.probe}`, "live"]);
            assert.deepEqual(c.readinessProbe.exec.command, [`${HEALTH_DIR}/${HEALTH_SCRIPTS.probe}`, "ready"]);
            assert.equal(c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === HEALTH_DIR)?.readOnly, true);
            const volume = spec.volumes.find((v: { name: string }) => v.name === "health");
            assert.deepEqual(volume.configMap.items.map((i: { key: string; mode: number }) => [i.key, i.mode]), Object.values(HEALTH_SCRIPTS).map((s) => [s, 0o555]));
            const data = run.ofType("kubernetes:core/v1:ConfigMap").find((m) => (m.revealedInputs.metadata as { name: string }).name === "htcondor-worker")!.revealedInputs.data as Record<string, string>;
            for (const s of Object.values(HEALTH_SCRIPTS)) assert.equal(data[s], fs.readFileSync(path.join(SCRIPTS, s), "utf8"));
            assert.ok(renderCondorConfig(startdHealth(["atlas.cern.ch"])).includes("STARTD_CRON_CVMFS_ARGS = atlas.cern.ch"));
        });
    });
});
