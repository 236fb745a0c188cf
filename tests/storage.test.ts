/**
 * The storage controller: every export and unit option, the data volume's safety (protect,
 * retain, by-id path, never formatting a volume with data), secrets, STS, the program's wiring,
 * `systemd-analyze verify` on the units, and the volume and home scripts run for real.
 * The S3 mount itself runs for real in tests/storage-rclone.test.ts.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { archiveMountArgs, DATA_WAIT_SECONDS, StorageCloudConfigArgs, storageCloudConfig, storageFiles, usersEnv } from "../components/storage/cloudconfig";
import { nfsClients } from "../components/storage/controller";
import { parseIni, renderIni, systemdCommand } from "../components/compute/ini";
import { LAYOUT, UNITS, volumeDevicePath } from "../components/storage/layout";
import { ARCHIVE_FSID, nfsExports, renderExports, renderNfsConf } from "../components/storage/nfs";
import { rcloneMountArgs, renderAwsConfig, renderFuseConf, renderRcloneConf } from "../components/storage/rclone";
import { BIN, storageUnits, UnitArgs } from "../components/storage/units";
import { renderCloudConfig, renderEnvFile, WriteFile } from "../components/compute/cloudinit";
import { sshCommandSetup } from "../components/compute/ssh";
import { baseCloudConfig, extendCloudConfig } from "../components/compute/base";
import { plannedVms } from "../components/config/quota";
import { DEFAULTS } from "../components/config/defaults";
import { cloudConfigOf, EXTRACTORS, storageControllerFiles } from "../offline/artifacts";
import { SECRET_MARKER } from "../offline/engine";
import { makeRedactor, secretStrings } from "../offline/redact";
import { offlineSecret } from "../offline/stackfile";
import { INSTANCE, merged, ProgramRun, ROOT, runProgram } from "./harness/program";
import { cloudInitSchema, requireCondition, requireTool, shellcheck } from "./harness/tools";

const VOLUME = "openstack:blockstorage/volume:Volume";
const ATTACH = "openstack:compute/volumeAttach:VolumeAttach";
const VOLUME_ID = "9d2c5e7a-41b6-4f0e-8a35-0c7d2e9b1f64";
const SCRIPTS = path.join(ROOT, "components", "storage", "scripts");

const ARGS: StorageCloudConfigArgs = {
    volumeId: VOLUME_ID,
    dataVolumeGb: 100,
    nfsClients: nfsClients("192.168.100.0/24"),
    s3: { endpoint: "https://rgw.cloud.infn.it", bucket: "incant-dev-archive", region: "us-east-1", exportReadWrite: false },
    credentials: { kind: "static", accessKeyId: "AKIA-TEST-KEY-ID", secretAccessKey: "test-secret-access-key" },
    hostName: "incant-dev-storage",
};
const STS: StorageCloudConfigArgs = {
    ...ARGS,
    credentials: { kind: "sts", iamTokenEndpoint: "https://iam.cloud.infn.it/token", iamClientId: "incant-storage", iamClientSecret: "iam-client-secret-value", roleArn: "arn:aws:iam:::role/IAMaccess" },
};

function fileAt(files: WriteFile[], p: string): WriteFile {
    const f = files.find((x) => x.path === p);
    assert.ok(f, `no file ${p}; have ${files.map((x) => x.path).join(", ")}`);
    return f;
}

/** A unit file read back: section -> key -> values. */
function unitAt(files: WriteFile[], name: string): Record<string, Record<string, string[]>> {
    return parseIni(fileAt(files, name.includes("/") ? name : `/etc/systemd/system/${name}`).content);
}

/** An export line read back: path -> host -> options. */
function exportsTable(text: string): Map<string, Map<string, string[]>> {
    const table = new Map<string, Map<string, string[]>>();
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
        const [p, ...clients] = line.split(" ");
        table.set(p, new Map(clients.map((c) => {
            const m = /^([^()]+)\(([^()]*)\)$/.exec(c);
            assert.ok(m, `bad client entry ${c}`);
            return [m[1], m[2].split(",")];
        })));
    }
    return table;
}

const COMMAND = "command:remote:Command";
/** The users of Pulumi.dev.yaml. */
const USERS_OF_DEV = [1, 2, 3, 4, 5].map((i) => ({ name: `atlasuser${i}`, uid: 20000 + i, iamSubject: `5d2b0a6e-0000-4000-8000-00000000000${i}` }));

