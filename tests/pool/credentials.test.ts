/**
 * Credentials delivered to jobs on the loopback pool (issue #14 item 6, components/htcondor/
 * credentials.ts): the dev stack with `incant:iam.jobTokens` set, so the scheduler pod runs
 * condor_credd and the facility's credential monitor (incant-credmon.py) on the rendered
 * configuration. atlasuser1 stores a refresh token from the submit container with
 * condor_store_cred (through CREDD_HOST, with their IAM token), the credmon exchanges it at the
 * loopback IAM's token endpoint (issuer-server.ts: short-lived access tokens numbered by a
 * `refresh_count` claim), and a job with `use_oauth_services` copies $_CONDOR_CREDS/<service>.use
 * each time it changes: the token reaches the sandbox and is refreshed while the job runs.
 * atlasuser2 can neither read it in the sandbox nor store a credential as atlasuser1.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CREDMON_SCAN_SECONDS, SANDBOX_REFRESH_SECONDS } from "../../components/htcondor/credentials";
import { requireLoopbackPool } from "./install";
import { registerRefreshTokens } from "./issuer";
import { output, userSession } from "./journey";
import { RELEASE_MOUNT } from "./overlay";
import { hostPathOf } from "./pod";
import { devStackWith, LoopbackPool, removeStackFile, setting } from "./pool";

const CLIENT = "incant-loopback-jobs";
const SERVICE = "wlcg";
/** Access tokens of the loopback IAM live this long: each credmon scan finds one past half its life. */
const LIFETIME = 40;
/** The job runs long enough for two sandbox refreshes after a credmon refresh. */
const JOB_SECONDS = CREDMON_SCAN_SECONDS + 2 * SANDBOX_REFRESH_SECONDS + 30;
const REFRESH_TOKEN = { atlasuser1: "loopback-refresh-token-of-atlasuser1", atlasuser2: "loopback-refresh-token-of-atlasuser2" };


/** The claims of a JWT (no verification: the test reads what the job saw). */
const claims = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

