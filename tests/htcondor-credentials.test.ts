/**
 * Job credentials (issue #14 item 6, components/htcondor/credentials.ts): the configuration the
 * program renders for the credd, the credmon and the starters from `incant:iam.jobTokens`, its
 * validation, and the two Python programs (pyflakes; the credmon run against a token endpoint on
 * 127.0.0.1 in a temporary credential directory). The whole path runs on the loopback pool
 * (tests/pool/credentials.test.ts).
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { credmonArgs, jobTokenSettings, scheddCredentials, starterCredentials, submitCredentials, tokenEndpoint } from "../components/htcondor/credentials";
import { poolSettings, renderCondorConfig, renderSubmitHostConfig, schedulerConfig, submitHostAliases, workerConfig, poolEndpoints } from "../components/htcondor/config";
import { GOOD_CONFIG, REQUIRED_SECRETS, configProblems } from "./harness/config";
import { requireTool } from "./harness/tools";
import { RawConfig, validateConfig } from "../components/config/validate";

const ROOT = path.resolve(__dirname, "..");
const CREDMON = path.join(ROOT, "components", "htcondor", "incant-credmon.py");
const SETUP = path.join(ROOT, "components", "submit", "incant-token-setup.py");

const CTX = { stack: "dev", secretKeys: REQUIRED_SECRETS };
const withTokens = (jobTokens: Record<string, unknown>): RawConfig => ({ ...GOOD_CONFIG, iam: { jobTokens } });
const settingsOf = (raw: RawConfig) => poolSettings(validateConfig(raw, CTX), "htcondor", "192.168.100.10");
/** "KEY = value" of a rendered configuration (last wins). */
const value = (conf: string, key: string) => [...conf.matchAll(new RegExp(`^${key} = (.*)$`, "gm"))].pop()?.[1];

