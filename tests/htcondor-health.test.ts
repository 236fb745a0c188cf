/**
 * Worker health (components/htcondor/health.ts, issue #17): the startd cron script run for real on
 * a directory tree standing in for /cvmfs (present, empty, missing repositories, hostile arguments),
 * its output parsed the way the startd reads it; both scripts through shellcheck; the rendered
 * worker configuration read by condor_config_val; the worker Deployment's probes and script volume,
 * validated with kubernetes-models. The loopback pool runs the cron in a real startd
 * (tests/pool/health.test.ts). The /tmp guard (tmp-guard.sh, issue 12): its root pass on a stand-in
 * /tmp and /var/tmp with files of several uids, hostile names, symbolic links and a mount inside;
 * its cron output; the hold policy evaluated by HTCondor's own ClassAd library (condor_status -ads).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import {
    CVMFS_CHECK_PERIOD_SECONDS, HEALTH_DIR, HEALTH_SCRIPTS, startdHealth, TMP_GUARD_DAEMON, TMP_GUARD_PERIOD_SECONDS, TMP_HOLD_SUBCODE, TMP_LIMIT_MIB,
} from "../components/htcondor/health";
import { USER_UID_MAX, USER_UID_MIN } from "../components/config/accounts";
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
                assert.match(value("START"), /^\(.*\) && \(MY\.HasCvmfs =\?= true\)\)?( && .*)?$/);
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

/** Runs tmp-guard.sh as root in a private mount namespace whose /etc/passwd has the test's users. */
function guard(args: string[], opts: { state: string; passwd?: string }): { status: number | null; stdout: string; stderr: string } {
    const mount = opts.passwd ? `mount --bind "${opts.passwd}" /etc/passwd` : "true";
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", `${mount} && exec bash "$0" "$@"`, path.join(SCRIPTS, HEALTH_SCRIPTS.tmp), ...args], {
        encoding: "utf8", timeout: 60_000, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", INCANT_TMP_GUARD_STATE: opts.state, INCANT_TMP_GUARD_LOG: "" },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The cron's output as the startd reads it. */
function published(out: string): Record<string, string> {
    const lines = out.trimEnd().split("\n");
    for (const l of lines) assert.match(l, /^Incant[A-Za-z]+ = (true|false|"[a-z0-9_:,-]*")$/, `not an ad line: ${l}`);
    return Object.fromEntries(lines.map((l) => l.split(" = ") as [string, string]));
}

describe("worker /tmp guard (#12, tmp-guard.sh)", function () {
    this.timeout(60_000);
    const U1 = USER_UID_MIN + 1, U2 = USER_UID_MIN + 2, CONDOR = 64;
    let dir: string, tmp: string, vartmp: string, outside: string, state: string, passwd: string;
    const write = (file: string, mib: number, uid: number) => {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, Buffer.alloc(mib * 1024 * 1024, 1));
        fs.lchownSync(file, uid, uid);
    };

    beforeEach(function () {
        requireCondition(this, process.getuid?.() === 0, "the guard runs as root (chown, unshare, mount)");
        requireTool(this, "unshare");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-tmpguard-"));
        tmp = path.join(dir, "tmp");
        vartmp = path.join(dir, "var-tmp");
        outside = path.join(dir, "outside");
        for (const d of [tmp, vartmp, outside]) { fs.mkdirSync(d); fs.chmodSync(d, 0o1777); }
        state = path.join(dir, "run", "usage");
        passwd = path.join(dir, "passwd");
        fs.writeFileSync(passwd, `${fs.readFileSync("/etc/passwd", "utf8")}atlasuser1:x:${U1}:${U1}::/home/atlasuser1:/bin/bash\natlasuser2:x:${U2}:${U2}::/home/atlasuser2:/bin/bash\n`);
    });
    afterEach(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

    it("removes an idle facility user's files (hostile names, their symbolic links, not what they point at), keeps a busy user's, root's, condor's, another mount's, and lists usage", () => {
        // atlasuser1: no process left. Hostile names: a newline, a leading dash, shell syntax, a glob.
        write(path.join(tmp, "big"), 3, U1);
        const hostile = path.join(tmp, "-rf \n* $(touch pwned)", "x\ny");
        write(hostile, 1, U1);
        fs.lchownSync(path.dirname(hostile), U1, U1);
        write(path.join(outside, "victim"), 1, U1);
        fs.symlinkSync(path.join(outside, "victim"), path.join(tmp, "link-to-victim"));
        fs.lchownSync(path.join(tmp, "link-to-victim"), U1, U1);
        // A symbolic link into another directory tree, as a directory: find -P never descends it.
        fs.symlinkSync(outside, path.join(vartmp, "link-to-outside"));
        fs.lchownSync(path.join(vartmp, "link-to-outside"), U1, U1);
        // atlasuser2's file inside atlasuser1's directory stays (and so does that directory).
        fs.mkdirSync(path.join(tmp, "shared"));
        fs.lchownSync(path.join(tmp, "shared"), U1, U1);
        fs.chmodSync(path.join(tmp, "shared"), 0o777);
        write(path.join(tmp, "shared", "of-u2"), 1, U2);
        write(path.join(vartmp, "u2"), 2, U2);
        write(path.join(tmp, "root"), 1, 0);
        write(path.join(tmp, "condor"), 1, CONDOR);
        write(path.join(tmp, "outside-range"), 1, USER_UID_MAX + 1);
        // atlasuser2 is busy: a process runs with its uid.
        const sleeper = spawnSync("bash", ["-c", `setpriv --reuid ${U2} --regid ${U2} --clear-groups sleep 30 >/dev/null 2>&1 & echo $!`], { encoding: "utf8" });
        const pid = Number(sleeper.stdout.trim());
        try {
            const r = guard(["once", String(USER_UID_MIN), String(USER_UID_MAX), tmp, vartmp, path.join(dir, "missing")], { state, passwd });
            assert.equal(r.status, 0, r.stderr);
            // Five entries: big, the hostile directory and the file in it, the link to the victim, the link to outside.
            assert.match(r.stderr, new RegExp(`removed the leftovers of uid ${U1} \\(atlasuser1\\) in .*: 5 entries of \\d+ KiB`));
            // A second pass: nothing of atlasuser1's left to remove but its directory "shared" (another uid's file in it): no line.
            const again = guard(["once", String(USER_UID_MIN), String(USER_UID_MAX), tmp, vartmp], { state, passwd });
            assert.equal(again.status, 0, again.stderr);
            assert.doesNotMatch(again.stderr, /removed/);
            assert.doesNotMatch(r.stderr, new RegExp(`uid ${U2}`));
            assert.deepEqual(fs.readdirSync(tmp).sort(), ["condor", "outside-range", "root", "shared"]);
            assert.deepEqual(fs.readdirSync(path.join(tmp, "shared")), ["of-u2"]);
            assert.deepEqual(fs.readdirSync(vartmp), ["u2"]);
            assert.deepEqual(fs.readdirSync(outside), ["victim"], "nothing outside the directories is removed");
            assert.ok(!fs.existsSync(path.join(dir, "pwned")) && !fs.existsSync("pwned"));
            // What is left: atlasuser2's 3 MiB (and atlasuser1's directory "shared", a few KiB).
            const usage = Object.fromEntries(fs.readFileSync(state, "utf8").trimEnd().split("\n").map((l) => l.split(" ")));
            assert.deepEqual(Object.keys(usage).sort(), ["atlasuser1", "atlasuser2"]);
            assert.ok(Number(usage.atlasuser2) >= 3 * 1024 && Number(usage.atlasuser2) < 3 * 1024 + 64, usage.atlasuser2);
            assert.ok(Number(usage.atlasuser1) < 64, usage.atlasuser1);
            // The startd's cron reads it as condor (here: nobody), not as root.
            fs.chmodSync(dir, 0o755);
            const cron = spawnSync("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "bash", path.join(SCRIPTS, HEALTH_SCRIPTS.tmp), "publish", "2", "120"],
                { encoding: "utf8", env: { PATH: "/usr/bin:/bin", INCANT_TMP_GUARD_STATE: state } });
            assert.equal(cron.status, 0, cron.stderr);
            assert.equal(cron.stderr, "");
            assert.deepEqual(published(cron.stdout), { IncantTmpOverUsers: '"atlasuser2"', IncantTmpOverUsage: '"atlasuser2:3"', IncantTmpGuardOk: "true" });
            // Root's, written by nobody else.
            const st = fs.statSync(state);
            assert.deepEqual([st.uid, st.mode & 0o022], [0, 0]);
        } finally {
            process.kill(pid, "SIGKILL");
        }
    });

    it("does not cross into another mount inside /tmp, neither to count nor to remove", () => {
        fs.mkdirSync(path.join(tmp, "mnt"));
        write(path.join(tmp, "left"), 1, U1);
        // A tmpfs on tmp/mnt in the script's own mount namespace, with a file of atlasuser1 (idle) on it.
        const r = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c",
            `mount -t tmpfs -o size=4m incant-test "$1" && mount --bind "$2" /etc/passwd && head -c 1048576 /dev/zero > "$1/on-mount" && chown ${U1} "$1/on-mount" && bash "$3" once ${USER_UID_MIN} ${USER_UID_MAX} "$4" && ls "$1"`,
            "x", path.join(tmp, "mnt"), passwd, path.join(SCRIPTS, HEALTH_SCRIPTS.tmp), tmp], {
            encoding: "utf8", timeout: 60_000, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", INCANT_TMP_GUARD_STATE: state, INCANT_TMP_GUARD_LOG: "" },
        });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), "on-mount", "the file on the other mount is kept");
        assert.deepEqual(fs.readdirSync(tmp), ["mnt"], "atlasuser1's file in the directory itself is removed");
        assert.equal(fs.readFileSync(state, "utf8"), "", "the mount's file is not counted");
    });

    it("publish: the users above the limit with their MiB, only valid names; a stale or missing state lists nobody", () => {
        fs.mkdirSync(path.dirname(state), { recursive: true });
        fs.writeFileSync(state, `atlasuser1 3145728\natlasuser2 2048\natlas"x 9999999\natlasuser3 1048577\n`);
        const r = guard(["publish", String(TMP_LIMIT_MIB), "120"], { state });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(published(r.stdout), { IncantTmpOverUsers: '"atlasuser1,atlasuser3"', IncantTmpOverUsage: '"atlasuser1:3072,atlasuser3:1024"', IncantTmpGuardOk: "true" });
        const old = new Date(Date.now() - 600_000);
        fs.utimesSync(state, old, old);
        assert.deepEqual(published(guard(["publish", String(TMP_LIMIT_MIB), "120"], { state }).stdout), { IncantTmpOverUsers: '""', IncantTmpOverUsage: '""', IncantTmpGuardOk: "false" });
        fs.rmSync(state);
        assert.deepEqual(published(guard(["publish", String(TMP_LIMIT_MIB), "120"], { state }).stdout).IncantTmpGuardOk, "false");
        assert.equal(guard(["publish", "1m", "120"], { state }).status, 2);
    });
});

