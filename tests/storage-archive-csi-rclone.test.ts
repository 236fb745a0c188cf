/**
 * The pool's archive Secret mounted for real, the way the rclone CSI driver mounts it
 * (components/storage/archive-csi.ts). csi-rclone v0.6.0's node plugin runs `rclone rcd` and, on
 * NodePublishVolume, sends it two requests built from the Secret and the PV's volumeAttributes;
 * this test starts Debian's rclone the same way on 127.0.0.1 and sends the same two requests,
 * built as the driver's Go code builds them (replayed below, with the file of each step), for the
 * Secret data and PV the program renders; only the endpoint and the keys are those of the local
 * S3 server (s3rver), as in tests/storage-rclone.test.ts. Then it reads an object through the
 * mount and checks that writes are refused, and unmounts as the driver's NodeUnpublishVolume does.
 *
 * One adaptation for Debian's rclone 1.60: its rc API takes vfsOpt durations in nanoseconds
 * ("60s" is refused with "cannot unmarshal string into ... time.Duration"); the driver's image
 * ships a newer rclone (its Dockerfile: ghcr.io/swissdatasciencecenter/rclone) that parses the
 * string. rclone1_60 converts that one field and nothing else.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import { readdir, readFile, writeFile } from "fs/promises";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parseIni } from "../components/compute/ini";
import { archiveCsiSecretData, archiveCsiVolume } from "../components/storage/archive";
import { ARCHIVE_CSI, archivePodVolume, rcloneCsiValues } from "../components/storage/archive-csi";
import { requireCondition, requireTool } from "./harness/tools";
import { BUCKET, isMounted, KEYS, mountInfo, PATH, startS3rver, until } from "./harness/s3";

type Json = Record<string, unknown>;

/** The two rc requests of csi-rclone v0.6.0's NodePublishVolume for one volume. */
interface DriverRequests {
    configCreate: Json;
    mount: { fs: string; mountPoint: string; vfsOpt: Json; mountOpt: Json };
    configName: string;
}

/**
 * What the driver sends, from the Secret's data (the kubelet passes the nodePublishSecretRef's
 * Secret as req.Secrets), the PV's volumeAttributes and volumeHandle, the target path and the
 * request's readonly flag.
 */
function driverRequests(secret: Record<string, string>, volumeAttributes: Record<string, string>, volumeHandle: string,
    targetPath: string, readOnly: boolean, cacheSize: string): DriverRequests {
    // pkg/rclone/nodeserver.go extractFlags: the Secret first, the volume context over it
    // (keys under storage.kubernetes.io/ skipped); then remote, remotePath and configData come out.
    const flags: Record<string, string> = { ...secret };
    for (const [k, v] of Object.entries(volumeAttributes)) if (!k.startsWith("storage.kubernetes.io/")) flags[k] = v;
    let remotePath = flags.remotePath ?? "";
    if (flags.remotePathSuffix !== undefined) remotePath += flags.remotePathSuffix;
    const configData = flags.configData ?? "";
    // pkg/rclone/rclone.go Mount: the config is named after the volume, cut at 63, lower case.
    const configName = `rclone-mounter-${volumeHandle}`.slice(0, 63).toLowerCase();
    const sections = Object.entries(parseIni(configData));
    if (sections.length !== 1) throw new Error(`Mounting failed: expected only one config section (got ${sections.length})`);
    const [, entries] = sections[0];
    const parameters: Record<string, string> = {};
    for (const [k, values] of Object.entries(entries)) if (k !== "type") parameters[k] = values[values.length - 1];
    parameters.config_refresh_token = "false";
    const vfsOpt: Json = { CacheMode: "writes", DirCacheTime: "60s", ...(flags.vfsOpt ? JSON.parse(flags.vfsOpt) as Json : {}) };
    vfsOpt.ReadOnly = readOnly;
    vfsOpt.DiskSpaceTotalSize = cacheSize;
    const mountOpt: Json = { AllowNonEmpty: true, AllowOther: true, ...(flags.mountOpt ? JSON.parse(flags.mountOpt) as Json : {}) };
    return {
        configName,
        configCreate: { name: configName, parameters, type: entries.type?.[0], opt: { obscure: true } },
        mount: { fs: `${configName}:${remotePath}`, mountPoint: targetPath, vfsOpt, mountOpt },
    };
}

/** rclone 1.60's rc reads vfsOpt durations as nanoseconds (see the header). */
function rclone1_60(vfsOpt: Json): Json {
    const m = /^(\d+)s$/.exec(String(vfsOpt.DirCacheTime));
    return m ? { ...vfsOpt, DirCacheTime: Number(m[1]) * 1e9 } : vfsOpt;
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        }).on("error", reject);
    });
}

