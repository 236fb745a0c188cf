/**
 * Issue 14, item 4, on the pool: a change of incant:users applies live (components/htcondor/users.ts).
 * And issue 12: the daemons' tokens renewed, then the pool re-keyed, the way the kubelet updates
 * the Secret volumes, with a job running: pool-users.sh copies them where HTCondor reads them; the
 * job keeps its processes and completes, nothing restarts, a new job runs; the old token and an
 * expired one are refused.
 * The pool runs the dev stack; its users ConfigMap volume is laid out as the kubelet lays it out
 * (AtomicWriter: files linked through "..data"). With a job of atlasuser1 running, the users
 * ConfigMap of a second render (atlasuser6 added, atlasuser2 removed) is swapped in the kubelet's
 * way; each pod's pool-users.sh notices, makes atlasuser6's account and runs condor_reconfig. Then
 * atlasuser6 submits a job that runs, on the same daemons (same pids); atlasuser1's job ran on
 * undisturbed; atlasuser2's token is no longer authorized at the schedd nor the collector.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import * as crypto from "crypto";
import { PoolRole, SECRETS } from "../../components/htcondor/manifests";
import { keyFileFor, mintRoleToken, SIGNING_KEY_BYTES, TokenValidity } from "../../components/htcondor/tokens";
import { USERS_PATHS } from "../../components/htcondor/users";
import { requireLoopbackPool } from "./install";
import { output, userSession, UserSession } from "./journey";
import { hostPathOf, Pod } from "./pod";
import { LoopbackPool, setting } from "./pool";
import { renderDev, RenderedStack } from "./rendered";

const ROOT = path.resolve(__dirname, "..", "..");
const ROLES: PoolRole[] = ["central-manager", "scheduler", "worker"];
const NEW_USER = { name: "atlasuser6", uid: 20006, iamSubject: "5d2b0a6e-0000-4000-8000-000000000006" };
const REMOVED = "atlasuser2";
const REMOVED_UID = 20002;

/**
 * Writes `files` into the ConfigMap volume `dir` as the kubelet's AtomicWriter does
 * (kubernetes pkg/volume/util/atomic_writer.go): the payload in a new "..<timestamp>" directory, a
 * "..data_tmp" link to it renamed over "..data" (the one atomic step), each file a link through
 * "..data", then the old payload directory removed.
 */
export function atomicWrite(dir: string, files: Record<string, string | Buffer>, stamp: string, mode = 0o644): void {
    fs.mkdirSync(dir, { recursive: true });
    const old = fs.existsSync(path.join(dir, "..data")) ? fs.readlinkSync(path.join(dir, "..data")) : undefined;
    const payload = `..${stamp}`;
    fs.mkdirSync(path.join(dir, payload), { mode: 0o755 });
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, payload, name), content, { mode });
    fs.symlinkSync(payload, path.join(dir, "..data_tmp"));
    fs.renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    for (const name of Object.keys(files)) {
        const link = path.join(dir, name);
        const isLink = fs.existsSync(link) && fs.lstatSync(link).isSymbolicLink();
        if (!isLink) {
            fs.rmSync(link, { force: true });
            fs.symlinkSync(path.join("..data", name), link);
        }
    }
    if (old) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

/** The users volume's files of a role's pod, from a render (the Deployment's items of the users ConfigMap). */
function usersVolumeFiles(rendered: RenderedStack, role: PoolRole): Record<string, string> {
    const spec = rendered.podSpec[role];
    const mount = spec.containers[0].volumeMounts.find((m) => m.mountPath === USERS_PATHS.dir);
    assert.ok(mount && !mount.subPath, `${role} mounts the users ConfigMap whole at ${USERS_PATHS.dir}`);
    const volume = spec.volumes.find((v) => v.name === mount.name)!;
    const data = rendered.configMaps[volume.configMap!.name];
    return Object.fromEntries((volume.configMap!.items ?? []).map((i) => [i.path, data[i.key]]));
}