describe("storage: NFS exports and server", () => {
    const clients = nfsClients("192.168.100.0/24");

    it("are the workers' address block and the submit host, nothing else", () => {
        assert.deepEqual(clients, ["192.168.100.32/27", "192.168.100.64/26", "192.168.100.128/25", "192.168.100.21"]);
        assert.deepEqual(nfsClients("192.168.64.0/21"), ["192.168.64.32/27", "192.168.64.64/26", "192.168.64.128/25",
            "192.168.65.0/24", "192.168.66.0/23", "192.168.68.0/22", "192.168.64.21"]);
    });

    it("export home and scratch read-write with sync, root_squash and no_subtree_check to exactly those clients", () => {
        const table = exportsTable(renderExports(nfsExports({ home: LAYOUT.home, scratch: LAYOUT.scratch, archive: LAYOUT.archive, clients, archiveReadWrite: false })));
        assert.deepEqual([...table.keys()], [LAYOUT.home, LAYOUT.scratch, LAYOUT.archive]);
        for (const p of [LAYOUT.home, LAYOUT.scratch]) {
            assert.deepEqual([...table.get(p)!.keys()], clients);
            for (const options of table.get(p)!.values()) assert.deepEqual(options, ["rw", "sync", "root_squash", "no_subtree_check"]);
        }
    });

    it("export the archive read-only with an explicit fsid, read-write only when asked", () => {
        const archive = (archiveReadWrite: boolean) => exportsTable(renderExports(nfsExports({ home: "/h", scratch: "/s", archive: "/a", clients, archiveReadWrite }))).get("/a")!;
        for (const options of archive(false).values()) assert.deepEqual(options, ["ro", "sync", "root_squash", "no_subtree_check", `fsid=${ARCHIVE_FSID}`]);
        for (const options of archive(true).values()) assert.deepEqual(options, ["rw", "sync", "root_squash", "no_subtree_check", `fsid=${ARCHIVE_FSID}`]);
    });

    it("refuse wildcards, the whole Internet and an empty client list", () => {
        const exportTo = (c: string[]) => () => nfsExports({ home: "/h", scratch: "/s", archive: "/a", clients: c, archiveReadWrite: false });
        assert.throws(exportTo(["*"]), /explicit addresses/);
        assert.throws(exportTo(["0.0.0.0/0"]), /explicit addresses/);
        assert.throws(exportTo(["*.cloud.infn.it"]), /explicit addresses/);
        assert.throws(exportTo([]), /at least one client/);
    });

    it("nfs.conf: NFSv4.1+ over TCP only (no v2, v3, v4.0 or UDP)", () => {
        assert.deepEqual(parseIni(renderNfsConf()), { nfsd: {
            udp: ["n"], tcp: ["y"], vers2: ["n"], vers3: ["n"], vers4: ["y"], "vers4.0": ["n"], "vers4.1": ["y"], "vers4.2": ["y"],
        } });
    });
});

describe("storage: rclone", () => {
    it("rclone.conf: the Ceph S3 remote with static keys, or env_auth and no keys for STS", () => {
        const conf = (c: StorageCloudConfigArgs["credentials"]) => parseIni(renderRcloneConf({ remote: "archive", endpoint: "https://rgw.cloud.infn.it", region: "us-east-1", credentials: c }));
        assert.deepEqual(conf(ARGS.credentials), { archive: {
            type: ["s3"], provider: ["Ceph"], endpoint: ["https://rgw.cloud.infn.it"], region: ["us-east-1"], env_auth: ["false"],
            access_key_id: ["AKIA-TEST-KEY-ID"], secret_access_key: ["test-secret-access-key"], no_check_bucket: ["true"],
        } });
        const sts = conf(STS.credentials).archive;
        assert.deepEqual(sts.env_auth, ["true"]);
        assert.ok(!("access_key_id" in sts) && !("secret_access_key" in sts));
    });

    it("AWS config: the default profile's credential_process is the helper with its env file, by absolute paths", () => {
        assert.deepEqual(parseIni(renderAwsConfig(BIN.stsHelper, LAYOUT.stsEnv)), { default: { credential_process: [`${BIN.stsHelper} ${LAYOUT.stsEnv}`] } });
        assert.throws(() => renderAwsConfig("incant-s3-credentials.sh", LAYOUT.stsEnv), /absolute/);
    });

    it("mount: absolute --config, a persistent --cache-dir on the data volume, full VFS cache, allow_other", () => {
        const args = archiveMountArgs(ARGS);
        assert.deepEqual(args.slice(0, 3), ["mount", "archive:incant-dev-archive", LAYOUT.archive]);
        const flags = new Map(args.slice(3).map((a) => a.split("=") as [string, string]));
        assert.equal(flags.get("--config"), LAYOUT.rcloneConfig);
        assert.equal(flags.get("--cache-dir"), LAYOUT.rcloneCache);
        assert.ok(LAYOUT.rcloneCache.startsWith(`${LAYOUT.dataMount}/`), "the cache survives the VM: it is on the data volume");
        assert.equal(flags.get("--vfs-cache-mode"), "full");
        assert.equal(flags.get("--vfs-cache-max-size"), "25G", "a quarter of the 100 GB volume");
        assert.ok(flags.has("--allow-other"));
        assert.equal(flags.get("--umask"), "0022");
        assert.equal(new Map(archiveMountArgs({ ...ARGS, s3: { ...ARGS.s3, exportReadWrite: true } }).map((a) => a.split("=") as [string, string])).get("--umask"), "0000");
        const base = { remote: "r", bucket: "b", mountPoint: "/m", configFile: "/c", cacheDir: "/d", cacheMaxGb: 1, readWrite: false, dirCacheTime: "1m" };
        assert.throws(() => rcloneMountArgs({ ...base, configFile: "rclone.conf" }), /absolute/);
        assert.throws(() => rcloneMountArgs({ ...base, cacheDir: "cache" }), /absolute/);
    });

    it("fuse.conf allows allow_other for non-root mounts", () => {
        assert.ok(renderFuseConf().split("\n").includes("user_allow_other"));
    });
});

