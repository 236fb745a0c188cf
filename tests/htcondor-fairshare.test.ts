/**
 * Fair share (components/htcondor/fairshare.ts, issue #17): the groups and quotas as data, then the
 * rendered configurations read by HTCondor's own tools: condor_config_val resolves the central
 * manager's groups and quotas, condor_transform_ads applies the schedd's transform to job ads (a user
 * who names another's group is charged to their own). The pool on loopback exercises it with two
 * users (tests/pool/fairshare.test.ts).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { accountingGroup, groupQuotaSettings, groupQuotas, negotiatorFairShare } from "../components/htcondor/fairshare";
import { renderCondorConfig } from "../components/htcondor/config";
import { htcondorConfigs } from "../offline/artifacts";
import { ProgramRun, runProgram } from "./harness/program";
import { requireCondition } from "./harness/tools";
import { findHtcondor, HtcondorInstall } from "./pool/install";

const PROGRAM = path.join(__dirname, "fixtures", "htcondor-pool.program.ts");

describe("fair share (#17)", () => {
    describe("groups and quotas", () => {
        it("gives the paper's five users equal quotas that never add up to more than the pool", () => {
            const users = [1, 2, 3, 4, 5].map((i) => ({ name: `atlasuser${i}` }));
            const q = groupQuotas(users);
            assert.deepEqual(q.map((g) => [g.group, g.quota]), users.map((u) => [`group_${u.name}`, 0.2]));
            const three = groupQuotas([{ name: "a" }, { name: "b" }, { name: "c" }]);
            assert.ok(three.reduce((s, g) => s + g.quota, 0) <= 1, "thirds rounded down");
            assert.equal(three[0].quota, 0.3333);
        });

        it("weighs configured shares", () => {
            assert.deepEqual(groupQuotas([{ name: "a", share: 2 }, { name: "b" }, { name: "c" }]).map((g) => g.quota), [0.5, 0.25, 0.25]);
        });

        it("maps '-' in login names to '_' (configuration names) and refuses two users on one group", () => {
            assert.equal(accountingGroup("atlas-user1"), "group_atlas_user1");
            assert.throws(() => groupQuotas([{ name: "a-b" }, { name: "a_b" }]), /users a-b and a_b would share the accounting group group_a_b/);
        });

        it("renders no groups for a pool without users (GROUP_NAMES empty would be an error in waiting)", () => {
            const conf = renderCondorConfig([...negotiatorFairShare({ priorityHalfLifeHours: 24, claimWorklifeSeconds: 600 }), ...groupQuotaSettings([])]);
            assert.doesNotMatch(conf, /GROUP_/);
            assert.match(conf, /^PRIORITY_HALFLIFE = 86400$/m);
        });
    });

    describe("the dev stack's rendered configuration, read by HTCondor", () => {
        let run: ProgramRun;
        let install: HtcondorInstall;
        let dir: string;
        before(async function () {
            this.timeout(120_000);
            const found = findHtcondor();
            requireCondition(this, !("missing" in found), "missing" in found ? found.missing : "");
            install = found as HtcondorInstall;
            run = await runProgram("dev", {}, { program: PROGRAM });
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-fairshare-"));
        });
        after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

        /** An HTCondor tool of the install, on one rendered configuration file (and the users' part it includes, users.ts). */
        const tool = (role: string, name: string, args: string[]) => {
            const conf = path.join(dir, `${role}.conf`);
            const files = htcondorConfigs(run);
            const users = files[`htcondor/users/${role}.conf`];
            if (users !== undefined) fs.writeFileSync(path.join(dir, `${role}-users.conf`), users);
            fs.writeFileSync(conf, files[`htcondor/${role}.conf`].replace(/^include ifexist : \S+$/m, `include ifexist : ${path.join(dir, `${role}-users.conf`)}`));
            return spawnSync(path.join(install.prefix, "bin", name), args, {
                encoding: "utf8", timeout: 30_000,
                env: { PATH: "/usr/bin:/bin", CONDOR_CONFIG: conf, POD_IP: "10.244.1.10", LD_LIBRARY_PATH: path.join(install.prefix, "lib") },
            });
        };
        const value = (role: string, key: string) => {
            const r = tool(role, "condor_config_val", [key]);
            assert.equal(r.status, 0, `${key}: ${r.stdout}${r.stderr}`);
            return r.stdout.trim();
        };

        it("the negotiator has one group per user, a fifth of the pool each, surplus shared, a 24 h half-life", () => {
            assert.equal(value("central-manager", "GROUP_NAMES"), [1, 2, 3, 4, 5].map((i) => `group_atlasuser${i}`).join(", "));
            for (let i = 1; i <= 5; i++) assert.equal(value("central-manager", `GROUP_QUOTA_DYNAMIC_group_atlasuser${i}`), "0.2");
            assert.equal(value("central-manager", "GROUP_ACCEPT_SURPLUS"), "true");
            assert.equal(value("central-manager", "PRIORITY_HALFLIFE"), "86400");
            assert.equal(value("worker", "CLAIM_WORKLIFE"), "600");
        });

        it("the schedd's transform charges every job to its owner's group, whatever the submit file says", () => {
            const job = path.join(dir, "job.ad");
            // atlasuser2 asks for atlasuser1's group (accounting_group = group_atlasuser1 in a submit file).
            fs.writeFileSync(job, 'Owner = "atlasuser2"\nAcctGroup = "group_atlasuser1"\nAcctGroupUser = "atlasuser2"\nAccountingGroup = "group_atlasuser1.atlasuser2"\nCmd = "/bin/true"\n');
            const names = value("scheduler", "JOB_TRANSFORM_NAMES");
            const r = tool("scheduler", "condor_transform_ads", ["-jobtransforms", names.replace(/\s+/g, ""), "-in", job]);
            // 24.0.23's condor_transform_ads exits 1 even when it transformed every ad: judge by what it wrote.
            assert.equal(r.stderr, "", r.stderr);
            assert.match(r.stdout, /^AccountingGroup = "group_atlasuser2\.atlasuser2"$/m);
            assert.match(r.stdout, /^AcctGroup = "group_atlasuser2"$/m);
            assert.match(r.stdout, /^AcctGroupUser = "atlasuser2"$/m);
            assert.deepEqual(value("scheduler", "PROTECTED_JOB_ATTRS").split(/[\s,]+/).filter(Boolean), ["AcctGroup", "AcctGroupUser", "AccountingGroup"]);
        });
    });
});