/** The Secret volume of a role's pod (its token, or the central manager's key): mount path, file name, mode, content. */
function secretVolume(rendered: RenderedStack, role: PoolRole): { dir: string; file: string; mode: number; secret: string; content: Buffer } {
    const spec = rendered.podSpec[role];
    const wanted: string[] = role === "central-manager" ? [SECRETS.signingKey] : [SECRETS.startdToken, SECRETS.scheddToken];
    const volume = spec.volumes.find((v) => v.secret && wanted.includes(v.secret.secretName))!;
    const mount = spec.containers[0].volumeMounts.find((m) => m.name === volume.name)!;
    assert.ok(!mount.subPath, `${role} mounts its Secret ${volume.secret!.secretName} whole (the kubelet updates it in place)`);
    const item = volume.secret!.items![0];
    return { dir: mount.mountPath, file: item.path, mode: volume.secret!.defaultMode ?? 0o644, secret: volume.secret!.secretName, content: rendered.secrets[volume.secret!.secretName][item.key] };
}

/** Pulumi.dev.yaml with atlasuser6 added and atlasuser2 removed. */
function changedStack(dir: string): string {
    const doc = YAML.parseDocument(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
    const users = (doc.getIn(["config", "incant:users"]) as YAML.YAMLSeq).toJSON() as { name: string }[];
    assert.ok(users.some((u) => u.name === REMOVED) && !users.some((u) => u.name === NEW_USER.name), "the dev stack's users as this test expects");
    doc.setIn(["config", "incant:users"], [...users.filter((u) => u.name !== REMOVED), NEW_USER]);
    const file = path.join(dir, "Pulumi.dev.yaml");
    fs.writeFileSync(file, doc.toString());
    return file;
}

/** Pids of the HTCondor daemons in a pod (by the pod's mount namespace), by program name. */
function daemonPids(pod: Pod): Record<string, number[]> {
    const ns = fs.readlinkSync(`/proc/${pod.pid}/ns/mnt`);
    const pids: Record<string, number[]> = {};
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            if (fs.readlinkSync(`/proc/${entry}/ns/mnt`) !== ns) continue;
            // The executable, not comm: comm keeps 15 characters (condor_negotiat).
            const comm = path.basename(fs.readlinkSync(`/proc/${entry}/exe`));
            if (/^condor_(master|collector|negotiator|schedd|startd|shared_port)$/.test(comm)) (pids[comm] ??= []).push(Number(entry));
        } catch { /* gone */ }
    }
    for (const list of Object.values(pids)) list.sort((a, b) => a - b);
    return pids;
}