describe("storage: systemd units", () => {
    const files = storageFiles(ARGS);
    const device = volumeDevicePath(VOLUME_ID);

    it("name the data volume by its stable by-id path (the first 20 characters of its id)", () => {
        assert.equal(device, "/dev/disk/by-id/virtio-9d2c5e7a-41b6-4f0e-8");
        assert.throws(() => volumeDevicePath("vdb"), /not a Cinder volume id/);
    });

    it("prepare the volume before mounting it, with the wait inside the start timeout", () => {
        const prep = unitAt(files, UNITS.prepareVolume);
        assert.deepEqual(prep.Service.Type, ["oneshot"]);
        assert.deepEqual(prep.Service.RemainAfterExit, ["yes"]);
        assert.deepEqual(prep.Service.ExecStart, [BIN.prepareVolume]);
        assert.deepEqual(prep.Service.EnvironmentFile, [LAYOUT.storageEnv]);
        assert.ok(Number(prep.Service.TimeoutStartSec[0]) > DATA_WAIT_SECONDS);
        const mount = unitAt(files, UNITS.dataMount);
        assert.deepEqual(mount.Mount, { What: [device], Where: [LAYOUT.dataMount], Type: ["ext4"], Options: ["defaults,noatime"] });
        assert.deepEqual(mount.Unit.Requires, [UNITS.prepareVolume]);
        assert.deepEqual(mount.Unit.After, [UNITS.prepareVolume]);
        assert.deepEqual(mount.Unit.DefaultDependencies, ["no"], "a late volume must not hold up local-fs.target");
        assert.equal(UNITS.dataMount, `${LAYOUT.dataMount.slice(1).replace(/\//g, "-")}.mount`, "a mount unit is named after its path");
        const dirs = unitAt(files, UNITS.userDirs);
        assert.deepEqual(dirs.Unit.Requires, [UNITS.dataMount]);
        assert.deepEqual(dirs.Service.ExecStartPre, [`${BIN.resize2fs} ${device}`]);
        assert.deepEqual(dirs.Service.ExecStart, [BIN.userDirs]);
        assert.deepEqual(dirs.Service.EnvironmentFile, [LAYOUT.storageEnv, `-${LAYOUT.usersEnv}`], "the users file may not exist yet at first boot");
    });

    it("run rclone as Type=notify with the rendered arguments, after the volume, restarting on failure", () => {
        const u = unitAt(files, UNITS.archive);
        assert.deepEqual(u.Service.Type, ["notify"]);
        assert.deepEqual(u.Service.ExecStart, [[BIN.rclone, ...archiveMountArgs(ARGS)].join(" ")]);
        assert.deepEqual(u.Service.Restart, ["on-failure"]);
        assert.deepEqual(u.Service.ExecStopPost, [`-${BIN.fusermount} -u -z ${LAYOUT.archive}`]);
        assert.deepEqual(u.Unit.Requires, [UNITS.dataMount]);
        assert.deepEqual(u.Unit.After, ["network-online.target", UNITS.dataMount]);
        assert.equal(u.Service.Environment, undefined, "static keys need no environment");
        assert.deepEqual(unitAt(storageFiles(STS), UNITS.archive).Service.Environment, [`AWS_CONFIG_FILE=${LAYOUT.awsConfig}`]);
        assert.deepEqual(u.Install.WantedBy, ["multi-user.target"]);
    });

    it("start nfs-server only after (and only with) the volume, the users' directories and the rclone mount", () => {
        const dropIn = unitAt(files, `/etc/systemd/system/${UNITS.nfsServer}.d/incant.conf`);
        const needs = [UNITS.dataMount, UNITS.userDirs, UNITS.archive];
        assert.deepEqual(dropIn, { Unit: { Requires: needs, After: needs } });
    });

    it("pass systemd-analyze verify, with the units they depend on stubbed in a temporary root", function () {
        requireTool(this, "systemd-analyze");
        const verify = (units: Record<string, string>) => verifyUnits(units);
        const result = verify(storageUnits(unitArgs(ARGS)));
        assert.equal(result.output, "", result.output);
        assert.equal(result.status, 0);
        const sts = verify(storageUnits(unitArgs(STS)));
        assert.equal(sts.output, "", sts.output);
        // The validator is live: an ordering cycle and an unknown option are both reported.
        const broken = storageUnits(unitArgs(ARGS));
        broken[`/etc/systemd/system/${UNITS.nfsServer}.d/incant.conf`] += `Before=${UNITS.prepareVolume}\nBogusOption=1\n`;
        const bad = verify(broken);
        assert.match(bad.output, /ordering cycle/);
        assert.match(bad.output, /Unknown key 'BogusOption'/);
    });

    it("refuse command lines and values that would need quoting", () => {
        assert.throws(() => systemdCommand(["rclone", "mount"]), /absolute/);
        assert.throws(() => systemdCommand(["/usr/bin/rclone", "a b"]), /quoting/);
        assert.equal(systemdCommand(["/bin/echo", "100%"]), "/bin/echo 100%%");
        assert.throws(() => renderIni([{ name: "Unit", entries: { Description: "x\n[Service]" } }], { separator: "=" }), /newline/);
    });
});