describe("worker /tmp guard: the rendered worker configuration and its policy (#12)", function () {
    this.timeout(120_000);
    let install: HtcondorInstall;
    let conf: string, dir: string;
    before(async function () {
        const found = findHtcondor();
        requireCondition(this, !("missing" in found), "missing" in found ? found.missing : "");
        install = found as HtcondorInstall;
        const run: ProgramRun = await runProgram("dev", {}, { program: PROGRAM });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-tmp-policy-"));
        conf = path.join(dir, "worker.conf");
        fs.writeFileSync(conf, htcondorConfigs(run)["htcondor/worker.conf"]);
    });
    after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

    const env = () => ({ PATH: "/usr/bin:/bin", LD_LIBRARY_PATH: path.join(install.prefix, "lib") });
    const value = (key: string) => {
        const r = spawnSync(path.join(install.prefix, "bin", "condor_config_val"), [key], { encoding: "utf8", env: { ...env(), CONDOR_CONFIG: conf } });
        assert.equal(r.status, 0, `${key}: ${r.stdout}${r.stderr}`);
        return r.stdout.trim();
    };
    /**
     * A startd expression evaluated by HTCondor's ClassAd library: the slot ad (MY) merged with the
     * job's attributes, TARGET. dropped (condor_status -target does not reach -af in 24.0; the job's
     * attributes are not in a slot ad, so the merge does not change what they name).
     */
    const evaluate = (expr: string, ad: Record<string, string | number>) => {
        const file = path.join(dir, "merged.ad");
        fs.writeFileSync(file, Object.entries(ad).map(([k, v]) => `${k} = ${typeof v === "string" ? JSON.stringify(v) : v}`).join("\n") + "\n");
        const r = spawnSync(path.join(install.prefix, "bin", "condor_status"), ["-ads", file, "-af", expr.replace(/\bTARGET\./g, "")],
            { encoding: "utf8", env: { ...env(), CONDOR_CONFIG: "/dev/null" } });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.trim();
    };

    it("the master runs the guard as a daemon (root) and the startd the publishing cron", () => {
        assert.ok(value("DAEMON_LIST").split(/[\s,]+/).includes(TMP_GUARD_DAEMON));
        assert.equal(value(TMP_GUARD_DAEMON), `${HEALTH_DIR}/${HEALTH_SCRIPTS.tmp}`);
        assert.equal(value(`${TMP_GUARD_DAEMON}_ARGS`), `watch ${TMP_GUARD_PERIOD_SECONDS} ${USER_UID_MIN} ${USER_UID_MAX} /tmp /var/tmp`);
        assert.ok(value("STARTD_CRON_JOBLIST").split(/[\s,]+/).includes("INCANT_TMP"));
        assert.equal(value("STARTD_CRON_INCANT_TMP_ARGS"), `publish ${TMP_LIMIT_MIB} ${4 * TMP_GUARD_PERIOD_SECONDS}`);
    });

    it("holds the owner's job with the reason and subcode, not another user's; the memory and disk holds keep theirs", () => {
        const slot = { Memory: 2048, Disk: 41943040, IncantTmpOverUsers: "atlasuser2,atlasuser1", IncantTmpOverUsage: "atlasuser2:1100,atlasuser1:3072", HasCvmfs: "true", IncantDrain: "false" };
        const job = (owner: string, extra: Record<string, number> = {}) => ({ ...slot, HasCvmfs: true as unknown as string, Owner: owner, JobUniverse: 5, MemoryUsage: 100, DiskUsage: 1000, ...extra });
        const [hold, reason, subcode, preempt, start] = ["WANT_HOLD", "WANT_HOLD_REASON", "WANT_HOLD_SUBCODE", "PREEMPT", "START"].map(value);
        const over = job("atlasuser1");
        assert.equal(evaluate(hold, over), "true");
        assert.equal(evaluate(preempt, over), "true");
        assert.equal(evaluate(subcode, over), String(TMP_HOLD_SUBCODE));
        assert.equal(evaluate(reason, over), `atlasuser1 holds 3072 MiB under /tmp and /var/tmp on this worker, over the ${TMP_LIMIT_MIB} MiB a user may; write temporary files under $TMPDIR (the job's sandbox)`);
        assert.equal(evaluate(start, over), "false", "no new job of that user starts on this worker");
        // A user whose name is a prefix or suffix of a listed one is not listed.
        for (const other of ["atlasuser", "atlasuser10", "tlasuser1"]) {
            const ok = job(other);
            assert.equal(evaluate(hold, ok), "false", other);
            assert.equal(evaluate(preempt, ok), "false", other);
            assert.equal(evaluate(start, ok), "true", other);
        }
        const memory = job("atlasuser3", { MemoryUsage: 4096 });
        assert.deepEqual([evaluate(hold, memory), evaluate(reason, memory), evaluate(subcode, memory)], ["true", "memory usage exceeded request_memory", "102"]);
        const disk = job("atlasuser3", { DiskUsage: 50000000 });
        assert.deepEqual([evaluate(hold, disk), evaluate(reason, disk), evaluate(subcode, disk)], ["true", "disk usage exceeded allocated disk", "104"]);
        // Before the first cron run the attributes are undefined: nobody is held, jobs start.
        const fresh = { ...job("atlasuser1"), IncantTmpOverUsers: undefined as unknown as string, IncantTmpOverUsage: undefined as unknown as string };
        delete (fresh as Record<string, unknown>).IncantTmpOverUsers;
        delete (fresh as Record<string, unknown>).IncantTmpOverUsage;
        assert.deepEqual([evaluate(hold, fresh), evaluate(start, fresh)], ["false", "true"]);
    });
});