describe("job credentials: configuration (credentials.ts)", () => {
    it("renders nothing of it without incant:iam.jobTokens", () => {
        const s = settingsOf(GOOD_CONFIG);
        assert.equal(s.jobTokens, undefined);
        for (const conf of [renderCondorConfig(schedulerConfig(s)), renderCondorConfig(workerConfig(s))]) assert.doesNotMatch(conf, /CRED/);
        assert.doesNotMatch(renderSubmitHostConfig(poolEndpoints(s), validateConfig(GOOD_CONFIG, CTX)), /CREDD_HOST|INCANT_JOB_TOKEN/);
        assert.equal(submitHostAliases(poolEndpoints(s)).length, 1);
    });

    it("gives the scheduler a credd on the spool and our credmon with the defaults (WLCG storage scopes)", () => {
        const s = settingsOf(withTokens({ clientId: "incant-jobs" }));
        const conf = renderCondorConfig(schedulerConfig(s));
        assert.equal(value(conf, "SEC_CREDENTIAL_DIRECTORY_OAUTH"), "$(SPOOL)/oauth_credentials");
        assert.equal(value(conf, "TRUST_CREDENTIAL_DIRECTORY"), "false");
        assert.equal(value(conf, "DAEMON_LIST"), "$(DAEMON_LIST) CREDD CREDMON_OAUTH");
        assert.equal(value(conf, "CREDD_ARGS"), "-sock credd");
        assert.equal(value(conf, "SHARED_PORT_DEFAULT_ID"), "credd");
        assert.equal(value(conf, "CREDMON_OAUTH_ARGS"), "--cred-dir $(SEC_CREDENTIAL_DIRECTORY_OAUTH) --service wlcg --token-url https://iam.cloud.infn.it/token " +
            "--client-id incant-jobs --scopes storage.read:/,storage.modify:/ --audience https://wlcg.cern.ch/jwt/v1/any --interval 60 --log $(CREDMON_OAUTH_LOG)");
        assert.equal(value(renderCondorConfig(workerConfig(s)), "SEC_CREDENTIAL_REFRESH"), "60");
    });

    it("points the submit container at the credd (the schedd's name on its NodePort) and at incant-token-setup", () => {
        const raw = withTokens({ clientId: "incant-jobs", service: "eos", scopes: ["storage.read:/atlas"], issuer: "https://atlas-auth.cern.ch/" });
        const s = settingsOf(raw);
        const conf = renderSubmitHostConfig(poolEndpoints(s), validateConfig(raw, CTX));
        assert.equal(value(conf, "CREDD_HOST"), `schedd.htcondor.svc:${s.schedulerPort}`);
        assert.equal(value(conf, "SEC_CREDENTIAL_STORER"), "/etc/incant/bin/incant-token-setup");
        assert.equal(value(conf, "INCANT_JOB_TOKEN_TOKEN_URL"), "https://atlas-auth.cern.ch/token");
        assert.equal(value(conf, "INCANT_JOB_TOKEN_DEVICE_URL"), "https://atlas-auth.cern.ch/devicecode");
        assert.equal(value(conf, "INCANT_JOB_TOKEN_SCOPES"), "storage.read:/atlas");
        assert.deepEqual(submitHostAliases(poolEndpoints(s), true)[1], { host: "schedd.htcondor.svc", ip: "192.168.100.10" });
        assert.equal(value(renderCondorConfig(schedulerConfig(s)), "EOS_TOKEN_URL"), "https://atlas-auth.cern.ch/token");
    });

    it("refuses a job-token configuration that would break the files it lands in", () => {
        assert.deepEqual(configProblems(withTokens({ clientId: "incant-jobs" })), []);
        const refused: [Record<string, unknown>, RegExp][] = [
            [{}, /iam\.jobTokens\.clientId is required/],
            [{ clientId: "a b" }, /iam\.jobTokens\.clientId/],
            [{ clientId: "x", service: "WLCG" }, /iam\.jobTokens\.service/],
            [{ clientId: "x", service: "wl/cg" }, /iam\.jobTokens\.service/],
            [{ clientId: "x", scopes: ["storage.read:/ storage.modify:/"] }, /iam\.jobTokens\.scopes\[0\]/],
            [{ clientId: "x", scopes: ["a,b"] }, /iam\.jobTokens\.scopes\[0\]/],
            [{ clientId: "x", audience: "a b" }, /iam\.jobTokens\.audience/],
            [{ clientId: "x", issuer: "https://atlas-auth.cern.ch" }, /iam\.jobTokens\.issuer must end with \//],
            [{ clientId: "x", issuer: "http://atlas-auth.cern.ch/" }, /iam\.jobTokens\.issuer/],
            [{ clientId: "x", sevrice: "wlcg" }, /iam\.jobTokens\.sevrice is not a known key/],
        ];
        for (const [jobTokens, re] of refused) {
            const found = configProblems(withTokens(jobTokens));
            assert.ok(found.some((p) => re.test(p)), `${JSON.stringify(jobTokens)}: ${found.join("; ")}`);
        }
    });

    it("keeps every credmon argument one word", () => {
        const t = jobTokenSettings(validateConfig(withTokens({ clientId: "incant-jobs" }), CTX).iam)!;
        assert.throws(() => credmonArgs({ ...t, clientId: "a b" }), /not one word/);
        assert.equal(tokenEndpoint("https://iam.example.org/"), "https://iam.example.org/token");
        assert.ok(scheddCredentials(t).length && starterCredentials().length && submitCredentials(t, "h", 1).length);
    });
});

describe("job credentials: the programs", function () {
    this.timeout(60_000);

    it("pass pyflakes", function () {
        requireTool(this, "pyflakes3");
        const r = spawnSync("pyflakes3", [CREDMON, SETUP], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    it("incant-credmon: refreshes a .top at the token endpoint into a root-owned 0600 .use, CREDMON_COMPLETE and a readable pid", async function () {
        requireTool(this, "python3");
        if (process.getuid?.() !== 0) this.skip();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-credmon-"));
        const cred = path.join(dir, "creds");
        const requests: URLSearchParams[] = [];
        let count = 0;
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d: Buffer) => { body += d.toString(); });
            req.on("end", () => {
                const form = new URLSearchParams(body);
                requests.push(form);
                count += 1;
                res.writeHead(form.get("refresh_token") === "rt-alice" ? 200 : 400, { "content-type": "application/json" });
                res.end(JSON.stringify(form.get("refresh_token") === "rt-alice" ? { access_token: `at-${count}`, expires_in: 2, token_type: "Bearer" } : { error: "invalid_grant" }));
            });
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
        const credmon = spawn("python3", [CREDMON, "--cred-dir", cred, "--service", "wlcg", "--token-url", url, "--client-id", "cid",
            "--scopes", "storage.read:/,storage.modify:/", "--audience", "aud", "--interval", "1", "--group", "root", "--log", path.join(dir, "log")], { stdio: "ignore" });
        const wait = async (what: string, ok: () => boolean) => {
            for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
            assert.ok(ok(), `${what}; log: ${fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : ""}`);
        };
        try {
            await wait("CREDMON_COMPLETE", () => fs.existsSync(path.join(cred, "CREDMON_COMPLETE")));
            assert.equal(fs.statSync(cred).mode & 0o7777, 0o2770);
            assert.equal(fs.statSync(path.join(cred, "pid")).mode & 0o777, 0o644);
            assert.equal(Number(fs.readFileSync(path.join(cred, "pid"), "utf8")), credmon.pid);
            // What the credd does: a user's 0700 directory, the .top, then SIGHUP.
            for (const [user, rt] of [["alice", "rt-alice"], ["mallory", "rt-unknown"]]) {
                fs.mkdirSync(path.join(cred, user), { mode: 0o700 });
                fs.writeFileSync(path.join(cred, user, "wlcg.top"), JSON.stringify({ refresh_token: rt }), { mode: 0o600 });
            }
            // Hostile: a link in the credential directory to a folder elsewhere holding a valid .top;
            // the credmon runs as root and must never write through it.
            const outside = path.join(dir, "outside");
            fs.mkdirSync(outside);
            fs.writeFileSync(path.join(outside, "wlcg.top"), JSON.stringify({ refresh_token: "rt-alice" }));
            fs.symlinkSync(outside, path.join(cred, "eve"));
            credmon.kill("SIGHUP");
            const use = path.join(cred, "alice", "wlcg.use");
            await wait("alice's .use", () => fs.existsSync(use));
            const st = fs.statSync(use);
            assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600]);
            const first = JSON.parse(fs.readFileSync(use, "utf8")).access_token;
            assert.equal(requests[0].get("grant_type"), "refresh_token");
            assert.equal(requests[0].get("client_id"), "cid");
            assert.equal(requests.find((f) => f.get("refresh_token") === "rt-alice")!.get("scope"), "storage.read:/ storage.modify:/");
            // Past half its 2 s lifetime, the next scan replaces it.
            await wait("a refreshed .use", () => JSON.parse(fs.readFileSync(use, "utf8")).access_token !== first);
            assert.ok(!fs.existsSync(path.join(cred, "mallory", "wlcg.use")), "a refused refresh token got an access token");
            assert.deepEqual(fs.readdirSync(outside), ["wlcg.top"], "the credmon wrote through a link");
            assert.deepEqual(fs.readdirSync(path.join(cred, "alice")).sort(), ["wlcg.top", "wlcg.use"], "temporary files left behind");
            const log = fs.readFileSync(path.join(dir, "log"), "utf8");
            assert.match(log, /invalid_grant/);
            assert.doesNotMatch(log, /rt-alice|at-\d/, "the log shows a token");
            credmon.kill("SIGTERM");
            await wait("exit on SIGTERM", () => credmon.exitCode !== null);
        } finally {
            credmon.kill("SIGKILL");
            server.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