function unitArgs(a: StorageCloudConfigArgs): UnitArgs {
    return {
        dataDevice: volumeDevicePath(a.volumeId), dataWaitSeconds: DATA_WAIT_SECONDS, rcloneArgs: archiveMountArgs(a),
        rcloneEnvironment: a.credentials.kind === "sts" ? { AWS_CONFIG_FILE: LAYOUT.awsConfig } : {}, bucket: a.s3.bucket,
    };
}

/**
 * `systemd-analyze --root` on a throwaway tree: the host's own unit directory (targets, udev...),
 * our units, a stand-in nfs-server.service with the [Unit] ordering of nfs-utils' real one
 * (nfs-kernel-server is not installed here), and an empty executable at every absolute path a
 * unit runs, so verify checks the units, not this machine's packages.
 */
function verifyUnits(units: Record<string, string>): { status: number | null; output: string } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "incant-systemd-"));
    try {
        for (const link of ["bin", "sbin", "lib"]) fs.symlinkSync(`usr/${link}`, path.join(root, link));
        const hostUnits = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((d) => fs.existsSync(d))!;
        fs.mkdirSync(path.join(root, "usr", "lib", "systemd"), { recursive: true });
        fs.cpSync(hostUnits, path.join(root, "usr", "lib", "systemd", "system"), { recursive: true, verbatimSymlinks: true });
        const nfsServer = renderIni([
            { name: "Unit", entries: {
                Description: "stand-in for nfs-utils' nfs-server.service", DefaultDependencies: "no",
                Requires: "network.target", Wants: "network-online.target", After: ["network-online.target", "local-fs.target"],
            } },
            { name: "Service", entries: { Type: "oneshot", RemainAfterExit: "yes", ExecStartPre: "-/usr/sbin/exportfs -r", ExecStart: "/usr/sbin/rpc.nfsd" } },
            { name: "Install", entries: { WantedBy: "multi-user.target" } },
        ], { separator: "=" });
        const all = { ...units, [`/usr/lib/systemd/system/${UNITS.nfsServer}`]: nfsServer };
        for (const [p, text] of Object.entries(all)) {
            fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
            fs.writeFileSync(path.join(root, p), text);
            for (const m of text.matchAll(/^Exec\w+=[-@:+!]*(\/\S+)/gm)) {
                const exe = path.join(root, m[1]);
                if (fs.existsSync(exe)) continue;
                fs.mkdirSync(path.dirname(exe), { recursive: true });
                fs.writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 });
            }
        }
        const names = Object.keys(units).filter((p) => !p.includes(".d/")).map((p) => path.basename(p));
        const r = spawnSync("systemd-analyze", [`--root=${root}`, "verify", ...names, UNITS.nfsServer], { encoding: "utf8", timeout: 60_000 });
        return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

