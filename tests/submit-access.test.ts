/**
 * Physicists' access to the submit container (issue 14), run for real: Debian's sshd with the
 * rendered sshd_config, limits and login environment, the host-key script, the host's live
 * update script (update-users.sh) and the container's account sync (access-sync.sh), all in a
 * scratch "container": a mount and network namespace with its own copy of /etc, /home (0700
 * homes owned by the users, as the storage controller's user-dirs.sh makes them on NFS) and /run. The host's /etc is never touched.
 *
 * The update script reaches the "container" through a stand-in `docker` that runs the command
 * with nsenter and an empty environment, as `docker exec` would. Clients are the real ssh, sftp
 * and scp, pinning the host key host-key.sh printed. Each exchange is kept in a transcript
 * (printed at the end, and written to $INCANT_TRANSCRIPTS/submit-access.txt when set).
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ACCESS, LOGIN_GROUP, renderAccessList, renderLimits, renderSshdConfig, sshdConfigEntries, userLimits } from "../components/submit/access";
import { SUBMIT_SSH_PORT } from "../components/network/ports";
import { requireCondition, requireTool } from "./harness/tools";

const SUBMIT = path.resolve(__dirname, "..", "components", "submit");
const IMAGE = path.resolve(__dirname, "..", "images", "submit");
const LIMITS = userLimits(4096);
/** The submit container's environment as the program passes it (services.ts submitService). */
const SESSION_ENV = {
    CONDOR_HOST: "condor.htcondor.svc:30618", INCANT_SCHEDD: "schedd@incant.cloud.infn.it",
    // A ~ and a $ as the longest valid issuer may have them: quoted, never expanded.
    INCANT_IAM_ISSUER: "https://iam.cloud.infn.it/~x/$HOME", INCANT_TOKEN_AUDIENCE: "https://wlcg.cern.ch/jwt/v1/any",
};

interface Result { status: number | null; stdout: string; stderr: string }

describe("submit access: every script passes shellcheck (issue 14)", () => {
    for (const [file, shell] of [
        [path.join(SUBMIT, "access-sync.sh"), "bash"], [path.join(SUBMIT, "update-users.sh"), "bash"], [path.join(SUBMIT, "host-key.sh"), "bash"],
        [path.join(IMAGE, "incant-token-refresh.sh"), "bash"], [path.join(IMAGE, "pam-sshd.sh"), "sh"], [path.join(IMAGE, "incant-login.sh"), "sh"],
    ] as const) {
        it(path.basename(file), function () {
            requireTool(this, "shellcheck");
            const r = spawnSync("shellcheck", ["--severity=style", `--shell=${shell}`, file], { encoding: "utf8" });
            assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        });
    }
    it("shellcheck fails a broken script (the check can fail)", function () {
        requireTool(this, "shellcheck");
        assert.notEqual(spawnSync("shellcheck", ["--shell=bash", "-"], { input: "rm -rf $1/*\n" }).status, 0);
    });
});