describe("HTCondor pool on loopback: IAM tokens delivered to jobs (credd + credmon)", function () {
    let pool: LoopbackPool;
    let stack: string;
    let scheddName: string;
    let credDir: string;

    before(async function () {
        const install = requireLoopbackPool(this, ["python3"]);
        stack = devStackWith("incant:iam", `jobTokens:\n  clientId: ${CLIENT}`);
        pool = await LoopbackPool.create(install, { stackFile: stack });
        scheddName = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        // What IAM knows: each user's refresh token, issued to the facility's job-token client.
        const sub = (user: string) => pool.rendered.mapfile.split("\n").find((l) => l.endsWith(` ${user}@${setting(pool.rendered.conf.scheduler, "TRUST_DOMAIN")}`))!
            .split(/\s+/)[1].replace(/^\^.*,/, "").replace(/\$$/, "").replace(/\\(.)/g, "$1");
        registerRefreshTokens(pool.issuer, Object.fromEntries(Object.entries(REFRESH_TOKEN).map(([user, rt]) =>
            [rt, { sub: sub(user), clientId: CLIENT, iss: pool.issuerUrl(), lifetime: LIFETIME }])));
        pool.start("central-manager", "scheduler", "worker", "submit");
        // SEC_CREDENTIAL_DIRECTORY_OAUTH: $(SPOOL)/oauth_credentials, on the spool volume.
        credDir = path.join(pool.volumes["schedd-spool"], "oauth_credentials");
        await pool.waitForSubmitUser("atlasuser2");
        await pool.waitForWorkerSlot();
    });

    after(async function () {
        this.timeout(60_000);
        if (pool) await pool.stop();
        removeStackFile(stack);
    });

    const credmonLog = () => pool.daemonLog("scheduler", "CredMonOAuthLog");

    it("runs the credmon as the credd expects: a root:condor 2770 directory on the spool, its pid, CREDMON_COMPLETE", async () => {
        await pool.waitFor("CREDMON_COMPLETE", () => fs.existsSync(path.join(credDir, "CREDMON_COMPLETE")), 60_000)
            .catch((e) => { throw new Error(`${e.message}\n${credmonLog()}\n${pool.daemonLog("scheduler", "MasterLog").split("\n").slice(-20).join("\n")}`); });
        // root:condor 2770, as store_cred.cpp says (the credd makes each user's directory as condor).
        const dir = fs.statSync(credDir);
        const condorGid = Number(pool.pods.scheduler.exec(["id", "-g", "condor"]).stdout.trim());
        assert.deepEqual([dir.uid, dir.gid, dir.mode & 0o7777], [0, condorGid, 0o2770]);
        const pid = Number(fs.readFileSync(path.join(credDir, "pid"), "utf8"));
        assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"), /incant-credmon\.py/);
        // The credd runs beside it, reached on the schedd's port without a shared-port id.
        await pool.waitFor("the credd", () => pool.daemonLog("scheduler", "CredLog").length > 0, 30_000);
    });

    it("stores atlasuser1's refresh token through the credd; the credmon writes the access token, root's and private", async () => {
        const u = userSession(pool, "atlasuser1");
        const file = hostPathOf(pool.pods.submit.dir, "/tmp/rt-atlasuser1.json")!;
        fs.writeFileSync(file, JSON.stringify({ refresh_token: REFRESH_TOKEN.atlasuser1 }), { mode: 0o600 });
        fs.chownSync(file, u.uid, u.uid);
        const r = u.run([`${RELEASE_MOUNT}/sbin/condor_store_cred`, "add-oauth", "-s", SERVICE, "-i", "/tmp/rt-atlasuser1.json"]);
        assert.equal(r.status, 0, `${output(r)}\n${pool.daemonLog("scheduler", "CredLog").split("\n").slice(-20).join("\n")}`);
        const top = path.join(credDir, "atlasuser1", `${SERVICE}.top`), use = path.join(credDir, "atlasuser1", `${SERVICE}.use`);
        assert.equal(JSON.parse(fs.readFileSync(top, "utf8")).refresh_token, REFRESH_TOKEN.atlasuser1);
        await pool.waitFor(`${SERVICE}.use`, () => fs.existsSync(use), 30_000).catch((e) => { throw new Error(`${e.message}\n${credmonLog()}`); });
        for (const f of [top, use]) {
            const st = fs.statSync(f);
            assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600], f);
        }
        const token = claims(JSON.parse(fs.readFileSync(use, "utf8")).access_token);
        assert.equal(token.client_id, CLIENT);
        assert.equal(token.scope, "storage.read:/ storage.modify:/");
        assert.equal(token.aud, "https://wlcg.cern.ch/jwt/v1/any");
        assert.doesNotMatch(credmonLog(), /loopback-refresh-token|eyJ/, "the credmon logged a token");
    });

    it("refuses atlasuser2 storing a credential as atlasuser1", () => {
        const u = userSession(pool, "atlasuser2");
        const file = hostPathOf(pool.pods.submit.dir, "/tmp/rt-atlasuser2.json")!;
        fs.writeFileSync(file, JSON.stringify({ refresh_token: REFRESH_TOKEN.atlasuser2 }), { mode: 0o600 });
        fs.chownSync(file, u.uid, u.uid);
        const domain = setting(pool.rendered.conf.scheduler, "TRUST_DOMAIN");
        const r = u.run([`${RELEASE_MOUNT}/sbin/condor_store_cred`, "add-oauth", "-s", SERVICE, "-u", `atlasuser1@${domain}`, "-i", "/tmp/rt-atlasuser2.json"]);
        console.log(`      atlasuser2 as atlasuser1: exit ${r.status}: ${output(r).trim().split("\n").slice(-2).join(" | ")}`);
        assert.notEqual(r.status, 0, output(r));
        assert.equal(JSON.parse(fs.readFileSync(path.join(credDir, "atlasuser1", `${SERVICE}.top`), "utf8")).refresh_token, REFRESH_TOKEN.atlasuser1);
    });

    it(`puts the token in the job's sandbox and refreshes it while the job runs (${JOB_SECONDS} s)`, async function () {
        this.timeout((JOB_SECONDS + 180) * 1000);
        const u = userSession(pool, "atlasuser1");
        const dir = path.join(pool.volumes.home, "atlasuser1", "creds");
        fs.mkdirSync(dir, { recursive: true });
        // Copies the sandbox's token each time it changes, and the sandbox directory's owner and mode.
        fs.writeFileSync(path.join(dir, "watch.sh"), [
            "#!/bin/bash", "set -eu", `use="$_CONDOR_CREDS/${SERVICE}.use"`, "out=/home/atlasuser1/creds/seen", "mkdir -p \"$out\"",
            "stat -c '%U %a' \"$_CONDOR_CREDS\" \"$use\" > \"$out/stat\"", "n=0; last=",
            `end=$((SECONDS + ${JOB_SECONDS}))`,
            "while [ \"$SECONDS\" -lt \"$end\" ]; do",
            "  sum=$(sha256sum < \"$use\")",
            "  if [ \"$sum\" != \"$last\" ]; then n=$((n + 1)); cp \"$use\" \"$out/use.$n\"; echo \"$n $SECONDS\" >> \"$out/times\"; last=$sum; fi",
            "  sleep 2", "done", ""].join("\n"), { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "creds.sub"), ["executable = watch.sh", `use_oauth_services = ${SERVICE}`, "request_cpus = 1", "request_memory = 32MB",
            "request_disk = 1MB", "should_transfer_files = YES", "output = watch.out", "error = watch.err", "queue", ""].join("\n"));
        for (const f of ["", "watch.sh", "creds.sub"]) fs.chownSync(path.join(dir, f), u.uid, u.uid);
        const submit = u.run(["condor_submit", "-remote", scheddName, "creds.sub"], { cwd: "/home/atlasuser1/creds" });
        assert.equal(submit.status, 0, output(submit));
        const seen = path.join(dir, "seen");
        await pool.waitFor("the first token in the sandbox", () => fs.existsSync(path.join(seen, "use.1")), 120_000).catch((e) => {
            throw new Error(`${e.message}\n${pool.pods.scheduler.exec(["condor_q", "-allusers", "-af", "JobStatus", "HoldReason"]).stdout}\n${pool.daemonLog("scheduler", "ShadowLog").split("\n").slice(-15).join("\n")}`);
        });

        // Meanwhile, in the worker: the sandbox copy is the job owner's, and atlasuser2 cannot read it.
        const found = pool.pods.worker.exec(["sh", "-c", `ls -d /var/lib/condor/execute/dir_*/.condor_creds/${SERVICE}.use`]);
        assert.equal(found.status, 0, output(found));
        const inSandbox = found.stdout.trim().split("\n")[0];
        const other = pool.pods.worker.exec(["runuser", "-u", "atlasuser2", "--", "cat", inSandbox]);
        console.log(`      atlasuser2 reading ${inSandbox}: exit ${other.status}: ${other.stderr.trim()}`);
        assert.notEqual(other.status, 0, "atlasuser2 read atlasuser1's token");
        assert.match(other.stderr, /Permission denied/);

        await pool.waitFor("a refreshed token in the sandbox", () => fs.existsSync(path.join(seen, "use.2")), (JOB_SECONDS + 30) * 1000).catch((e) => {
            throw new Error(`${e.message}\n${credmonLog()}\n${pool.daemonLog("worker", "StarterLog.slot1_1").split("\n").filter((l) => /CRED/i.test(l)).slice(-10).join("\n")}`);
        });
        const tokens = fs.readdirSync(seen).filter((f) => f.startsWith("use.")).sort().map((f) => claims(JSON.parse(fs.readFileSync(path.join(seen, f), "utf8")).access_token));
        console.log(`      tokens the job saw: ${tokens.map((t) => `#${t.refresh_count} exp ${t.exp}`).join(", ")}; ${fs.readFileSync(path.join(seen, "times"), "utf8").trim().replace(/\n/g, "; ")}`);
        assert.ok(tokens.length >= 2);
        const first = tokens[0], last = tokens[tokens.length - 1];
        assert.ok(Number(last.refresh_count) > Number(first.refresh_count), "a later token was not issued later");
        assert.ok(Number(last.exp) > Number(first.exp), "a later token does not expire later");
        for (const t of tokens) assert.equal(t.client_id, CLIENT);
        const [dirStat, fileStat] = fs.readFileSync(path.join(seen, "stat"), "utf8").trim().split("\n");
        // The starter makes .condor_creds 0755 inside the sandbox, which is the user's 0700 (hence
        // atlasuser2's "Permission denied" above); the token itself is the user's 0600.
        assert.match(dirStat, /^atlasuser1 \d+$/);
        assert.match(fileStat, /^atlasuser1 600$/);
        pool.pods.scheduler.exec(["condor_rm", "atlasuser1"]);
    });
});