describe("the pool's archive mounted as csi-rclone mounts it (Debian's rclone, local S3)", () => {
    let work: string;
    let s3: ChildProcess | undefined;
    let endpoint: string;
    let rcd: ChildProcess | undefined;
    let rc: string;
    let log = "";
    const targets: string[] = [];

    before(async function () {
        for (const tool of ["rclone", "fusermount3"]) requireTool(this, tool);
        requireCondition(this, fs.existsSync("/dev/fuse"), "/dev/fuse is required");
        work = fs.mkdtempSync(path.join(os.tmpdir(), "incant-csi-rclone-"));
        ({ process: s3, endpoint } = await startS3rver(path.join(work, "s3")));
        // pkg/rclone/rclone.go start_daemon: `rclone rcd` with an empty config file of its own
        // (remotes come only through config/create), on a free port (the driver listens on all
        // addresses; here 127.0.0.1).
        const port = await freePort();
        rc = `http://127.0.0.1:${port}`;
        fs.writeFileSync(path.join(work, "rclone.conf"), "");
        rcd = spawn("rclone", ["rcd", `--rc-addr=127.0.0.1:${port}`, "--cache-info-age=72h", "--cache-chunk-clean-interval=15m", "--rc-no-auth",
            `--cache-dir=${path.join(work, "cache")}`, "--log-level=NOTICE", `--config=${path.join(work, "rclone.conf")}`],
        { env: { PATH }, stdio: ["ignore", "pipe", "pipe"] });
        rcd.stdout!.on("data", (d: Buffer) => { log += d.toString(); });
        rcd.stderr!.on("data", (d: Buffer) => { log += d.toString(); });
        await until("rclone rcd to answer", 20_000, async () => {
            if (rcd!.exitCode !== null) throw new Error(`rclone rcd exited ${rcd!.exitCode}:\n${log}`);
            return fetch(`${rc}/rc/noop`, { method: "POST" }).then((r) => (r.ok ? true : undefined), () => undefined);
        });
    });

    after(async () => {
        // Undo every mount, pass or fail: rclone unmounts on SIGTERM; a lazy unmount for the rest.
        if (rcd && rcd.exitCode === null) rcd.kill("SIGTERM");
        if (rcd) await until("rclone rcd to exit", 10_000, () => (rcd!.exitCode !== null || rcd!.signalCode !== null ? true : undefined)).catch(() => rcd!.kill("SIGKILL"));
        for (const t of targets) if (isMounted(t)) spawnSync("fusermount3", ["-u", "-z", t]);
        for (const t of targets) assert.ok(!isMounted(t), `${t} is still mounted`);
        s3?.kill();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    async function call(route: string, body: Json): Promise<Json> {
        const r = await fetch(`${rc}/${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        const answer = await r.json() as Json;
        // Never print the request: it carries the keys (the driver redacts it too, checkResponse).
        assert.equal(r.status, 200, `${route}: ${String(answer.error)}\n${log}`);
        return answer;
    }

    it("mounts the rendered Secret at the pod's target read-only, and an object of the bucket reads through it", async () => {
        const put = await fetch(`${endpoint}/${BUCKET}/datasets/run-42.txt`, { method: "PUT", body: "ATLAS run 42\n" });
        assert.equal(put.status, 200);
        // What the program renders: the Secret's data and the PV; only endpoint and keys are local.
        const secret = archiveCsiSecretData({ endpoint, region: "us-east-1", bucket: BUCKET }, { kind: "static", ...KEYS });
        const pv = archiveCsiVolume({ s3: { bucket: BUCKET }, secretName: ARCHIVE_CSI.secret, namespace: "htcondor" });
        // The kubelet's readonly flag is the pod's claim reference's (archivePodVolume).
        const readOnly = archivePodVolume().volume.persistentVolumeClaim.readOnly;
        const cacheSize = "1G"; // the chart's csiNodepluginRclone.rclone.cache.size, which the values keep
        assert.equal((rcloneCsiValues().csiNodepluginRclone as Json & { rclone: Json }).rclone.cache, undefined);
        const target = path.join(work, "pods", "uid", "volumes", "kubernetes.io~csi", "htcondor-archive", "mount");
        fs.mkdirSync(target, { recursive: true });
        targets.push(target);
        const req = driverRequests({ ...secret }, pv.csi.volumeAttributes, pv.csi.volumeHandle, target, readOnly, cacheSize);

        await call("config/create", req.configCreate);
        await call("mount/mount", { ...req.mount, vfsOpt: rclone1_60(req.mount.vfsOpt) });
        const info = mountInfo(target);
        assert.ok(info, `nothing mounted at the target:\n${log}`);
        // "<mount id> <parent> <dev> <root> <point> <options> ... - <fstype> <source> <super options>"
        const dash = info!.indexOf("-");
        assert.equal(info![dash + 1], "fuse.rclone");
        assert.equal(info![dash + 2], `${req.configName}:${BUCKET}`, "the whole bucket, under the driver's remote name");
        assert.ok(info![5].split(",").includes("ro"), `mounted read-write: ${info!.join(" ")}`);

        assert.deepEqual(await readdir(target), ["datasets"]);
        assert.equal(await readFile(path.join(target, "datasets", "run-42.txt"), "utf8"), "ATLAS run 42\n");
        const refused = await writeFile(path.join(target, "datasets", "mine.txt"), "x").then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
        assert.equal(refused, "EROFS");
        assert.equal((await fetch(`${endpoint}/${BUCKET}/datasets/mine.txt`)).status, 404);

        // NodeUnpublishVolume (rclone.go Unmount): mount/unmount, then config/delete.
        await call("mount/unmount", { mountPoint: target });
        await call("config/delete", { name: req.configName });
        assert.ok(!isMounted(target));
    });
});