describe("storage: cloud-init files", () => {
    it("deliver every file after the packages, secrets mode 0600, scripts 0755", () => {
        const files = storageFiles(STS);
        assert.ok(files.every((f) => f.defer === true && f.owner === "root:root"));
        const modes = Object.fromEntries(files.map((f) => [f.path, f.permissions]));
        assert.equal(modes[LAYOUT.rcloneConfig], "0600");
        assert.equal(modes[LAYOUT.iamClientSecret], "0600");
        for (const exe of [BIN.prepareVolume, BIN.userDirs, BIN.updateUsers, BIN.stsHelper]) assert.equal(modes[exe], "0755");
        assert.equal(fileAt(files, LAYOUT.iamClientSecret).content, "iam-client-secret-value", "the helper reads the file whole: no newline");
        assert.deepEqual(files.filter((f) => f.content.includes("iam-client-secret-value")).map((f) => f.path), [LAYOUT.iamClientSecret]);
        assert.deepEqual(storageFiles(ARGS).filter((f) => f.content.includes("test-secret-access-key")).map((f) => f.path), [LAYOUT.rcloneConfig]);
    });

    it("parameterise the scripts with the device and the trees; the users travel apart", () => {
        const env = fileAt(storageFiles(ARGS), LAYOUT.storageEnv).content;
        assert.match(env, new RegExp(`^DATA_DEVICE='${volumeDevicePath(VOLUME_ID)}'$`, "m"));
        assert.doesNotMatch(env, /FACILITY_USERS/, "users are not in user-data: adding one must not replace the VM");
        assert.equal(usersEnv([{ name: "atlasuser1", uid: 20001, iamSubject: "s1" }, { name: "atlasuser2", uid: 20002, iamSubject: "s2" }]),
            "FACILITY_USERS='atlasuser1:20001 atlasuser2:20002'\n");
        const sts = fileAt(storageFiles(STS), LAYOUT.stsEnv).content;
        assert.match(sts, /^STS_ROLE_ARN='arn:aws:iam:::role\/IAMaccess'$/m);
        assert.match(sts, /^STS_ENDPOINT='https:\/\/rgw.cloud.infn.it'$/m);
        assert.match(sts, new RegExp(`^IAM_CLIENT_SECRET_FILE='${LAYOUT.iamClientSecret}'$`, "m"));
    });

    // tests/cloudinit.test.ts checks every VM of the stacks (static keys); this is the STS variant.
    it("pass cloud-init's schema and shellcheck with STS credentials too", function () {
        for (const tool of ["cloud-init", "shellcheck"]) requireTool(this, tool);
        const vm = plannedVms({ ...DEFAULTS, namePrefix: "incant-dev" }).find((v) => v.role === "storage")!;
        const text = renderCloudConfig(extendCloudConfig(baseCloudConfig(vm, { sshPublicKey: "ssh-ed25519 AAAA test" }), storageCloudConfig(STS)));
        const schema = cloudInitSchema(text);
        assert.ok(schema.ok, schema.output);
        const scripts = storageFiles(STS).filter((f) => f.content.startsWith("#!"));
        assert.deepEqual(scripts.map((f) => f.path), [BIN.prepareVolume, BIN.userDirs, BIN.updateUsers, BIN.stsHelper]);
        for (const f of scripts) {
            const r = shellcheck(f.content);
            assert.ok(r.ok, `${f.path}:\n${r.output}`);
        }
    });

    it("install the packages and start nfs-server last, with rpcbind and statd masked", () => {
        const c = storageCloudConfig(ARGS);
        assert.deepEqual(c.packages, ["nfs-kernel-server", "rclone", "fuse3"]);
        assert.deepEqual(storageCloudConfig(STS).packages, ["nfs-kernel-server", "rclone", "fuse3", "curl", "jq"]);
        assert.deepEqual(c.runcmd?.at(-1), ["systemctl", "restart", UNITS.nfsServer]);
        assert.ok(c.runcmd?.some((cmd) => cmd.join(" ") === "systemctl mask --now rpcbind.service rpcbind.socket rpc-statd.service"));
    });
});

describe("storage: the data volume script, run on image files", function () {
    let dir: string;
    before(function () {
        for (const tool of ["mkfs.ext4", "blkid", "e2fsck"]) requireTool(this, tool);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-volume-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const prepare = (device: string, wait = 5) => spawnSync("bash", [path.join(SCRIPTS, "prepare-data-volume.sh")], {
        encoding: "utf8", timeout: 60_000,
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DATA_DEVICE: device, DATA_LABEL: "incant-data", DATA_WAIT_SECONDS: String(wait) },
    });
    const sha = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    const probe = (file: string, tag: string) => spawnSync("blkid", ["-p", "-s", tag, "-o", "value", file], { encoding: "utf8" }).stdout.trim();

    it("formats a blank volume, then keeps the file system on every later run", () => {
        const image = path.join(dir, "blank.img");
        fs.writeFileSync(image, Buffer.alloc(32 * 1024 * 1024));
        const first = prepare(image);
        assert.equal(first.status, 0, first.stderr);
        assert.equal(probe(image, "TYPE"), "ext4");
        assert.equal(probe(image, "LABEL"), "incant-data");
        const uuid = probe(image, "UUID");
        const second = prepare(image);
        assert.equal(second.status, 0, second.stderr);
        assert.match(second.stdout, /kept as it is/);
        assert.equal(probe(image, "UUID"), uuid, "the file system was not recreated");
    });

    it("refuses to format or use a volume holding something else (a partition table)", () => {
        const image = path.join(dir, "partitioned.img");
        const disk = Buffer.alloc(8 * 1024 * 1024);
        // A DOS label with one Linux partition from sector 2048 (MBR layout: entry at 446, 0x55AA at 510).
        disk[446 + 4] = 0x83;
        disk.writeUInt32LE(2048, 446 + 8);
        disk.writeUInt32LE(8192, 446 + 12);
        disk[510] = 0x55;
        disk[511] = 0xaa;
        fs.writeFileSync(image, disk);
        const before = sha(image);
        const r = prepare(image);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /not formatting it/);
        assert.equal(sha(image), before, "not one byte changed");
    });

    it("gives up, without formatting anything, when the volume never appears", () => {
        const r = prepare(path.join(dir, "never-attached"), 2);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /did not appear within 2s/);
    });
});