describe("submit access: the rendered sshd, keys and account sync, for real in a namespace (issue 14)", function () {
    this.timeout(180_000);
    let dir: string;
    let holder: ChildProcess | undefined;
    let nsPid = 0;
    let hostKeyLine = "";
    const transcript: string[] = [];
    const key = (name: string) => path.join(dir, "keys", name);

    /** A command in the scratch namespace's network (and, with `mount`, its file system view). */
    const inNs = (argv: string[], opts: { mount?: boolean; input?: string; env?: NodeJS.ProcessEnv } = {}): Result => {
        const r = spawnSync("nsenter", ["-t", String(nsPid), "-n", ...(opts.mount ? ["-m"] : []), "--", ...argv],
            { encoding: "utf8", timeout: 30_000, input: opts.input, env: opts.env ?? process.env });
        return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    };
    const sshArgs = (keyName: string, knownHosts = "known_hosts") => ["-F", "/dev/null", "-i", key(keyName), "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${path.join(dir, knownHosts)}`, "-o", "ConnectTimeout=10"];
    /** ssh as `user` with `keyName`'s key; the exchange goes into the transcript. */
    const ssh = (user: string, keyName: string, command: string, extra: string[] = []): Result => {
        const r = inNs(["ssh", ...sshArgs(keyName), ...extra, "-p", String(SUBMIT_SSH_PORT), `${user}@127.0.0.1`, command]);
        transcript.push(`$ ssh -i ${keyName}.key ${extra.join(" ")}${extra.length ? " " : ""}-p ${SUBMIT_SSH_PORT} ${user}@127.0.0.1 '${command}'`,
            ...[r.stdout.trimEnd(), r.stderr.trimEnd()].filter(Boolean), `[exit ${r.status}]`, "");
        return r;
    };
    /** incant-submit-users on the "host", with the stand-in docker. */
    const updateUsers = (list: string): Result => {
        const r = spawnSync("bash", [path.join(SUBMIT, "update-users.sh"), "20"], {
            encoding: "utf8", timeout: 60_000, input: list,
            env: { ...process.env, ACCESS_DIR: path.join(dir, "host", "access"), DOCKER: path.join(dir, "bin", "docker"),
                SYNC: path.join(SUBMIT, "access-sync.sh"), NS_PID: String(nsPid) },
        });
        transcript.push("# incant-submit-users (host) -> docker exec incant-submit access-sync.sh", r.stderr.trimEnd(), `[exit ${r.status}]`, "");
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const users = (withUser2 = true) => renderAccessList([
        { name: "atlasuser1", uid: 20001, sshPublicKey: fs.readFileSync(`${key("u1")}.pub`, "utf8").trim() },
        ...(withUser2 ? [{ name: "atlasuser2", uid: 20002, sshPublicKey: fs.readFileSync(`${key("u2")}.pub`, "utf8").trim() }] : []),
        // Listed without a key: an account, no login.
        { name: "atlasuser3", uid: 20003 },
    ]);

    before(async function () {
        for (const tool of ["ssh", "sftp", "scp", "ssh-keygen", "unshare", "nsenter", "setpriv", "ip", "useradd", "gpasswd", "pkill"]) requireTool(this, tool);
        requireCondition(this, fs.existsSync("/usr/sbin/sshd"), "/usr/sbin/sshd (openssh-server; .ci/run installs it) is required");
        requireCondition(this, process.getuid?.() === 0, "root (namespaces, chown to the users' uids) is required");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-access-"));
        fs.chmodSync(dir, 0o755);
        for (const d of ["keys", "bin", "home", "host/access", "host/keys"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
        for (const name of ["u1", "u2", "intruder"]) {
            const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key(name)], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
        }
        // The container's /etc: a copy of this machine's, with the rendered files where the image
        // and the bind mounts put them (access.ts ACCESS.container).
        assert.equal(spawnSync("cp", ["-a", "/etc", path.join(dir, "etc")]).status, 0);
        const etc = (p: string) => path.join(dir, "etc", path.relative("/etc", p));
        fs.mkdirSync(etc(ACCESS.container.dir), { recursive: true });
        fs.mkdirSync(etc(ACCESS.container.hostKeyDir), { recursive: true });
        fs.writeFileSync(etc(ACCESS.container.sshdConfig), renderSshdConfig(sshdConfigEntries(SESSION_ENV)), { mode: 0o644 });
        fs.writeFileSync(etc(ACCESS.container.limits), renderLimits(LIMITS), { mode: 0o644 });
        fs.copyFileSync(path.join(IMAGE, "incant-login.sh"), etc("/etc/profile.d/incant-login.sh"));
        const pam = spawnSync("sh", [path.join(IMAGE, "pam-sshd.sh"), etc("/etc/pam.d/sshd")], { encoding: "utf8" });
        assert.equal(pam.status, 0, pam.stderr);
        // Homes as the storage controller makes them on NFS (user-dirs.sh: owner uid:uid, 0700).
        for (const [name, uid] of [["atlasuser1", 20001], ["atlasuser2", 20002], ["atlasuser3", 20003]] as const) {
            assert.equal(spawnSync("install", ["-d", "-o", String(uid), "-g", String(uid), "-m", "0700", path.join(dir, "home", name)]).status, 0);
        }
        // The host key, made on the "host" and bound read-only into the container.
        const hk = spawnSync("bash", [path.join(SUBMIT, "host-key.sh"), path.join(dir, "host", "keys")], { encoding: "utf8" });
        assert.equal(hk.status, 0, hk.stderr);
        hostKeyLine = hk.stdout.trim();
        fs.writeFileSync(path.join(dir, "known_hosts"), `[127.0.0.1]:${SUBMIT_SSH_PORT} ${hostKeyLine}\n`);
        // `docker inspect` says running; `docker exec <container> cmd...` enters the namespace with a clean environment.
        fs.writeFileSync(path.join(dir, "bin", "docker"), [
            "#!/bin/bash",
            'case "$1" in',
            "    inspect) echo true ;;",
            '    exec) shift 2; exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin nsenter -t "$NS_PID" -m -n -- "$@" ;;',
            '    *) echo "stand-in docker: $*" >&2; exit 2 ;;',
            "esac", "",
        ].join("\n"), { mode: 0o755 });
        const holderScript = [
            "set -euo pipefail",
            'd="$1"',
            "ip link set lo up",
            'mount --bind "$d/etc" /etc',
            'mount --bind "$d/home" /home',
            "mount -t tmpfs -o mode=0755 tmpfs /run",
            "mkdir -p /run/sshd /run/user",
            `mount --bind "$d/host/access" ${ACCESS.container.dir} && mount -o remount,bind,ro ${ACCESS.container.dir}`,
            `mount --bind "$d/host/keys" ${ACCESS.container.hostKeyDir} && mount -o remount,bind,ro ${ACCESS.container.hostKeyDir}`,
            `setpriv --pdeathsig KILL /usr/sbin/sshd -D -e -f ${ACCESS.container.sshdConfig} 2>>"$d/sshd.log" &`,
            "for _ in $(seq 100); do [ -s /run/incant-sshd.pid ] && break; sleep 0.1; done",
            '[ -s /run/incant-sshd.pid ] || { cat "$d/sshd.log" >&2; exit 1; }',
            'echo "READY $$"',
            // exec: the holder becomes the sleep, killed with unshare (--kill-child), and no grandchild keeps the test's pipes open.
            "exec sleep 600 >/dev/null 2>&1",
        ].join("\n");
        holder = spawn("setpriv", ["--pdeathsig", "KILL", "unshare", "--mount", "--net", "--fork", "--kill-child", "bash", "-c", holderScript, "holder", dir],
            { stdio: ["ignore", "pipe", "pipe"] });
        nsPid = await new Promise<number>((resolve, reject) => {
            let out = "", err = "";
            const t = setTimeout(() => reject(new Error(`the namespace did not come up: ${err}`)), 30_000);
            holder!.stderr!.on("data", (b) => { err += b; });
            holder!.stdout!.on("data", (b) => {
                out += b;
                const m = /READY (\d+)/.exec(out);
                if (m) { clearTimeout(t); resolve(Number(m[1])); }
            });
            holder!.on("exit", (code) => { clearTimeout(t); reject(new Error(`the namespace holder exited (${code}): ${err}`)); });
        });
        const first = updateUsers(users());
        assert.equal(first.status, 0, first.stderr);
    });

    after(function () {
        holder?.kill("SIGKILL");
        if (transcript.length) {
            const text = transcript.join("\n");
            if (process.env.INCANT_TRANSCRIPTS) fs.writeFileSync(path.join(process.env.INCANT_TRANSCRIPTS, "submit-access.txt"), text);
            if (process.env.INCANT_SHOW_TRANSCRIPTS) console.log(text);
        }
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("atlasuser1 logs in with their key as atlasuser1, in the login group only, with the per-user limits", function () {
        const r = ssh("atlasuser1", "u1", "id -un; id -Gn; ulimit -u; ulimit -d; pwd");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.stdout.trim().split("\n"), ["atlasuser1", `atlasuser1 ${LOGIN_GROUP}`, String(LIMITS.nproc), String(LIMITS.dataKb), "/home/atlasuser1"]);
        const log = fs.readFileSync(path.join(dir, "sshd.log"), "utf8");
        assert.match(log, /Accepted publickey for atlasuser1 from 127\.0\.0\.1 port \d+ ssh2: ED25519 SHA256:/, "the audit line names the user and the key");
    });

    it("every session, login shell or not, has the container's environment (CONDOR_HOST, INCANT_*)", () => {
        const r = ssh("atlasuser1", "u1", "echo $CONDOR_HOST $INCANT_SCHEDD $INCANT_IAM_ISSUER $INCANT_TOKEN_AUDIENCE");
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), Object.values(SESSION_ENV).join(" "));
    });

    it("the server presents the host key host-key.sh printed (pinned), and a re-run keeps it", () => {
        const again = spawnSync("bash", [path.join(SUBMIT, "host-key.sh"), path.join(dir, "host", "keys")], { encoding: "utf8" });
        assert.equal(again.stdout.trim(), hostKeyLine, "the key survives (a new container reads the same file)");
        assert.match(hostKeyLine, /^ssh-ed25519 [A-Za-z0-9+/]+={0,3}$/);
        fs.writeFileSync(path.join(dir, "known_hosts.other"), `[127.0.0.1]:${SUBMIT_SSH_PORT} ${fs.readFileSync(`${key("intruder")}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`);
        const r = inNs(["ssh", ...sshArgs("u1", "known_hosts.other"), "-p", String(SUBMIT_SSH_PORT), "atlasuser1@127.0.0.1", "true"]);
        assert.notEqual(r.status, 0, "a client pinning another key refuses the server");
        assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    });

    it("refuses a wrong key, root (even with a key file), an unknown user, a system account and a user listed without a key", () => {
        // Keys planted in the access directory by hand: only the login group may log in, never root.
        fs.copyFileSync(`${key("u1")}.pub`, path.join(dir, "host", "access", "authorized_keys", "root"));
        fs.copyFileSync(`${key("u1")}.pub`, path.join(dir, "host", "access", "authorized_keys", "daemon"));
        try {
            for (const [user, k] of [["atlasuser1", "u2"], ["atlasuser1", "intruder"], ["root", "u1"], ["nosuchuser", "u1"], ["daemon", "u1"], ["atlasuser3", "u1"]]) {
                const r = ssh(user, k, "id -un");
                assert.equal(r.status, 255, `${user} with ${k}: ${r.stdout}`);
                assert.match(r.stderr, /Permission denied \(publickey\)/, `${user} with ${k}`);
                assert.equal(r.stdout, "");
            }
        } finally {
            fs.rmSync(path.join(dir, "host", "access", "authorized_keys", "root"));
            fs.rmSync(path.join(dir, "host", "access", "authorized_keys", "daemon"));
        }
        const log = fs.readFileSync(path.join(dir, "sshd.log"), "utf8");
        assert.match(log, /User root from 127\.0\.0\.1 not allowed because none of user's groups are listed in AllowGroups/);
        assert.match(log, /Invalid user nosuchuser from 127\.0\.0\.1/);
    });

    it("a login has its token file in its own 0700 runtime directory; another user cannot read it, nor the home", () => {
        const w = ssh("atlasuser1", "u1", "bash -lc 'echo not-a-real-token > \"$BEARER_TOKEN_FILE\"; echo \"$BEARER_TOKEN_FILE\"; stat -c %a \"$XDG_RUNTIME_DIR\"'");
        assert.equal(w.status, 0, w.stderr);
        assert.deepEqual(w.stdout.trim().split("\n"), [`${ACCESS.container.runtimeRoot}/20001/bt_u20001`, "700"]);
        const r = ssh("atlasuser2", "u2", `cat ${ACCESS.container.runtimeRoot}/20001/bt_u20001`);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /Permission denied/);
        assert.doesNotMatch(r.stdout, /not-a-real-token/);
        const h = ssh("atlasuser2", "u2", "ls /home/atlasuser1");
        assert.notEqual(h.status, 0);
        assert.match(h.stderr, /Permission denied/);
    });

    it("sftp and scp write to the user's own home, owned by the user; forwarding is refused", () => {
        const local = path.join(dir, "analysis.C");
        fs.writeFileSync(local, "void analysis() {}\n");
        const batch = path.join(dir, "sftp.batch");
        fs.writeFileSync(batch, `put ${local} analysis.C\nls -l analysis.C\n`);
        const s = inNs(["sftp", ...sshArgs("u1"), "-b", batch, "-P", String(SUBMIT_SSH_PORT), "atlasuser1@127.0.0.1"]);
        transcript.push(`$ sftp -b <put analysis.C> -P ${SUBMIT_SSH_PORT} atlasuser1@127.0.0.1`, s.stdout.trimEnd(), `[exit ${s.status}]`, "");
        assert.equal(s.status, 0, s.stderr);
        const st = fs.statSync(path.join(dir, "home", "atlasuser1", "analysis.C"));
        assert.equal(st.uid, 20001);
        const back = path.join(dir, "back.C");
        const c = inNs(["scp", ...sshArgs("u1"), "-P", String(SUBMIT_SSH_PORT), "atlasuser1@127.0.0.1:analysis.C", back]);
        assert.equal(c.status, 0, c.stderr);
        assert.equal(fs.readFileSync(back, "utf8"), "void analysis() {}\n");
        const f = ssh("atlasuser1", "u1", "true", ["-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:8080:127.0.0.1:22"]);
        assert.notEqual(f.status, 0, "remote forwarding refused");
        assert.match(f.stderr, /forwarding failed|administratively prohibited/i);
    });

    it("a login keeps its token file current: incant-token-refresh (oidc-agent's oidc-token stood in), one per user, ends with the last session", async () => {
        // The stand-in oidc-token runs as the user: a new token per call, a failure while
        // $XDG_RUNTIME_DIR/fail exists; it records its arguments and counts its calls.
        const stub = path.join(dir, "bin", "oidc-token");
        fs.writeFileSync(stub, [
            "#!/bin/bash",
            'd="$XDG_RUNTIME_DIR"; calls=$(( $(cat "$d/calls" 2>/dev/null || echo 0) + 1 )); echo "$calls" > "$d/calls"',
            'echo "$*" > "$d/args"',
            '[ -e "$d/fail" ] && { echo "stand-in: agent not reachable" >&2; exit 1; }',
            'n=$(( $(cat "$d/issued" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$d/issued"; echo "token-$n"', "",
        ].join("\n"), { mode: 0o755 });
        const refresher = path.join(IMAGE, "incant-token-refresh.sh");
        const run = path.join(ACCESS.container.runtimeRoot, "20001");
        const cat = (f: string) => inNs(["cat", path.join(run, f)], { mount: true }).stdout.trim();
        const waitFor = async (what: string, ok: () => boolean) => {
            for (let i = 0; i < 150 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
            assert.ok(ok(), what);
        };
        // A login shell (the profile sets BEARER_TOKEN_FILE) starting the refresher twice, then staying.
        const session = spawn("nsenter", ["-t", String(nsPid), "-n", "--", "ssh", ...sshArgs("u1"), "-p", String(SUBMIT_SSH_PORT), "atlasuser1@127.0.0.1",
            `env INCANT_OIDC_TOKEN=${stub} INCANT_TOKEN_REFRESH_SECONDS=1 bash -lc 'setsid -f ${refresher}; setsid -f ${refresher}; sleep 60'`], { stdio: "ignore" });
        const ended = new Promise<void>((resolve) => session.on("exit", () => resolve()));
        try {
            await waitFor("the token file is refreshed (a second token)", () => /^token-([2-9]|\d\d+)$/.test(cat("bt_u20001")));
            assert.equal(inNs(["stat", "-c", "%u %a", path.join(run, "bt_u20001")], { mount: true }).stdout.trim(), "20001 600");
            assert.equal(cat("args"), `--aud ${SESSION_ENV.INCANT_TOKEN_AUDIENCE} --time 2 incant`);
            const refreshers = inNs(["pgrep", "-u", "20001", "-f", "incant-token-refresh"], { mount: true }).stdout.trim().split("\n").filter(Boolean);
            assert.equal(refreshers.length, 1, "one refresher per user");
            // The agent fails: the last good token stays whole.
            assert.equal(inNs(["touch", path.join(run, "fail")], { mount: true }).status, 0);
            const calls = Number(cat("calls"));
            const last = cat("bt_u20001");
            await waitFor("two failed requests", () => Number(cat("calls")) >= calls + 2);
            assert.equal(cat("bt_u20001"), last);
            transcript.push(`# incant-token-refresh in atlasuser1's session: ${last} kept through failed requests, mode 0600, one refresher`, "");
        } finally {
            session.kill("SIGTERM");
            await ended;
        }
        await waitFor("the refresher ends with the last session", () =>
            inNs(["pgrep", "-u", "20001", "-f", "incant-token-refresh"], { mount: true }).status === 1);
    });

    it("removing a user (live update) revokes their key, their group and their open session, and deletes their tokens; re-adding restores the login", async () => {
        // An open session of atlasuser2, and a token in their runtime directory.
        assert.equal(ssh("atlasuser2", "u2", "echo t > /run/user/20002/bt_u20002").status, 0);
        const session = spawn("nsenter", ["-t", String(nsPid), "-n", "--", "ssh", ...sshArgs("u2"), "-p", String(SUBMIT_SSH_PORT), "atlasuser2@127.0.0.1", "sleep 120"],
            { stdio: "ignore" });
        const ended = new Promise<number | null>((resolve) => session.on("exit", (code) => resolve(code)));
        // The session is up once sshd logged it.
        for (let i = 0; i < 100 && (fs.readFileSync(path.join(dir, "sshd.log"), "utf8").match(/Accepted publickey for atlasuser2/g) ?? []).length < 2; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        const removed = updateUsers(users(false));
        assert.equal(removed.status, 0, removed.stderr);
        assert.match(removed.stderr, /atlasuser2 removed/);
        assert.ok(!fs.existsSync(path.join(dir, "host", "access", "authorized_keys", "atlasuser2")), "key file gone");
        const code = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r("still running"), 20_000))]);
        assert.notEqual(code, "still running", "the removed user's open session ends");
        session.kill("SIGKILL");
        transcript.push(`# atlasuser2's open session (ssh ... sleep 120) ended with exit ${code}`, "");
        const refused = ssh("atlasuser2", "u2", "id -un");
        assert.equal(refused.status, 255);
        assert.match(refused.stderr, /Permission denied \(publickey\)/);
        const groups = inNs(["getent", "group", LOGIN_GROUP], { mount: true });
        assert.doesNotMatch(groups.stdout, /atlasuser2/);
        assert.equal(inNs(["test", "-e", "/run/user/20002"], { mount: true }).status, 1, "the runtime directory with the token is gone");
        // Even with the key put back by hand, the account is expired and out of the group.
        fs.copyFileSync(`${key("u2")}.pub`, path.join(dir, "host", "access", "authorized_keys", "atlasuser2"));
        assert.equal(ssh("atlasuser2", "u2", "id -un").status, 255, "a stale key file does not let a removed user in");
        // atlasuser1 was not disturbed.
        assert.equal(ssh("atlasuser1", "u1", "id -un").stdout.trim(), "atlasuser1");
        const back = updateUsers(users(true));
        assert.equal(back.status, 0, back.stderr);
        assert.equal(ssh("atlasuser2", "u2", "id -un").stdout.trim(), "atlasuser2");
    });

    it("the update script changes nothing on a bad list (a second line in a key, an unknown line, a duplicate)", () => {
        const before = fs.readFileSync(path.join(dir, "host", "access", "users"), "utf8");
        for (const bad of [
            `user atlasuser9 20009 ssh-ed25519 AAAA\ncommand="sh" ssh-ed25519 AAAA\n`,
            "user atlasuser9 20009 ssh-ed25519 AAAA x\nuser atlasuser9 20010 -\n",
            "user ../../etc 20009 -\n",
            "rm -rf /\n",
        ]) {
            const r = updateUsers(bad);
            assert.notEqual(r.status, 0, bad);
            assert.match(r.stderr, /FAILED/);
            assert.equal(fs.readFileSync(path.join(dir, "host", "access", "users"), "utf8"), before);
        }
    });
});