describe("HTCondor pool on loopback: a users change applies live (issue 14 item 4)", function () {
    let pool: LoopbackPool;
    let initial: RenderedStack;
    let changed: RenderedStack;
    let scheddName: string;
    let tmp: string;
    let pidsBefore: Record<string, Record<string, number[]>>;
    let longJob: string;
    let longJobStart: string;
    let removedUser: UserSession;
    let busyPid = 0;

    before(async function () {
        const install = requireLoopbackPool(this);
        this.timeout(300_000);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "incant-users-live-"));
        pool = await LoopbackPool.create(install);
        initial = pool.rendered;
        changed = renderDev(path.join(tmp, "render"), changedStack(tmp));
        scheddName = setting(initial.conf.scheduler, "SCHEDD_NAME")!;
        // The pool's pods with their users volume as the kubelet writes it (links through ..data).
        for (const role of ROLES) {
            const pod = pool.pods[role];
            pod.prepare();
            const dir = hostPathOf(pod.dir, USERS_PATHS.dir)!;
            fs.rmSync(dir, { recursive: true, force: true });
            atomicWrite(dir, usersVolumeFiles(initial, role), "2026_11_27_00_00_00.000000001");
            // Its token or key Secret too, as the kubelet writes it (issue 12's rotation cases).
            const sv = secretVolume(initial, role);
            const secretDir = hostPathOf(pod.dir, sv.dir)!;
            fs.rmSync(secretDir, { recursive: true, force: true });
            atomicWrite(secretDir, { [sv.file]: sv.content }, "2026_11_27_00_00_00.000000001", sv.mode);
            pod.start(pool.log(role));
        }
        pool.start("submit");
        await pool.waitForSubmitUser("atlasuser1");
        await pool.waitForWorkerSlot(60_000);
        await pool.waitFor("the schedd's ad", () => pool.pods["central-manager"].exec(["condor_status", "-schedd", "-af", "Name"]).stdout.includes(scheddName), 60_000);
    });

    after(async function () {
        this.timeout(60_000);
        if (busyPid) try { process.kill(busyPid, "SIGKILL"); } catch { /* ended */ }
        if (pool) await pool.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const cm = () => pool.pods["central-manager"];
    const jobAd = (cluster: string, attrs: string[]) => pool.pods.scheduler.exec(["condor_q", cluster, "-af", ...attrs]).stdout.trim();

    it("starts with atlasuser1's long job running and atlasuser2 authorized; atlasuser6 unknown everywhere", async () => {
        const u1 = userSession(pool, "atlasuser1");
        const dir = path.join(pool.volumes.home, "atlasuser1", "users-live");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "long.sub"), ["executable = /bin/sleep", "arguments = 600", "transfer_executable = false",
            "request_cpus = 1", "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES", "queue", ""].join("\n"));
        for (const f of ["", "long.sub"]) fs.chownSync(path.join(dir, f), u1.uid, u1.uid);
        const r = u1.run(["condor_submit", "-remote", scheddName, "long.sub"], { cwd: "/home/atlasuser1/users-live" });
        assert.equal(r.status, 0, output(r));
        longJob = /submitted to cluster (\d+)\./.exec(r.stdout)![1];
        await pool.waitFor(`atlasuser1's job ${longJob} running`, () => jobAd(longJob, ["JobStatus"]) === "2", 120_000);
        // When it started and how many shadows it had: a restarted job has a new start date and a second shadow.
        longJobStart = await pool.waitFor("the job's start date", () => { const v = jobAd(longJob, ["JobCurrentStartDate", "NumShadowStarts"]); return /^\d+ 1$/.test(v) && v; }, 30_000);

        removedUser = userSession(pool, REMOVED);
        const write = removedUser.run(["condor_ping", "-name", scheddName, "-type", "SCHEDD", "-verbose", "WRITE"]);
        assert.match(write.stdout, /Authorized:\s+TRUE/, output(write));
        assert.equal(pool.pods.worker.exec(["getent", "passwd", NEW_USER.name]).status, 2, "no account for atlasuser6 yet");
        pidsBefore = Object.fromEntries(ROLES.map((role) => [role, daemonPids(pool.pods[role])]));
        for (const role of ROLES) assert.ok(pidsBefore[role].condor_master?.length, `${role} runs a condor_master`);
        assert.ok(pidsBefore.scheduler.condor_schedd && pidsBefore.worker.condor_startd && pidsBefore["central-manager"].condor_negotiator);
    });

    it("the kubelet swaps in the new users ConfigMap: every pod makes atlasuser6's account and reconfigures, and nothing restarts", async () => {
        assert.ok(longJob, "the first case submitted the long job");
        const reconfigs = (role: PoolRole) => (pool.daemonLog(role, "UsersLog").match(/daemons reconfigured/g) ?? []).length;
        const earlier = Object.fromEntries(ROLES.map((role) => [role, reconfigs(role)]));
        // A process of atlasuser2 still runs on the worker (a job, as far as the script can tell).
        const started = pool.pods.worker.exec(["sh", "-c", `setpriv --reuid=${REMOVED_UID} --regid=${REMOVED_UID} --clear-groups sleep 300 >/dev/null 2>&1 & echo $!`]);
        busyPid = Number(started.stdout.trim());
        assert.ok(busyPid > 0, output(started));
        for (const role of ROLES) atomicWrite(hostPathOf(pool.pods[role].dir, USERS_PATHS.dir)!, usersVolumeFiles(changed, role), "2026_11_27_00_01_00.000000002");
        for (const role of ROLES) {
            await pool.waitFor(`${role}: atlasuser6's account`, () => pool.pods[role].exec(["getent", "passwd", NEW_USER.name]).stdout.includes(`:${NEW_USER.uid}:${NEW_USER.uid}:`), 60_000)
                .catch((e) => { throw new Error(`${e.message}\nUsersLog: ${pool.daemonLog(role, "UsersLog")}`); });
            await pool.waitFor(`${role}: the reconfiguration`, () => reconfigs(role) > earlier[role], 60_000)
                .catch((e) => { throw new Error(`${e.message}\nUsersLog: ${pool.daemonLog(role, "UsersLog")}`); });
        }
        // The worker runs a process of atlasuser2: the account is disabled (expired, no shell) and keeps
        // its uid, so that nobody else gets it. (The loopback pods share the host's process table, so
        // the other pods may see such a process too and do the same; in Kubernetes each pod sees its own.)
        for (const role of ROLES) {
            const entry = pool.pods[role].exec(["getent", "passwd", REMOVED]);
            if (role === "worker" || entry.status === 0) {
                assert.match(entry.stdout, new RegExp(`^${REMOVED}:x:${REMOVED_UID}:${REMOVED_UID}:[^:]*:[^:]*:/usr/sbin/nologin$`, "m"), `${role}: ${output(entry)}`);
                assert.equal(pool.pods[role].exec(["getent", "shadow", REMOVED]).stdout.split(":")[7], "1", `${role}: expired`);
            }
        }
        assert.match(pool.daemonLog("worker", "UsersLog"), new RegExp(`${REMOVED} \\(uid ${REMOVED_UID}\\) left the users list: disabled`));
        // Once the process ends, the account goes.
        process.kill(busyPid, "SIGKILL");
        await pool.waitFor(`the worker deletes ${REMOVED}'s account`, () => pool.pods.worker.exec(["getent", "passwd", REMOVED]).status === 2, 60_000);
        // The new configuration is the one the daemons read (condor_config_val asks the running daemon).
        const groups = cm().exec(["condor_config_val", "-negotiator", "GROUP_NAMES"]);
        assert.match(groups.stdout, /group_atlasuser6/, output(groups));
        assert.doesNotMatch(groups.stdout, /group_atlasuser2\b/);
    });

    it("atlasuser6 submits and their job runs as atlasuser6 on the same daemons; atlasuser1's job is not interrupted", async () => {
        // What the storage controller (incant-update-users) and the submit host (incant-submit-users) do for a new user.
        for (const share of [pool.volumes.home, pool.volumes.scratch]) {
            fs.mkdirSync(path.join(share, NEW_USER.name), { recursive: true });
            fs.chownSync(path.join(share, NEW_USER.name), NEW_USER.uid, NEW_USER.uid);
        }
        const add = pool.pods.submit.exec(["sh", "-c", `groupadd -g ${NEW_USER.uid} ${NEW_USER.name} && useradd -u ${NEW_USER.uid} -g ${NEW_USER.uid} -M -d /home/${NEW_USER.name} ${NEW_USER.name}`]);
        assert.equal(add.status, 0, output(add));
        pool.rendered = changed;
        const u6 = userSession(pool, NEW_USER.name);
        assert.equal(u6.uid, NEW_USER.uid);
        const dir = path.join(pool.volumes.home, NEW_USER.name);
        fs.writeFileSync(path.join(dir, "whoami.sub"), ["executable = /usr/bin/id", "arguments = -un", "transfer_executable = false", "output = whoami.out",
            "request_cpus = 1", "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES", "queue", ""].join("\n"));
        fs.chownSync(path.join(dir, "whoami.sub"), NEW_USER.uid, NEW_USER.uid);
        const submit = u6.run(["condor_submit", "-remote", scheddName, "whoami.sub"], { cwd: `/home/${NEW_USER.name}` });
        assert.equal(submit.status, 0, output(submit));
        const cluster = /submitted to cluster (\d+)\./.exec(submit.stdout)![1];
        const status = await pool.waitFor(`atlasuser6's job ${cluster} to complete`, () => {
            const s = jobAd(cluster, ["JobStatus", "HoldReason"]);
            return s.startsWith("4") || (s.startsWith("5") && !s.includes("Spooling input")) ? s : undefined;
        }, 120_000);
        assert.match(status, /^4 /, `job ${cluster}: ${status}\n${pool.daemonLog("worker", "StarterLog").split("\n").slice(-10).join("\n")}`);
        const transfer = u6.run(["condor_transfer_data", "-name", scheddName, cluster], { cwd: `/home/${NEW_USER.name}` });
        assert.equal(transfer.status, 0, output(transfer));
        assert.equal(fs.readFileSync(path.join(dir, "whoami.out"), "utf8").trim(), NEW_USER.name);
        // The same daemons, not restarted ones.
        for (const role of ROLES) assert.deepEqual(daemonPids(pool.pods[role]), pidsBefore[role], `${role}'s daemons`);
        // atlasuser1's job ran on: still running, with the start date and the one shadow it had.
        assert.equal(jobAd(longJob, ["JobStatus"]), "2");
        assert.equal(jobAd(longJob, ["JobCurrentStartDate", "NumShadowStarts"]), longJobStart);
    });

    it("atlasuser2's token no longer authorizes condor_q, condor_submit nor a READ at the collector", () => {
        assert.ok(removedUser, "the first case opened atlasuser2's session");
        const write = removedUser.run(["condor_ping", "-name", scheddName, "-type", "SCHEDD", "-verbose", "WRITE"]);
        assert.doesNotMatch(write.stdout, /Authorized:\s+TRUE/, output(write));
        const q = removedUser.run(["condor_q", "-name", scheddName]);
        assert.notEqual(q.status, 0, output(q));
        const read = removedUser.run(["condor_ping", "-type", "COLLECTOR", "-verbose", "READ"]);
        assert.doesNotMatch(read.stdout, /Authorized:\s+TRUE/, output(read));
        const sub = path.join(pool.volumes.home, REMOVED, "true.sub");
        fs.writeFileSync(sub, "executable = /bin/true\ntransfer_executable = false\nqueue\n");
        fs.chownSync(sub, removedUser.uid, removedUser.uid);
        const submit = removedUser.run(["condor_submit", "-remote", scheddName, "true.sub"], { cwd: `/home/${REMOVED}` });
        assert.notEqual(submit.status, 0, output(submit));
        // atlasuser1 still is.
        const u1 = userSession(pool, "atlasuser1");
        assert.match(u1.run(["condor_ping", "-name", scheddName, "-type", "SCHEDD", "-verbose", "WRITE"]).stdout, /Authorized:\s+TRUE/);
    });

    // --- Issue 12: tokens renewed and the pool re-keyed, live -------------------------------------

    const trustDomain = () => setting(initial.conf.worker, "TRUST_DOMAIN")!;
    const now = () => Math.floor(Date.now() / 1000);
    /** Writes a token into a private directory of the worker pod (root 0600, as HTCondor wants it) and pings the collector with it alone. */
    const pingWith = (token: string, name: string) => {
        const dir = `/tmp/incant-ping-${name}`;
        const w = pool.pods.worker.exec(["sh", "-c", `rm -rf ${dir} && install -d -m 0700 ${dir} && umask 077 && cat > ${dir}/token`], { input: `${token}\n` });
        assert.equal(w.status, 0, output(w));
        return pool.pods.worker.exec(["condor_ping", "-type", "COLLECTOR", "-verbose", "ADVERTISE_STARTD"], { env: { _CONDOR_SEC_TOKEN_DIRECTORY: dir } });
    };
    /** What the worker's startd itself presents: the token files of its tokens.d, as the daemon finds them. */
    const pingAsStartd = () => pool.pods.worker.exec(["condor_ping", "-type", "COLLECTOR", "-verbose", "ADVERTISE_STARTD"]);
    const authorizedAsStartd = (r: ReturnType<typeof pingAsStartd>) =>
        /Authorized:\s+TRUE/.test(r.stdout) && new RegExp(`Remote Mapping:\\s+startd@${trustDomain().replace(/\./g, "\\.")}`).test(r.stdout);
    /** The kubelet's update of a role's Secret volume, and the wait for the pod's pool-users.sh to install it. */
    const updateSecret = async (role: PoolRole, content: Buffer | string, stamp: string) => {
        const sv = secretVolume(initial, role);
        atomicWrite(hostPathOf(pool.pods[role].dir, sv.dir)!, { [sv.file]: content }, stamp, sv.mode);
        const installed = hostPathOf(pool.pods[role].dir, sv.dir.replace(/-orig\.d$/, ".d"))!;
        await pool.waitFor(`${role}: the new ${sv.file} in ${path.basename(installed)}`, () => {
            const f = path.join(installed, sv.file);
            return fs.existsSync(f) && fs.readFileSync(f).equals(Buffer.from(content)) || undefined;
        }, 30_000).catch((e) => { throw new Error(`${e.message}\nUsersLog: ${pool.daemonLog(role, "UsersLog")}`); });
        const st = fs.statSync(path.join(installed, sv.file));
        assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o600], `${role}: root 0600, as the image installs it`);
    };
    /** The pid of the job's own process (`sleep <seconds>` under uid 20001) and of the starters in the worker pod. */
    const jobProcesses = (seconds: number): { job: number[]; starters: number[] } => {
        const ns = fs.readlinkSync(`/proc/${pool.pods.worker.pid}/ns/mnt`);
        const job: number[] = [];
        const starters: number[] = [];
        for (const entry of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(entry)) continue;
            try {
                if (fs.readlinkSync(`/proc/${entry}/ns/mnt`) !== ns) continue;
                const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
                if (path.basename(fs.readlinkSync(`/proc/${entry}/exe`)) === "condor_starter") starters.push(Number(entry));
                else if (argv[0].endsWith("sleep") && argv[1] === String(seconds)) job.push(Number(entry));
            } catch { /* gone */ }
        }
        return { job: job.sort((a, b) => a - b), starters: starters.sort((a, b) => a - b) };
    };
    const ROTATION_JOB_SECONDS = 75;
    let rotationJob = "";
    let rotationJobStart = "";
    let rotationPids: { job: number[]; starters: number[] } = { job: [], starters: [] };
    let changedAt = 0;

    it("renews the daemons' tokens live: the kubelet's new Secret reaches tokens.d, the daemon's token authenticates, a running job and every daemon go on", async () => {
        assert.ok(pidsBefore, "the first case ran");
        const u1 = userSession(pool, "atlasuser1");
        const dir = path.join(pool.volumes.home, "atlasuser1", "users-live");
        fs.writeFileSync(path.join(dir, "rotation.sub"), ["executable = /bin/sleep", `arguments = ${ROTATION_JOB_SECONDS}`, "transfer_executable = false",
            "request_cpus = 1", "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES", "queue", ""].join("\n"));
        fs.chownSync(path.join(dir, "rotation.sub"), u1.uid, u1.uid);
        const r = u1.run(["condor_submit", "-remote", scheddName, "rotation.sub"], { cwd: "/home/atlasuser1/users-live" });
        assert.equal(r.status, 0, output(r));
        rotationJob = /submitted to cluster (\d+)\./.exec(r.stdout)![1];
        await pool.waitFor(`job ${rotationJob} running`, () => jobAd(rotationJob, ["JobStatus"]) === "2", 120_000);
        rotationJobStart = await pool.waitFor("its start date", () => { const v = jobAd(rotationJob, ["JobCurrentStartDate", "NumShadowStarts"]); return /^\d+ 1$/.test(v) && v; }, 30_000);
        rotationPids = await pool.waitFor("the job's sleep and its starter", () => { const p = jobProcesses(ROTATION_JOB_SECONDS); return p.job.length === 1 && p.starters.length >= 1 && p; }, 30_000);
        // Before: the daemon's rendered token authenticates, it has an exp, it is the one in tokens.d.
        assert.ok(authorizedAsStartd(pingAsStartd()), output(pingAsStartd()));
        // The renewal: the same key, a new validity (what `pulumi up` mints when the token clock is replaced).
        const keyFile = secretVolume(initial, "central-manager").content;
        const validity: TokenValidity = { issuedAt: now(), expiresAt: now() + 90 * 86_400 };
        const renewed = { startd: mintRoleToken(keyFile, "startd", trustDomain(), validity), schedd: mintRoleToken(keyFile, "schedd", trustDomain(), validity) };
        assert.notEqual(renewed.startd, secretVolume(initial, "worker").content.toString());
        await updateSecret("worker", renewed.startd, "2026_11_27_00_02_00.000000003");
        await updateSecret("scheduler", renewed.schedd, "2026_11_27_00_02_00.000000003");
        const ping = pingAsStartd();
        assert.ok(authorizedAsStartd(ping), output(ping));
        assert.match(pool.daemonLog("worker", "UsersLog"), /tokens\.d\/startd updated from \/etc\/condor\/tokens-orig\.d/);
        // Nothing restarted: the same daemons, the job's own process and starter.
        for (const role of ROLES) assert.deepEqual(daemonPids(pool.pods[role]), pidsBefore[role], `${role}'s daemons`);
        assert.deepEqual(jobProcesses(ROTATION_JOB_SECONDS), rotationPids, "the running job's processes");
    });

    it("re-keys the pool live: new key and tokens; the job keeps its processes and completes, nothing restarts, the startd advertises and a new job runs", async () => {
        assert.ok(rotationJob, "the renewal case submitted the job");
        const oldStartdToken = secretVolume(initial, "worker").content.toString().trim();
        const key = keyFileFor(crypto.randomBytes(SIGNING_KEY_BYTES));
        const validity: TokenValidity = { issuedAt: now(), expiresAt: now() + 90 * 86_400 };
        // Key first, then the tokens: the order a Secret update may reach the pods in (the worst one:
        // for a moment the collector knows only the new key and the daemons hold only old tokens).
        changedAt = now();
        await updateSecret("central-manager", key, "2026_11_27_00_03_00.000000004");
        await updateSecret("worker", mintRoleToken(key, "startd", trustDomain(), validity), "2026_11_27_00_03_00.000000004");
        await updateSecret("scheduler", mintRoleToken(key, "schedd", trustDomain(), validity), "2026_11_27_00_03_00.000000004");
        // The collector verifies with the new key at once; the startd's tokens.d authenticates.
        const ping = pingAsStartd();
        assert.ok(authorizedAsStartd(ping), output(ping));
        // Nothing restarted, and the job's processes are the ones it started with.
        for (const role of ROLES) assert.deepEqual(daemonPids(pool.pods[role]), pidsBefore[role], `${role}'s daemons`);
        const during = jobProcesses(ROTATION_JOB_SECONDS);
        if (jobAd(rotationJob, ["JobStatus"]) === "2") assert.deepEqual(during, rotationPids, "the running job's processes");
        // A new job matches and runs after the change: the slot's ads reach the collector and the negotiator.
        const u1 = userSession(pool, "atlasuser1");
        const dir = path.join(pool.volumes.home, "atlasuser1", "users-live");
        fs.writeFileSync(path.join(dir, "after.sub"), ["executable = /usr/bin/id", "arguments = -un", "transfer_executable = false", "output = after.out",
            "request_cpus = 1", "request_memory = 32MB", "request_disk = 1MB", "should_transfer_files = YES", "queue", ""].join("\n"));
        fs.chownSync(path.join(dir, "after.sub"), u1.uid, u1.uid);
        const submit = u1.run(["condor_submit", "-remote", scheddName, "after.sub"], { cwd: "/home/atlasuser1/users-live" });
        assert.equal(submit.status, 0, output(submit));
        const after = /submitted to cluster (\d+)\./.exec(submit.stdout)![1];
        const status = await pool.waitFor(`job ${after} to complete`, () => {
            const v = jobAd(after, ["JobStatus", "HoldReason"]);
            return v.startsWith("4") || (v.startsWith("5") && !v.includes("Spooling input")) ? v : undefined;
        }, 120_000);
        assert.match(status, /^4 /, `job ${after}: ${status}`);
        // The startd's ads are refreshed after the change: a reconfiguration (SIGHUP to the worker's master,
        // what pool-users.sh sends on a users change; not a restart) makes it update the collector at once
        // (startd_main.cpp main_config: reconfig_resources), instead of at its next UPDATE_INTERVAL (300 s).
        process.kill(pidsBefore.worker.condor_master[0], "SIGHUP");
        const heard = () => Math.min(...cm().exec(["condor_status", "-startd", "-af", "LastHeardFrom"]).stdout.trim().split("\n").map(Number));
        await pool.waitFor("the startd's ads heard after the change", () => heard() > changedAt || undefined, 60_000)
            .catch((e) => { throw new Error(`${e.message}: ${heard()} <= ${changedAt}\n${pool.daemonLog("worker", "StartLog").split("\n").slice(-15).join("\n")}`); });
        // The running job completes, on its first and only start, with the same processes to the end.
        const done = await pool.waitFor(`job ${rotationJob} to complete`, () => {
            const v = jobAd(rotationJob, ["JobStatus", "ExitCode", "JobCurrentStartDate", "NumShadowStarts"]);
            if (v.startsWith("2")) {
                const p = jobProcesses(ROTATION_JOB_SECONDS);
                if (p.job.length) assert.deepEqual(p, rotationPids, "the running job's processes");
            }
            return v.startsWith("4") ? v : undefined;
        }, (ROTATION_JOB_SECONDS + 60) * 1000);
        assert.equal(done, `4 0 ${rotationJobStart}`, "completed with exit code 0, its first start, its only shadow");
        // The first long job is still running, never restarted.
        assert.equal(jobAd(longJob, ["JobCurrentStartDate", "NumShadowStarts"]), longJobStart);
        for (const role of ROLES) assert.deepEqual(daemonPids(pool.pods[role]), pidsBefore[role], `${role}'s daemons`);

        // The old key's token is refused now, as is a token of the new key past its exp; the same
        // claims with a future exp pass (the control: only exp differs).
        const old = pingWith(oldStartdToken, "old");
        assert.ok(!authorizedAsStartd(old), `the old token: ${output(old)}`);
        const expired = pingWith(mintRoleToken(key, "startd", trustDomain(), { issuedAt: now() - 7200, expiresAt: now() - 3600 }), "expired");
        assert.ok(!authorizedAsStartd(expired), `an expired token: ${output(expired)}`);
        const valid = pingWith(mintRoleToken(key, "startd", trustDomain(), { issuedAt: now() - 7200, expiresAt: now() + 3600 }), "valid");
        assert.ok(authorizedAsStartd(valid), `the same claims with a future exp: ${output(valid)}`);
    });
});