describe("storage: the users' directories script", function () {
    it("creates each user's home (0700) and scratch (0755) owned by the user, idempotently", function () {
        requireCondition(this, process.getuid?.() === 0, "this test needs root (chown)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-dirs-"));
        try {
            const env = {
                PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME_ROOT: path.join(dir, "home"), SCRATCH_ROOT: path.join(dir, "scratch"),
                RCLONE_CACHE: path.join(dir, "rclone-cache"), FACILITY_USERS: "atlasuser1:20001 atlasuser2:20002",
            };
            for (let run = 0; run < 2; run++) {
                const r = spawnSync("bash", [path.join(SCRIPTS, "user-dirs.sh")], { encoding: "utf8", env, timeout: 30_000 });
                assert.equal(r.status, 0, r.stderr);
            }
            for (const [name, uid] of [["atlasuser1", 20001], ["atlasuser2", 20002]] as const) {
                const home = fs.statSync(path.join(dir, "home", name));
                const scratch = fs.statSync(path.join(dir, "scratch", name));
                assert.deepEqual([home.uid, home.gid, home.mode & 0o7777], [uid, uid, 0o700]);
                assert.deepEqual([scratch.uid, scratch.gid, scratch.mode & 0o7777], [uid, uid, 0o755]);
            }
            assert.equal(fs.statSync(path.join(dir, "rclone-cache")).mode & 0o777, 0o700);
            const bad = spawnSync("bash", [path.join(SCRIPTS, "user-dirs.sh")], { encoding: "utf8", env: { ...env, FACILITY_USERS: "../etc:0" }, timeout: 30_000 });
            assert.notEqual(bad.status, 0);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("storage: the users update script, run with stand-in cloud-init and systemctl", function () {
    /** Runs update-users.sh in a scratch root; `cloudInit`/`mounted` choose the stand-ins' answers. */
    function runUpdate(dir: string, stdin: string, cloudInit = 0, mounted = true) {
        const stubs = path.join(dir, "bin");
        fs.mkdirSync(stubs, { recursive: true });
        fs.writeFileSync(path.join(stubs, "cloud-init"), `#!/bin/sh\nexit ${cloudInit}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(stubs, "systemctl"), `#!/bin/sh\nexit ${mounted ? 0 : 3}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "storage.env"), renderEnvFile({
            HOME_ROOT: path.join(dir, "home"), SCRATCH_ROOT: path.join(dir, "scratch"), RCLONE_CACHE: path.join(dir, "cache"),
        }));
        return spawnSync("bash", [path.join(SCRIPTS, "update-users.sh"), "5"], {
            encoding: "utf8", input: stdin, timeout: 30_000,
            env: {
                PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin`, STORAGE_ENV: path.join(dir, "storage.env"),
                USERS_ENV: path.join(dir, "storage-users.env"), USER_DIRS: path.join(SCRIPTS, "user-dirs.sh"),
            },
        });
    }
    const USERS = [{ name: "atlasuser1", uid: 20001, iamSubject: "s1" }, { name: "atlasuser6", uid: 20006, iamSubject: "s6" }];

    it("defaults to the paths and the unit the program writes (the script spells them out: changing it replaces the VM)", () => {
        const text = fs.readFileSync(path.join(SCRIPTS, "update-users.sh"), "utf8");
        // `NAME=${NAME:-default}`: the tests override them, the VM runs with the defaults.
        const defaults = Object.fromEntries([...text.matchAll(/^([A-Z_]+)=\$\{\1:-([^}]*)\}$/gm)].map((m) => [m[1], m[2]]));
        assert.deepEqual(defaults, {
            STORAGE_ENV: LAYOUT.storageEnv,
            USERS_ENV: LAYOUT.usersEnv,
            USER_DIRS: BIN.userDirs,
            DATA_MOUNT_UNIT: UNITS.dataMount,
        });
    });

    it("installs the list and creates the new user's directories", function () {
        requireCondition(this, process.getuid?.() === 0, "this test needs root (chown)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-users-"));
        try {
            const r = runUpdate(dir, usersEnv(USERS));
            assert.equal(r.status, 0, r.stderr);
            assert.equal(fs.readFileSync(path.join(dir, "storage-users.env"), "utf8"), usersEnv(USERS));
            const home = fs.statSync(path.join(dir, "home", "atlasuser6"));
            assert.deepEqual([home.uid, home.mode & 0o7777], [20006, 0o700]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses when cloud-init failed, when the data volume is not mounted, or on a malformed list", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-users-"));
        try {
            const failed = runUpdate(dir, usersEnv(USERS), 1);
            assert.notEqual(failed.status, 0);
            assert.match(failed.stderr, /FAILED: cloud-init did not finish within 5 s \(status 1\)/);
            const unmounted = runUpdate(dir, usersEnv(USERS), 0, false);
            assert.match(unmounted.stderr, /FAILED: srv-incant\.mount is not active/);
            const malformed = runUpdate(dir, "rm -rf /\n");
            assert.match(malformed.stderr, /FAILED: stdin is not a FACILITY_USERS line/);
            assert.ok(!fs.existsSync(path.join(dir, "home")), "nothing created");
            assert.ok(!fs.existsSync(path.join(dir, "storage-users.env")), "nothing installed");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("storage: SSH from the program (components/compute/ssh.ts, shared with the submit host)", () => {
    const key = () => new Error("no key here");

    it("bounds dialing by the readiness timeout, backs it up with twice the timeout plus a minute, and needs the key", () => {
        const s = sshCommandSetup({ privateKey: "k", host: "192.168.100.20", proxy: "203.0.113.7", timeoutSeconds: 900, missingKey: key });
        assert.deepEqual(s.connection, {
            user: "ubuntu", privateKey: "k", host: "192.168.100.20", proxy: { user: "ubuntu", privateKey: "k", host: "203.0.113.7" },
            perDialTimeout: 30, dialErrorLimit: 30,
        });
        assert.deepEqual(s.customTimeouts, { create: "1860s" });
        const direct = sshCommandSetup({ privateKey: "k", host: "h", timeoutSeconds: 5, missingKey: key });
        assert.ok(!("proxy" in direct.connection), "no jump host unless asked");
        assert.equal(direct.connection.dialErrorLimit, 1, "at least one dial");
        assert.throws(() => sshCommandSetup({ privateKey: undefined, host: "h", timeoutSeconds: 5, missingKey: key }), /no key here/);
    });
});

describe("storage: the StorageController in the program", () => {
    let dev: ProgramRun;
    before(async () => { dev = await runProgram("dev"); });

    const storageVm = (run: ProgramRun) => run.ofType(INSTANCE).find((i) => (i.inputs.metadata as Record<string, string>).role === "storage")!;

    it("keeps the storage VM (same user-data) when the pool is scaled or a user is added", async () => {
        const scaled = await runProgram("dev", { nodes: { workers: { count: 3 } } });
        assert.equal(storageVm(scaled).revealedInputs.userData, storageVm(dev).revealedInputs.userData);
        const more = await runProgram("dev", { users: [...USERS_OF_DEV, { name: "atlasuser6", uid: 20006, iamSubject: "s6" }] });
        assert.equal(storageVm(more).revealedInputs.userData, storageVm(dev).revealedInputs.userData);
        assert.match(String(more.get(COMMAND, "storage-users").revealedInputs.stdin), /atlasuser6:20006'$/m);
    });

    it("installs the users list over SSH through the bastion, with the key as a secret", () => {
        const update = dev.get(COMMAND, "storage-users");
        assert.equal(update.inputs.create, `sudo -n ${BIN.updateUsers} ${DEFAULTS.readinessTimeoutSeconds}`);
        assert.equal(update.revealedInputs.stdin, usersEnv(USERS_OF_DEV));
        assert.ok(update.secretPaths.includes("connection"), "the private key travels as a secret");
        const connection = update.revealedInputs.connection as { host: string; user: string; proxy: { host: string } };
        assert.equal(connection.host, "192.168.100.20");
        assert.equal(connection.proxy.host, dev.outputs.kubernetesApiHost, "the bastion: the API control plane's floating IP");
        const vm = storageVm(dev);
        assert.ok(update.dependencies.includes(vm.urn), "after the server");
        assert.ok(update.dependencies.includes(dev.get("openstack:compute/volumeAttach:VolumeAttach", "storage-data").urn), "after the volume is attached");
        assert.equal(storageControllerFiles(dev)["storage/etc/incant/storage-users.env"], usersEnv(USERS_OF_DEV), "the render shows it");
    });

    it("creates the data volume from config, protected and retained on delete", () => {
        const volume = dev.get(VOLUME, "storage-data");
        assert.equal(volume.inputs.size, DEFAULTS.nodes.storage.dataVolumeGb);
        assert.equal(volume.inputs.enableOnlineResize, true);
        assert.equal(volume.protect, true);
        assert.equal(volume.retainOnDelete, true);
        assert.equal(volume.parent, dev.resources.find((r) => r.type === "incant:storage:StorageController")!.urn);
    });

    it("attaches it to the storage VM, and the VM mounts it by the volume's own id", () => {
        const volume = dev.get(VOLUME, "storage-data");
        const attach = dev.get(ATTACH, "storage-data");
        const vm = storageVm(dev);
        assert.ok(attach.dependencies.includes(volume.urn) && attach.dependencies.includes(vm.urn));
        assert.equal(attach.inputs.volumeId, dev.outputs.storageDataVolumeId);
        assert.match(String(attach.inputs.instanceId), /^offline-instance-/);
        const files = cloudConfigOf(dev, String(vm.inputs.name)).write_files!;
        const mount = parseIni(files.find((f) => f.path === `/etc/systemd/system/${UNITS.dataMount}`)!.content);
        assert.deepEqual(mount.Mount.What, [volumeDevicePath(String(dev.outputs.storageDataVolumeId))]);
    });

    it("replaces the server delete-first (same fixed address, single-attach volume)", () => {
        assert.equal(storageVm(dev).deleteBeforeReplace, true);
        assert.equal(storageVm(dev).protect, true, "a replacement interrupts every NFS client: deliberate only");
        assert.ok(dev.ofType(INSTANCE).filter((i) => i !== storageVm(dev)).every((i) => !i.protect), "only the storage VM");
    });

    it("exposes the NFS share and the stack outputs", () => {
        assert.equal(dev.outputs.nfsServer, "192.168.100.20");
        assert.deepEqual(dev.outputs.nfsExports, { home: LAYOUT.home, scratch: LAYOUT.scratch, archive: LAYOUT.archive, archiveReadOnly: true });
        assert.match(String(dev.outputs.storageDataVolumeId), /^[0-9a-f-]{36}$/);
    });

    it("makes the user-data a secret, and the render shows the keys only as the marker", () => {
        const vm = storageVm(dev);
        assert.ok(vm.secretPaths.includes("userData"));
        const keyId = offlineSecret("incant:s3AccessKeyId");
        const rclone = cloudConfigOf(dev, String(vm.inputs.name)).write_files!.find((f) => f.path === LAYOUT.rcloneConfig) as WriteFile;
        assert.equal(rclone.permissions, "0600");
        assert.match(rclone.content, new RegExp(`^access_key_id = ${keyId}$`, "m"));
        const redact = makeRedactor(secretStrings(dev, dev.stack.secretKeys.map((k) => dev.stack.config[k])), false);
        const shown = redact(storageControllerFiles(dev)["storage/etc/rclone/rclone.conf"]);
        assert.ok(!shown.includes(keyId) && !shown.includes(offlineSecret("incant:s3SecretAccessKey")));
        assert.match(shown, new RegExp(`^secret_access_key = ${SECRET_MARKER.replace(/[[\]]/g, "\\$&")}$`, "m"));
    });

    it("renders storage/ with every file of the VM", () => {
        assert.ok(EXTRACTORS.includes(storageControllerFiles));
        const files = Object.keys(storageControllerFiles(dev));
        for (const p of ["storage/etc/exports.d/incant.exports", "storage/etc/nfs.conf.d/incant.conf", "storage/etc/fuse.conf",
            "storage/etc/rclone/rclone.conf", `storage/etc/systemd/system/${UNITS.archive}`, `storage/etc/systemd/system/${UNITS.dataMount}`,
            `storage/etc/systemd/system/${UNITS.nfsServer}.d/incant.conf`, `storage${BIN.prepareVolume}`]) {
            assert.ok(files.includes(p), `${p} missing from ${files.join(", ")}`);
        }
    });

    it("follows the configuration: STS credentials, a read-write archive, the workers' count", async () => {
        const run = await runProgram("dev", {
            s3: merged(YAML.parse(dev.stack.config["incant:s3"]), { credentials: "sts", iamClientId: "incant-storage", exportReadWrite: true }),
            nodes: { workers: { count: 3 } },
        });
        const files = cloudConfigOf(run, String(storageVm(run).inputs.name)).write_files!;
        const by = (p: string) => files.find((f) => f.path === p)?.content ?? "";
        assert.deepEqual(parseIni(by(LAYOUT.rcloneConfig)).archive.env_auth, ["true"]);
        assert.equal(by(LAYOUT.iamClientSecret), offlineSecret("incant:s3IamClientSecret"));
        assert.match(by(LAYOUT.stsEnv), /^IAM_TOKEN_ENDPOINT='https:\/\/iam\.cloud\.infn\.it\/token'$/m);
        assert.match(by(LAYOUT.stsEnv), /^IAM_CLIENT_ID='incant-storage'$/m);
        const table = exportsTable(by("/etc/exports.d/incant.exports"));
        assert.deepEqual([...table.get(LAYOUT.home)!.keys()], ["192.168.100.32/27", "192.168.100.64/26", "192.168.100.128/25", "192.168.100.21"]);
        assert.equal(table.get(LAYOUT.archive)!.get("192.168.100.21")![0], "rw");
        assert.equal((run.outputs.nfsExports as { archiveReadOnly: boolean }).archiveReadOnly, false);
    });
});
