/**
 * The S3 archive of a client (components/storage/archive.ts), for real on loopback: Debian's
 * rclone, with the rclone.conf and the `rclone mount` arguments the program renders, mounts a
 * bucket served by s3rver on 127.0.0.1 through FUSE. Only the endpoint, the keys and the paths
 * differ from the submit host's. The S3 server is also stopped and started again: the mount
 * must stay in place and recover by itself.
 * rclone runs with a systemd-like environment (no HOME, no AWS_CA_BUNDLE: FACTS.md) and a
 * NOTIFY_SOCKET, so Type=notify is checked too. Every mount is undone in `after`, pass or fail.
 */
import { strict as assert } from "assert";
import { ChildProcess, execFile, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import { readdir, readFile, stat, writeFile } from "fs/promises";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { ARCHIVE_CLIENT, archiveUnit, stsEnv } from "../components/storage/archive";
import { IniSection, parseIni, renderIni } from "../components/compute/ini";
import { s3RootUnit } from "../components/submit/hostconfig";
import { HOST, submitService } from "../components/submit/services";
import { RCLONE_REMOTE } from "../components/storage/layout";
import { rcloneMountArgs, renderAwsConfig, renderRcloneConf, StorageCredentials } from "../components/storage/rclone";
import { requireCondition, requireTool } from "./harness/tools";
import { ROOT } from "./harness/program";
import { BUCKET, isMounted, KEYS, PATH, startS3rver, until } from "./harness/s3";

const unitText = (sections: IniSection[]) => renderIni(sections, { separator: "=" });

/** A running `rclone mount` and what it told the notify socket. */
interface Mount {
    dir: string;
    mountPoint: string;
    rclone: ChildProcess;
    log: () => string;
}

describe("rclone mount of the S3 archive on loopback (rendered config and options)", () => {
    let work: string;
    let s3: ChildProcess | undefined;
    let endpoint: string;
    const mounts: Mount[] = [];
    const servers: http.Server[] = [];
    /** Stand-in containers (mount namespaces) and the shared bind mounts made for them. */
    const containers: ChildProcess[] = [];
    const sharedRoots: string[] = [];

    before(async function () {
        for (const tool of ["rclone", "fusermount3", "python3"]) requireTool(this, tool);
        requireCondition(this, fs.existsSync("/dev/fuse"), "/dev/fuse is required");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "incant-rclone-"));
        ({ process: s3, endpoint } = await startS3rver(path.join(work, "s3")));
    });

    after(async () => {
        // Undo every mount even when a test failed: SIGTERM (rclone unmounts), then a lazy
        // unmount for anything left, then the servers and the temporary tree.
        for (const m of mounts) {
            if (m.rclone.exitCode === null) m.rclone.kill("SIGTERM");
        }
        for (const m of mounts) {
            await until("rclone to exit", 10_000, () => (m.rclone.exitCode !== null || m.rclone.signalCode !== null ? true : undefined))
                .catch(() => m.rclone.kill("SIGKILL"));
            if (isMounted(m.mountPoint)) spawnSync("fusermount3", ["-u", "-z", m.mountPoint]);
            assert.ok(!isMounted(m.mountPoint), `${m.mountPoint} is still mounted`);
        }
        for (const c of containers) c.kill("SIGKILL");
        for (const r of sharedRoots.reverse()) if (isMounted(r)) spawnSync("umount", ["-l", r]);
        for (const server of servers) server.close();
        s3?.kill();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    /** Writes the rendered rclone.conf and runs the rendered `rclone mount` as the unit would. */
    async function mount(name: string, credentials: StorageCredentials, environment: Record<string, string> = {}, readWrite = true,
        at?: string): Promise<Mount> {
        const dir = path.join(work, name);
        const mountPoint = at ?? path.join(dir, "archive");
        fs.mkdirSync(dir, { recursive: true });
        fs.mkdirSync(mountPoint, { recursive: true });
        const configFile = path.join(dir, "rclone.conf");
        fs.writeFileSync(configFile, renderRcloneConf({ remote: RCLONE_REMOTE, endpoint, region: "us-east-1", credentials }), { mode: 0o600 });
        const args = rcloneMountArgs({
            remote: RCLONE_REMOTE, bucket: BUCKET, mountPoint, configFile, cacheDir: path.join(dir, "cache"),
            // The VM lists again every minute; a shorter cache keeps the test short.
            cacheMaxGb: 1, readWrite, dirCacheTime: "2s",
        });
        // The service manager's side of sd_notify(3): a datagram socket that prints what it receives.
        const socket = path.join(dir, "notify.sock");
        const listener = spawn("python3", ["-c", [
            "import socket, sys",
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)",
            "while True: print(s.recv(4096).decode(), flush=True)",
        ].join("\n"), socket]);
        let notified = "";
        listener.stdout.on("data", (d: Buffer) => { notified += d.toString(); });
        await until("the notify socket", 10_000, () => (fs.existsSync(socket) ? true : undefined));
        let log = "";
        const rclone = spawn("rclone", args, { env: { PATH, NOTIFY_SOCKET: socket, ...environment }, stdio: ["ignore", "pipe", "pipe"] });
        rclone.stdout!.on("data", (d: Buffer) => { log += d.toString(); });
        rclone.stderr!.on("data", (d: Buffer) => { log += d.toString(); });
        const m: Mount = { dir, mountPoint, rclone, log: () => log };
        mounts.push(m);
        try {
            await until("READY=1 from rclone", 30_000, () => {
                if (rclone.exitCode !== null) throw new Error(`rclone exited ${rclone.exitCode}:\n${log}`);
                return notified.split("\n").includes("READY=1") ? true : undefined;
            });
        } finally {
            listener.kill();
        }
        // Type=notify is only right if READY=1 means the file system is in place.
        assert.ok(isMounted(mountPoint), `READY=1 came before the mount:\n${log}`);
        return m;
    }

    /**
     * An object's content once it has some. Every object these tests upload has content; under load
     * a run once saw the STS upload as an empty object first (the file created before its data
     * was written back), so an empty body counts as "not uploaded yet" for the waits below.
     */
    async function getObject(key: string): Promise<string | undefined> {
        const r = await fetch(`${endpoint}/${BUCKET}/${key}`);
        const body = r.status === 200 ? await r.text() : "";
        return body === "" ? undefined : body;
    }

    async function putObject(key: string, body: string): Promise<void> {
        const r = await fetch(`${endpoint}/${BUCKET}/${key}`, { method: "PUT", body });
        assert.equal(r.status, 200, await r.text());
    }

    it("static keys: a file written through the mount becomes an object, and an object put through S3 appears in the mount", async () => {
        const m = await mount("static", { kind: "static", ...KEYS });
        await writeFile(path.join(m.mountPoint, "written-through-mount.txt"), "from the NFS side\n");
        // Uploaded from the VFS cache after --vfs-write-back (5 s by default).
        assert.equal(await until("the upload", 30_000, () => getObject("written-through-mount.txt")), "from the NFS side\n", m.log());
        assert.ok((await readdir(path.join(m.dir, "cache"))).length > 0, "the VFS cache is the configured --cache-dir");

        await putObject("put-through-s3.txt", "from the S3 side\n");
        await until("the object in the mount", 30_000, async () => ((await readdir(m.mountPoint)).includes("put-through-s3.txt") ? true : undefined));
        assert.equal(await readFile(path.join(m.mountPoint, "put-through-s3.txt"), "utf8"), "from the S3 side\n");
        // Read-write (s3.exportReadWrite): everyone may write, so the modes say so.
        assert.equal((await stat(path.join(m.mountPoint, "put-through-s3.txt"))).mode & 0o777, 0o666);
    });

    it("read-only unless s3.exportReadWrite: reads work, every write is refused (EROFS), nothing reaches S3", async () => {
        await putObject("for-readers.txt", "read me\n");
        const m = await mount("read-only", { kind: "static", ...KEYS }, {}, false);
        await until("the object in the mount", 30_000, async () => ((await readdir(m.mountPoint)).includes("for-readers.txt") ? true : undefined));
        assert.equal(await readFile(path.join(m.mountPoint, "for-readers.txt"), "utf8"), "read me\n");
        assert.equal((await stat(path.join(m.mountPoint, "for-readers.txt"))).mode & 0o777, 0o644);
        const refused = await writeFile(path.join(m.mountPoint, "must-not-exist.txt"), "x").then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
        assert.equal(refused, "EROFS");
        await new Promise((r) => setTimeout(r, 1000));
        // Not even an empty object (getObject would not tell).
        assert.equal((await fetch(`${endpoint}/${BUCKET}/must-not-exist.txt`)).status, 404);
    });

    it("survives an S3 outage: the mount stays, reads of cached files go on, and writes reach S3 once it is back", async () => {
        const m = await mount("outage", { kind: "static", ...KEYS });
        await writeFile(path.join(m.mountPoint, "before-outage.txt"), "written before\n");
        assert.equal(await until("the first upload", 30_000, () => getObject("before-outage.txt")), "written before\n", m.log());
        // The S3 server goes away (same port and data directory when it returns).
        const port = Number(new URL(endpoint).port);
        const stopped = new Promise((r) => s3!.once("exit", r));
        s3!.kill();
        await stopped;
        assert.equal(await getObject("before-outage.txt").catch(() => "down"), "down", "the S3 server is really down");
        // The mount is still there and still answers for what it has cached (no ENOTCONN).
        assert.ok(isMounted(m.mountPoint));
        assert.equal(await readFile(path.join(m.mountPoint, "before-outage.txt"), "utf8"), "written before\n");
        try {
            // A new file cannot be created while rclone cannot ask S3 about it: a prompt error
            // (EIO), not a hang and not a dead mount.
            const during = await writeFile(path.join(m.mountPoint, "during-outage.txt"), "x").then(() => "written", (e: NodeJS.ErrnoException) => e.code);
            assert.equal(during, "EIO");
            assert.ok(isMounted(m.mountPoint), "the mount survives the failed write");
        } finally {
            ({ process: s3, endpoint } = await startS3rver(path.join(work, "s3"), port));
        }
        // Back: writes go through again, and new objects show up in the same mount, same process.
        await writeFile(path.join(m.mountPoint, "after-outage-write.txt"), "written after\n");
        assert.equal(await until("the upload after the outage", 60_000, () => getObject("after-outage-write.txt")), "written after\n", m.log());
        await putObject("after-outage.txt", "S3 is back\n");
        await until("the new object in the mount", 30_000, async () => ((await readdir(m.mountPoint)).includes("after-outage.txt") ? true : undefined));
        assert.equal(await readFile(path.join(m.mountPoint, "after-outage.txt"), "utf8"), "S3 is back\n");
        assert.equal(m.rclone.exitCode, null, "rclone never exited");
    });

    /**
     * Issue 15's stale handles, the client way: the submit container binds the archive's shared
     * parent (srv-incant-s3.mount: bind,shared) with the propagation the program renders, and a
     * crashed and restarted rclone must show up in the running container. A stand-in container: a
     * mount namespace that binds the parent the way Docker binds a volume (rbind, then the mount's
     * propagation), entered with nsenter. Binding the mount point itself instead keeps the dead
     * mount in the container (checked too: the test can tell the two apart).
     */
    it("a crashed and restarted rclone shows up in a running container (rslave bind of the shared parent)", async function () {
        for (const tool of ["unshare", "nsenter"]) requireTool(this, tool);
        requireCondition(this, process.getuid?.() === 0, "this test needs root (mount namespaces)");
        const rootUnit = parseIni(s3RootUnit().text).Mount;
        assert.deepEqual(rootUnit.Options, ["bind,shared"]);
        const spec = submitService({
            stack: "t", hostname: "h", cvmfs: { repositories: ["atlas.cern.ch"], httpProxy: "DIRECT" }, collectorHost: "c:9618",
            poolHostAliases: [], scheddName: "s", iamIssuer: "https://iam.example/", tokenAudience: "a", withToken: false, archive: { readOnly: false },
        });
        const bind = spec.mounts.find((m) => m.source === HOST.s3)!;
        const relative = path.relative(ARCHIVE_CLIENT.root, ARCHIVE_CLIENT.mountPoint);

        const dir = path.join(work, "propagation");
        const root = path.join(dir, "s3");
        fs.mkdirSync(root, { recursive: true });
        // The host side, as srv-incant-s3.mount does it.
        for (const args of [["--bind", root, root], ["--make-shared", root]]) assert.equal(spawnSync("mount", args).status, 0);
        sharedRoots.push(root);
        const archive = path.join(root, relative);
        await putObject("seen-from-container.txt", "through the container\n");
        const first = await mount("propagation", { kind: "static", ...KEYS }, {}, true, archive);

        /** A stand-in container binding `source` at its `target` with `propagation`; returns its pid. */
        const container = async (source: string, propagation: string): Promise<number> => {
            const target = path.join(dir, `container-${containers.length}`);
            fs.mkdirSync(target);
            const script = `mount --make-rslave / && mount --rbind ${source} ${target} && mount --make-${propagation} ${target} && echo ready && exec sleep 600`;
            const c = spawn("unshare", ["--mount", "--propagation", "unchanged", "sh", "-c", script], { stdio: ["ignore", "pipe", "inherit"] });
            containers.push(c);
            await new Promise<void>((resolve, reject) => {
                c.stdout!.once("data", () => resolve());
                c.once("exit", (code) => reject(new Error(`stand-in container exited ${code}`)));
            });
            return c.pid!;
        };
        const readIn = (pid: number, file: string) => spawnSync("nsenter", ["-t", String(pid), "-m", "cat", file], { encoding: "utf8", timeout: 30_000 });
        const ctr = await container(root, bind.propagation!);
        const ctrPath = path.join(dir, "container-0", relative, "seen-from-container.txt");
        const pinned = await container(archive, "rslave");
        const pinnedPath = path.join(dir, "container-1", "seen-from-container.txt");
        await until("the object in the container", 30_000, () => (readIn(ctr, ctrPath).stdout === "through the container\n" ? true : undefined));
        assert.equal(readIn(pinned, pinnedPath).stdout, "through the container\n");

        // rclone crashes; the unit's ExecStopPost clears the dead mount; systemd starts it again.
        first.rclone.kill("SIGKILL");
        await until("rclone to die", 10_000, () => (first.rclone.exitCode !== null || first.rclone.signalCode !== null ? true : undefined));
        const stopPost = parseIni(unitText(archiveUnit({ bucket: BUCKET, exportReadWrite: true, credentials: "static" }))).Service.ExecStopPost[0];
        const [exe, ...args] = stopPost.replace(/^-/, "").split(" ");
        assert.equal(spawnSync(path.basename(exe), [...args.slice(0, -1), archive]).status, 0, `${stopPost} failed`);
        await mount("propagation-restarted", { kind: "static", ...KEYS }, {}, true, archive);

        // The running container sees the new mount; one that bound the mount point itself does not.
        await until("the restarted archive in the container", 30_000, () => (readIn(ctr, ctrPath).stdout === "through the container\n" ? true : undefined));
        const stale = readIn(pinned, pinnedPath);
        assert.notEqual(stale.status, 0, "a bind of the mount point itself kept working: the test cannot tell");
        assert.match(stale.stderr, /Transport endpoint is not connected|No such file/);
    });

    // s3rver checks the access key id of every signed request (not the SigV4 signature itself):
    // an unknown key is refused, so the successes above and below used the rendered keys.
    it("is refused with an unknown access key", async () => {
        const m = await mount("wrong-keys", { kind: "static", accessKeyId: "NOT-A-KEY", secretAccessKey: "S3RVER" });
        // rclone answers the failed listing with an error or an empty directory, and logs why.
        const listing = await readdir(m.mountPoint).catch((e: Error) => e);
        assert.ok(listing instanceof Error || !listing.includes("written-through-mount.txt"), `listed with a wrong key: ${listing}`);
        await until("the refusal in rclone's log", 10_000, () => (/InvalidAccessKeyId/.test(m.log()) ? true : undefined));
    });

    it("STS: temporary keys from the credential_process helper, refreshed through IAM and STS", async function () {
        for (const tool of ["curl", "jq"]) requireTool(this, tool);
        // A stand-in for INDIGO IAM's token endpoint and the gateway's STS, checking what they receive.
        const calls: string[] = [];
        const server = http.createServer((req, res) => {
            let body = "";
            req.on("data", (d) => { body += d; });
            req.on("end", () => {
                const form = new URLSearchParams(body);
                if (req.url === "/token") {
                    const basic = Buffer.from("incant-storage:client-secret-value").toString("base64");
                    if (req.headers.authorization !== `Basic ${basic}` || form.get("grant_type") !== "client_credentials" || form.get("scope") !== "openid") {
                        res.writeHead(401).end("{}");
                        return;
                    }
                    calls.push("token");
                    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "eyJ.iam-access-token.sig", token_type: "Bearer" }));
                } else if (req.url === "/sts/") {
                    assert.equal(form.get("Action"), "AssumeRoleWithWebIdentity");
                    assert.equal(form.get("RoleArn"), "arn:aws:iam:::role/IAMaccess");
                    assert.equal(form.get("WebIdentityToken"), "eyJ.iam-access-token.sig");
                    assert.equal(form.get("RoleSessionName"), "incant-test-storage");
                    calls.push("sts");
                    const expiration = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
                    res.writeHead(200, { "content-type": "text/xml" }).end(
                        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n" +
                        "  <AssumeRoleWithWebIdentityResult>\n    <Credentials>\n" +
                        `      <AccessKeyId>${KEYS.accessKeyId}</AccessKeyId>\n      <SecretAccessKey>${KEYS.secretAccessKey}</SecretAccessKey>\n` +
                        `      <SessionToken>FwoGZXIvYXdzEB0aDA+session/token=</SessionToken>\n      <Expiration>${expiration}</Expiration>\n` +
                        "    </Credentials>\n  </AssumeRoleWithWebIdentityResult>\n</AssumeRoleWithWebIdentityResponse>\n");
                } else {
                    res.writeHead(404).end();
                }
            });
        });
        servers.push(server);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

        const dir = path.join(work, "sts-files");
        fs.mkdirSync(dir);
        const secretFile = path.join(dir, "iam-client-secret");
        fs.writeFileSync(secretFile, "client-secret-value", { mode: 0o600 });
        const creds: StorageCredentials = {
            kind: "sts", iamTokenEndpoint: `${base}/token`, iamClientId: "incant-storage",
            iamClientSecret: "client-secret-value", roleArn: "arn:aws:iam:::role/IAMaccess",
        };
        const envFile = path.join(dir, "s3-sts.env");
        fs.writeFileSync(envFile, stsEnv(creds, "incant-test-storage", `${base}/sts/`, secretFile));
        const helper = path.join(ROOT, "components", "storage", "scripts", "s3-sts-credentials.sh");

        // The helper on its own: credential_process JSON, Version 1, with an expiry.
        // Asynchronously: the stand-in servers answer from this process's event loop.
        const stdout = await new Promise<string>((resolve, reject) => execFile("bash", [helper, envFile], { env: { PATH }, timeout: 30_000 },
            (err, out, errText) => (err ? reject(new Error(`${err.message}\n${errText}`)) : resolve(out))));
        const json = JSON.parse(stdout) as Record<string, unknown>;
        assert.deepEqual(Object.keys(json), ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]);
        assert.equal(json.Version, 1);
        assert.equal(json.SessionToken, "FwoGZXIvYXdzEB0aDA+session/token=");
        assert.ok(Date.parse(String(json.Expiration)) > Date.now());
        assert.deepEqual(calls, ["token", "sts"]);

        // rclone with env_auth and the rendered AWS config (the helper's path and env file are
        // the only differences from the VM's); the helper runs through bash as on the VM.
        const awsConfig = path.join(dir, "aws-config");
        fs.writeFileSync(awsConfig, renderAwsConfig(helper, envFile));
        assert.ok(fs.statSync(helper).mode & 0o100, "the helper is committed executable");
        calls.length = 0;
        const m = await mount("sts", { kind: "sts" } as StorageCredentials, { AWS_CONFIG_FILE: awsConfig });
        await putObject("visible-with-sts.txt", "temporary keys work\n");
        await until("the object in the STS mount", 30_000, async () => ((await readdir(m.mountPoint)).includes("visible-with-sts.txt") ? true : undefined));
        await writeFile(path.join(m.mountPoint, "written-with-sts.txt"), "uploaded with temporary keys\n");
        assert.equal(await until("the STS upload", 30_000, () => getObject("written-with-sts.txt")), "uploaded with temporary keys\n", m.log());
        assert.ok(calls.includes("sts"), `rclone never ran the credential helper:\n${m.log()}`);
    });
});
