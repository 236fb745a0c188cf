/**
 * The storage controller: every export and unit option, the data volume's safety (protect,
 * retain, by-id path, never formatting a volume with data), secrets, STS, the program's wiring,
 * `systemd-analyze verify` on the units, and the volume and home scripts run for real.
 * The S3 mount itself runs for real in tests/storage-rclone.test.ts.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { DATA_WAIT_SECONDS, StorageCloudConfigArgs, storageCloudConfig, storageFiles, usersEnv } from "../components/storage/cloudconfig";
import { SCRATCH_PROJECT_OFFSET } from "../components/storage/quotas";
import { ARCHIVE_CACHE_GB, ARCHIVE_CLIENT, archiveClientFiles, archiveCsiSecretData, archiveCsiVolume, archiveMountArgs } from "../components/storage/archive";
import { nfsClients } from "../components/storage/controller";
import { parseIni, renderIni, systemdCommand } from "../components/compute/ini";
import { LAYOUT, UNITS, volumeDevicePath, volumeDevicePaths } from "../components/storage/layout";
import { NFS_CLIENT_OPTIONS, NFS_GRACE_SECONDS, NFS_LEASE_SECONDS, nfsExports, renderExports, renderNfsConf } from "../components/storage/nfs";
import { rcloneMountArgs, renderAwsConfig, renderRcloneConf, StorageCredentials } from "../components/storage/rclone";
import { BIN, storageUnits } from "../components/storage/units";
import { renderCloudConfig, renderEnvFile, WriteFile } from "../components/compute/cloudinit";
import { sshCommandSetup } from "../components/compute/ssh";
import { baseCloudConfig, extendCloudConfig } from "../components/compute/base";
import { plannedVms } from "../components/config/quota";
import { DEFAULTS } from "../components/config/defaults";
import { cloudConfigOf, EXTRACTORS, storageControllerFiles } from "../offline/artifacts";
import { offlineSecret } from "../offline/stackfile";
import { INSTANCE, merged, ProgramRun, ROOT, runProgram } from "./harness/program";
import { cloudInitSchema, requireCondition, requireTool, shellcheck } from "./harness/tools";
import { verifyUnitsInRoot, VerifyResult } from "./harness/systemd";

const VOLUME = "openstack:blockstorage/volume:Volume";
const ATTACH = "openstack:compute/volumeAttach:VolumeAttach";
const VOLUME_ID = "9d2c5e7a-41b6-4f0e-8a35-0c7d2e9b1f64";
const SCRIPTS = path.join(ROOT, "components", "storage", "scripts");

const ARGS: StorageCloudConfigArgs = { volumeId: VOLUME_ID, nfsClients: nfsClients("192.168.100.0/24") };
const S3 = { endpoint: "https://rgw.cloud.infn.it", bucket: "incant-dev-archive", region: "us-east-1", exportReadWrite: false, credentials: "static" as const };
const STATIC: StorageCredentials = { kind: "static", accessKeyId: "AKIA-TEST-KEY-ID", secretAccessKey: "test-secret-access-key" };
const STS: StorageCredentials = { kind: "sts", iamTokenEndpoint: "https://iam.cloud.infn.it/token", iamClientId: "incant-storage", iamClientSecret: "iam-client-secret-value", roleArn: "arn:aws:iam:::role/IAMaccess" };

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

    it("export home and scratch read-write with sync, root_squash and no_subtree_check to exactly those clients, and no archive", () => {
        const table = exportsTable(renderExports(nfsExports({ home: LAYOUT.home, scratch: LAYOUT.scratch, clients })));
        // No FUSE re-export of the S3 archive: its handles go stale (issue 15, FACTS.md).
        assert.deepEqual([...table.keys()], [LAYOUT.home, LAYOUT.scratch]);
        for (const p of [LAYOUT.home, LAYOUT.scratch]) {
            assert.deepEqual([...table.get(p)!.keys()], clients);
            for (const options of table.get(p)!.values()) assert.deepEqual(options, ["rw", "sync", "root_squash", "no_subtree_check"]);
        }
        const exported = renderExports(nfsExports({ home: LAYOUT.home, scratch: LAYOUT.scratch, clients }));
        assert.ok(!exported.includes(LAYOUT.archive) && !/fsid=/.test(exported), exported);
    });

    it("refuse wildcards, the whole Internet and an empty client list", () => {
        const exportTo = (c: string[]) => () => nfsExports({ home: "/h", scratch: "/s", clients: c });
        assert.throws(exportTo(["*"]), /explicit addresses/);
        assert.throws(exportTo(["0.0.0.0/0"]), /explicit addresses/);
        assert.throws(exportTo(["*.cloud.infn.it"]), /explicit addresses/);
        assert.throws(exportTo([]), /at least one client/);
    });

    it("nfs.conf: NFSv4.1+ over TCP only, explicit lease and grace times, nfsdcld's records on the data volume", () => {
        assert.deepEqual(parseIni(renderNfsConf(LAYOUT.nfsState)), {
            nfsd: {
                udp: ["n"], tcp: ["y"], vers2: ["n"], vers3: ["n"], vers4: ["y"], "vers4.0": ["n"], "vers4.1": ["y"], "vers4.2": ["y"],
                "lease-time": [String(NFS_LEASE_SECONDS)], "grace-time": [String(NFS_GRACE_SECONDS)],
            },
            nfsdcld: { storagedir: [LAYOUT.nfsState] },
        });
        assert.ok(LAYOUT.nfsState.startsWith(`${LAYOUT.dataMount}/`), "NFSv4 client state survives a rebuilt VM");
        assert.throws(() => renderNfsConf("nfs-state"), /absolute/);
    });

    it("nfsconf (nfs-utils) reads the rendered nfs.conf back with the same values", function () {
        requireTool(this, "nfsconf");
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "incant-nfsconf-")), "incant.conf");
        fs.writeFileSync(file, renderNfsConf(LAYOUT.nfsState));
        const get = (section: string, key: string) => spawnSync("nfsconf", ["--file", file, "--get", section, key], { encoding: "utf8", timeout: 30_000 });
        assert.equal(get("nfsd", "vers4.0").stdout.trim(), "n");
        assert.equal(get("nfsd", "vers4.2").stdout.trim(), "y");
        assert.equal(get("nfsd", "lease-time").stdout.trim(), String(NFS_LEASE_SECONDS));
        assert.equal(get("nfsd", "grace-time").stdout.trim(), String(NFS_GRACE_SECONDS));
        assert.equal(get("nfsdcld", "storagedir").stdout.trim(), LAYOUT.nfsState);
        // Live: a key the file does not set is reported missing (exit 1), so the values above were read.
        assert.notEqual(get("nfsd", "threads").status, 0);
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });

    it("exportfs (nfs-utils) accepts the rendered exports and resolves each client's options (private mount namespace)", function () {
        requireTool(this, "exportfs");
        requireTool(this, "unshare");
        requireCondition(this, process.getuid?.() === 0, "this test needs root (a private mount namespace)");
        const run = (exportsText: string) => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-exportfs-"));
            try {
                fs.writeFileSync(path.join(dir, "exports"), exportsText);
                // The rendered file over /etc/exports, a scratch /var/lib/nfs (etab) and the exported
                // trees on a tmpfs, in a network namespace of its own and with any running nfsd's
                // control files hidden: exportfs parses and resolves, and exports nothing on this
                // machine even where an NFS server runs (a CI runner with nfs-kernel-server).
                const script = [
                    "set -e", "if mountpoint -q /proc/fs/nfsd; then mount -t tmpfs tmpfs /proc/fs/nfsd; fi",
                    "touch /etc/exports", `mount --bind ${dir}/exports /etc/exports`,
                    "mkdir -p /var/lib/nfs", "mount -t tmpfs tmpfs /var/lib/nfs", "mount -t tmpfs tmpfs /srv",
                    `mkdir -p ${LAYOUT.home} ${LAYOUT.scratch}`, "exportfs -ra", "cat /var/lib/nfs/etab",
                ].join("\n");
                return spawnSync("unshare", ["--mount", "--net", "--propagation", "private", "bash", "-c", script], { encoding: "utf8", timeout: 30_000 });
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        };
        const good = run(renderExports(nfsExports({ home: LAYOUT.home, scratch: LAYOUT.scratch, clients })));
        assert.equal(good.status, 0, good.stderr);
        assert.equal(good.stderr.trim(), "", "exportfs warns about nothing");
        const etab = good.stdout.trim().split("\n");
        assert.equal(etab.length, 2 * clients.length, good.stdout);
        for (const line of etab) assert.match(line, /^\/srv\/incant\/(home|scratch)\t\S+\(rw,sync,.*root_squash,.*no_subtree_check/);
        // Live: an option exportfs does not know is reported.
        const bad = run(`${LAYOUT.home} 192.168.100.21(rw,sync,no_such_option)\n`);
        assert.match(bad.stderr, /no_such_option/);
    });

    it("one client option list for every client: hard, nosuid, nodev, NFS 4.1 or later over TCP", () => {
        const opts = new Map<string, string | undefined>(NFS_CLIENT_OPTIONS.map((o) => [o.split("=")[0], o.split("=")[1]]));
        for (const o of ["hard", "nosuid", "nodev"]) assert.ok(opts.has(o), `${o} missing from ${NFS_CLIENT_OPTIONS.join(",")}`);
        assert.ok(!opts.has("soft") && !opts.has("_netdev"), "hard mounts; _netdev is a systemd option the kubelet would pass on to mount");
        assert.equal(opts.get("proto"), "tcp");
        assert.ok(["4.1", "4.2"].includes(opts.get("vers") ?? ""), `vers=${opts.get("vers")}`);
    });
});

describe("storage: the archive clients (rclone, archive.ts)", () => {
    it("rclone.conf: the Ceph S3 remote with static keys, or env_auth and no keys for STS", () => {
        const conf = (c: StorageCredentials) => parseIni(renderRcloneConf({ remote: "archive", endpoint: "https://rgw.cloud.infn.it", region: "us-east-1", credentials: c }));
        assert.deepEqual(conf(STATIC), { archive: {
            type: ["s3"], provider: ["Ceph"], endpoint: ["https://rgw.cloud.infn.it"], region: ["us-east-1"], env_auth: ["false"],
            access_key_id: ["AKIA-TEST-KEY-ID"], secret_access_key: ["test-secret-access-key"], no_check_bucket: ["true"],
        } });
        const sts = conf(STS).archive;
        assert.deepEqual(sts.env_auth, ["true"]);
        assert.ok(!("access_key_id" in sts) && !("secret_access_key" in sts));
    });

    it("AWS config: the default profile's credential_process is the helper with its env file, by absolute paths", () => {
        assert.deepEqual(parseIni(renderAwsConfig(ARCHIVE_CLIENT.stsHelper, ARCHIVE_CLIENT.stsEnv)), { default: { credential_process: [`${ARCHIVE_CLIENT.stsHelper} ${ARCHIVE_CLIENT.stsEnv}`] } });
        assert.throws(() => renderAwsConfig("incant-s3-credentials.sh", ARCHIVE_CLIENT.stsEnv), /absolute/);
    });

    it("mount: absolute --config, a persistent --cache-dir, full VFS cache, allow_other; read-only unless s3.exportReadWrite", () => {
        const args = archiveMountArgs(S3);
        assert.deepEqual(args.slice(0, 3), ["mount", "archive:incant-dev-archive", ARCHIVE_CLIENT.mountPoint]);
        const flags = new Map(args.slice(3).map((a) => a.split("=") as [string, string]));
        assert.equal(flags.get("--config"), ARCHIVE_CLIENT.rcloneConfig);
        assert.equal(flags.get("--cache-dir"), ARCHIVE_CLIENT.cacheDir);
        assert.equal(flags.get("--vfs-cache-mode"), "full");
        assert.equal(flags.get("--vfs-cache-max-size"), `${ARCHIVE_CACHE_GB}G`);
        assert.ok(flags.has("--allow-other"));
        assert.ok(flags.has("--read-only"), "writes only when s3.exportReadWrite");
        assert.equal(flags.get("--umask"), "0022");
        const rw = new Map(archiveMountArgs({ ...S3, exportReadWrite: true }).map((a) => a.split("=") as [string, string]));
        assert.equal(rw.get("--umask"), "0000");
        assert.ok(!rw.has("--read-only"));
        const base = { remote: "r", bucket: "b", mountPoint: "/m", configFile: "/c", cacheDir: "/d", cacheMaxGb: 1, readWrite: false, dirCacheTime: "1m" };
        assert.throws(() => rcloneMountArgs({ ...base, configFile: "rclone.conf" }), /absolute/);
        assert.throws(() => rcloneMountArgs({ ...base, cacheDir: "cache" }), /absolute/);
    });

    it("client files: rclone.conf 0600 holds the static keys; STS adds the helper, its env and the 0600 client secret", () => {
        const plain = archiveClientFiles(S3, STATIC, "incant-dev-submit");
        assert.deepEqual(plain.map((f) => [f.path, f.mode]), [[ARCHIVE_CLIENT.rcloneConfig, "0600"]]);
        const sts = archiveClientFiles(S3, STS, "incant-dev-submit");
        assert.deepEqual(Object.fromEntries(sts.map((f) => [f.path, f.mode])), {
            [ARCHIVE_CLIENT.rcloneConfig]: "0600", [ARCHIVE_CLIENT.awsConfig]: "0644", [ARCHIVE_CLIENT.stsEnv]: "0644",
            [ARCHIVE_CLIENT.iamClientSecret]: "0600", [ARCHIVE_CLIENT.stsHelper]: "0755",
        });
        assert.deepEqual(sts.filter((f) => f.content.includes("iam-client-secret-value")).map((f) => f.path), [ARCHIVE_CLIENT.iamClientSecret]);
        assert.equal(sts.find((f) => f.path === ARCHIVE_CLIENT.iamClientSecret)!.content, "iam-client-secret-value", "read whole: no newline");
        const env = sts.find((f) => f.path === ARCHIVE_CLIENT.stsEnv)!.content;
        assert.match(env, /^STS_ROLE_ARN='arn:aws:iam:::role\/IAMaccess'$/m);
        assert.match(env, /^STS_SESSION_NAME='incant-dev-submit'$/m);
        assert.match(env, new RegExp(`^IAM_CLIENT_SECRET_FILE='${ARCHIVE_CLIENT.iamClientSecret}'$`, "m"));
    });

    it("the workers' CSI volume: read-only, found by the driver through nodePublishSecretRef, the keys in its Secret only", () => {
        const creds = STATIC as Extract<StorageCredentials, { kind: "static" }>;
        const v = archiveCsiVolume({ s3: S3, secretName: "incant-archive", namespace: "incant" });
        assert.deepEqual([v.csi.readOnly, v.accessModes], [true, ["ReadOnlyMany"]]);
        assert.equal(v.csi.driver, "csi-rclone");
        assert.deepEqual(v.csi.volumeAttributes, { secretName: "incant-archive", secretNamespace: "incant" });
        // csi-rclone v0.6.0 implements NodePublishVolume only: a stage secret would never reach it.
        assert.deepEqual(v.csi.nodePublishSecretRef, { name: "incant-archive", namespace: "incant" });
        assert.ok(!("nodeStageSecretRef" in v.csi));
        const data = archiveCsiSecretData(S3, creds);
        assert.ok(!JSON.stringify(v).includes("test-secret-access-key"), "no key in the PV");
        assert.deepEqual(parseIni(data.configData).archive.secret_access_key, ["test-secret-access-key"]);
        assert.equal(data.remote, "archive");
        assert.equal(data.remotePath, "incant-dev-archive/");
        assert.throws(() => archiveCsiVolume({ s3: S3, secretName: "Bad_Name", namespace: "incant" }), /bad Kubernetes name/);
        assert.throws(() => archiveCsiVolume({ s3: S3, secretName: "ok", namespace: "../x" }), /bad Kubernetes name/);
    });
});

describe("storage: systemd units", () => {
    const files = storageFiles(ARGS);
    const device = volumeDevicePath(VOLUME_ID);

    it("find the data volume under its virtio-blk or virtio-scsi by-id names", () => {
        assert.equal(device, "/dev/disk/by-id/virtio-9d2c5e7a-41b6-4f0e-8");
        assert.deepEqual(volumeDevicePaths(VOLUME_ID), [
            "/dev/disk/by-id/virtio-9d2c5e7a-41b6-4f0e-8",
            `/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_${VOLUME_ID}`,
            "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_9d2c5e7a-41b6-4f0e-8",
        ]);
        assert.throws(() => volumeDevicePath("vdb"), /not a Cinder volume id/);
        assert.match(fileAt(files, LAYOUT.storageEnv).content, new RegExp(`^DATA_DEVICES='${volumeDevicePaths(VOLUME_ID).join(" ")}'$`, "m"));
    });

    it("prepare the volume before mounting it; the mount waits on no device job, so the only wait is the script's", () => {
        const prep = unitAt(files, UNITS.prepareVolume);
        assert.deepEqual(prep.Service.Type, ["oneshot"]);
        assert.deepEqual(prep.Service.RemainAfterExit, ["yes"]);
        assert.deepEqual(prep.Service.ExecStart, [BIN.prepareVolume]);
        assert.deepEqual(prep.Service.EnvironmentFile, [LAYOUT.storageEnv]);
        assert.ok(Number(prep.Service.TimeoutStartSec[0]) > DATA_WAIT_SECONDS);
        const mount = unitAt(files, UNITS.dataMount);
        assert.deepEqual(mount.Mount, { What: [LAYOUT.dataLink], Where: [LAYOUT.dataMount], Type: ["ext4"], Options: ["defaults,noatime,prjquota"] });
        // systemd adds a device dependency (and its 90 s job timeout) only for What= under /dev
        // (src/core/mount.c): the link lives in /run, written by the script once the volume is there.
        assert.ok(!/^\/(dev|sys)\//.test(mount.Mount.What[0]), `the mount names a device path: ${mount.Mount.What[0]}`);
        assert.match(fileAt(files, LAYOUT.storageEnv).content, new RegExp(`^DATA_LINK='${LAYOUT.dataLink}'$`, "m"));
        assert.deepEqual(mount.Unit.Requires, [UNITS.prepareVolume]);
        assert.deepEqual(mount.Unit.After, [UNITS.prepareVolume]);
        assert.deepEqual(mount.Unit.DefaultDependencies, ["no"], "a late volume must not hold up local-fs.target");
        assert.equal(UNITS.dataMount, `${LAYOUT.dataMount.slice(1).replace(/\//g, "-")}.mount`, "a mount unit is named after its path");
        const dirs = unitAt(files, UNITS.userDirs);
        assert.deepEqual(dirs.Unit.Requires, [UNITS.dataMount]);
        assert.deepEqual(dirs.Service.ExecStartPre, [`${BIN.resize2fs} ${LAYOUT.dataLink}`]);
        assert.deepEqual(dirs.Service.ExecStart, [BIN.userDirs]);
        assert.deepEqual(dirs.Service.EnvironmentFile, [LAYOUT.storageEnv, `-${LAYOUT.usersEnv}`], "the users file may not exist yet at first boot");
    });

    it("start nfsdcld and nfs-server only with the volume and the users' directories (and nothing of S3)", () => {
        const needs = [UNITS.dataMount, UNITS.userDirs];
        assert.deepEqual(unitAt(files, `/etc/systemd/system/${UNITS.nfsServer}.d/incant.conf`), { Unit: { Requires: needs, After: [...needs, UNITS.nfsdcld] } });
        assert.deepEqual(unitAt(files, `/etc/systemd/system/${UNITS.nfsdcld}.d/incant.conf`), { Unit: { Requires: needs, After: needs } });
    });

    it("pass systemd-analyze verify, with the units they depend on stubbed in a temporary root", function () {
        requireTool(this, "systemd-analyze");
        const result = verifyUnits(storageUnits({ dataWaitSeconds: DATA_WAIT_SECONDS }));
        assert.equal(result.output, "", result.output);
        assert.equal(result.status, 0);
        // The validator is live: an ordering cycle and an unknown option are both reported.
        const broken = storageUnits({ dataWaitSeconds: DATA_WAIT_SECONDS });
        broken[`/etc/systemd/system/${UNITS.nfsServer}.d/incant.conf`] += `Before=${UNITS.prepareVolume}\nBogusOption=1\n`;
        const bad = verifyUnits(broken);
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

/**
 * `systemd-analyze --root` on a throwaway tree: the host's own unit directory (targets, udev...),
 * our units, a stand-in nfs-server.service with the [Unit] ordering of nfs-utils' real one
 * (nfs-kernel-server is not installed here), and an empty executable at every absolute path a
 * unit runs, so verify checks the units, not this machine's packages.
 */
function verifyUnits(units: Record<string, string>): VerifyResult {
    const nfsServer = renderIni([
        { name: "Unit", entries: {
            Description: "stand-in for nfs-utils' nfs-server.service", DefaultDependencies: "no",
            Requires: "network.target", Wants: "network-online.target", After: ["network-online.target", "local-fs.target"],
        } },
        { name: "Service", entries: { Type: "oneshot", RemainAfterExit: "yes", ExecStartPre: "-/usr/sbin/exportfs -r", ExecStart: "/usr/sbin/rpc.nfsd" } },
        { name: "Install", entries: { WantedBy: "multi-user.target" } },
    ], { separator: "=" });
    const stub = (unitName: string) => renderIni([
        { name: "Unit", entries: { Description: `stand-in for nfs-utils' ${unitName}` } },
        { name: "Service", entries: { ExecStart: "/usr/sbin/rpc.stub" } },
    ], { separator: "=" });
    const names = Object.keys(units).filter((p) => !p.includes(".d/")).map((p) => path.basename(p));
    return verifyUnitsInRoot({
        ...units, [`/usr/lib/systemd/system/${UNITS.nfsServer}`]: nfsServer, [`/usr/lib/systemd/system/${UNITS.nfsdcld}`]: stub(UNITS.nfsdcld),
    }, [...names, UNITS.nfsServer, UNITS.nfsdcld]);
}

describe("storage: cloud-init files", () => {
    it("deliver every file after the packages; scripts 0755; no S3 key, no S3 setting, no volume size", () => {
        const files = storageFiles(ARGS);
        assert.ok(files.every((f) => f.defer === true && f.owner === "root:root"));
        const modes = Object.fromEntries(files.map((f) => [f.path, f.permissions]));
        for (const exe of [BIN.prepareVolume, BIN.userDirs, BIN.updateUsers, BIN.growVolume]) assert.equal(modes[exe], "0755");
        const all = files.map((f) => `${f.path}\n${f.content}`).join("\n");
        for (const word of [/rclone/, /access_key/, /secret/, /\bs3\b/, /incant-dev-archive/]) {
            assert.doesNotMatch(all.toLowerCase(), word, `the storage VM's user-data mentions ${word}`);
        }
    });

    it("parameterise the scripts with the device names and the trees; the users travel apart", () => {
        const env = fileAt(storageFiles(ARGS), LAYOUT.storageEnv).content;
        assert.match(env, new RegExp(`^DATA_DEVICES='${volumeDevicePath(VOLUME_ID)} `, "m"));
        assert.match(env, new RegExp(`^NFS_STATE_DIR='${LAYOUT.nfsState}'$`, "m"));
        assert.doesNotMatch(env, /FACILITY_USERS/, "users are not in user-data: adding one must not replace the VM");
        assert.equal(usersEnv([{ name: "atlasuser1", uid: 20001, iamSubject: "s1" }, { name: "atlasuser2", uid: 20002, iamSubject: "s2", homeQuotaGb: 0, scratchQuotaGb: 500 }],
            { homeQuotaGb: 100, scratchQuotaGb: 50 }), "FACILITY_USERS='atlasuser1:20001:100:50 atlasuser2:20002:0:500'\n");
    });

    // tests/cloudinit.test.ts checks every VM of the stacks; this checks the scripts by name.
    it("pass cloud-init's schema and shellcheck", function () {
        for (const tool of ["cloud-init", "shellcheck"]) requireTool(this, tool);
        const vm = plannedVms({ ...DEFAULTS, namePrefix: "incant-dev" }).find((v) => v.role === "storage")!;
        const text = renderCloudConfig(extendCloudConfig(baseCloudConfig(vm, { sshPublicKey: "ssh-ed25519 AAAA test" }), storageCloudConfig(ARGS)));
        const schema = cloudInitSchema(text);
        assert.ok(schema.ok, schema.output);
        const scripts = storageFiles(ARGS).filter((f) => f.content.startsWith("#!"));
        assert.deepEqual(scripts.map((f) => f.path), [BIN.prepareVolume, BIN.userDirs, BIN.updateUsers, BIN.growVolume]);
        for (const f of scripts) {
            const r = shellcheck(f.content);
            assert.ok(r.ok, `${f.path}:\n${r.output}`);
        }
        const helper = shellcheck(fs.readFileSync(path.join(SCRIPTS, "s3-sts-credentials.sh"), "utf8"));
        assert.ok(helper.ok, helper.output);
    });

    it("install only the NFS server and the quota tools, and start the server last, with rpcbind and statd masked", () => {
        const c = storageCloudConfig(ARGS);
        assert.deepEqual(c.packages, ["nfs-kernel-server", "quota"]);
        assert.deepEqual(c.runcmd?.at(-1), ["systemctl", "restart", UNITS.nfsdcld, UNITS.nfsServer]);
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

    const env = (devices: string[], wait: number) => ({
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DATA_DEVICES: devices.join(" "), DATA_LINK: path.join(dir, "run", "data-volume"),
        DATA_LABEL: "incant-data", DATA_WAIT_SECONDS: String(wait),
    });
    const prepare = (device: string | string[], wait = 5) => spawnSync("bash", [path.join(SCRIPTS, "prepare-data-volume.sh")], {
        encoding: "utf8", timeout: 60_000, env: env(Array.isArray(device) ? device : [device], wait),
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

    const features = (file: string) => spawnSync("dumpe2fs", ["-h", file], { encoding: "utf8" }).stdout;

    it("makes a new volume ready for the per-user project quotas", () => {
        const image = path.join(dir, "quota-new.img");
        fs.writeFileSync(image, Buffer.alloc(32 * 1024 * 1024));
        const r = prepare(image);
        assert.equal(r.status, 0, r.stderr);
        assert.match(features(image), /^Filesystem features:.*\bquota\b.*\bproject\b/m);
        assert.match(features(image), /^Project quota inode:\s+\d+/m);
    });

    it("adds project quotas to a volume made before them, keeping its file system and files", () => {
        const image = path.join(dir, "quota-old.img");
        fs.writeFileSync(image, Buffer.alloc(32 * 1024 * 1024));
        assert.equal(spawnSync("mkfs.ext4", ["-q", "-m", "1", "-L", "incant-data", image]).status, 0);
        const content = path.join(dir, "thesis.txt");
        fs.writeFileSync(content, "a user's file from before\n");
        assert.equal(spawnSync("debugfs", ["-w", "-R", `write ${content} thesis.txt`, image]).status, 0);
        const uuid = probe(image, "UUID");
        assert.doesNotMatch(features(image), /^Project quota inode/m);
        const r = prepare(image);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /adding it .*kept as it is/s);
        assert.match(features(image), /^Project quota inode:\s+\d+/m);
        assert.equal(probe(image, "UUID"), uuid, "the same file system");
        assert.equal(spawnSync("debugfs", ["-R", "cat thesis.txt", image], { encoding: "utf8" }).stdout, "a user's file from before\n");
        const again = prepare(image);
        assert.doesNotMatch(again.stdout, /adding it/, "added once");
    });

    it("serves a volume that cannot take project quotas (128-byte inodes) without them, saying so", () => {
        const image = path.join(dir, "quota-small-inodes.img");
        fs.writeFileSync(image, Buffer.alloc(32 * 1024 * 1024));
        assert.equal(spawnSync("mkfs.ext4", ["-q", "-I", "128", "-L", "incant-data", image]).status, 0);
        const r = prepare(image);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /could not add project quotas .*without per-user limits/);
        assert.equal(fs.readlinkSync(path.join(dir, "run", "data-volume")), image, "linked for the mount all the same");
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

    it("waits for a late volume under its second (virtio-scsi) name, then links it for the mount", async () => {
        const image = path.join(dir, "scsi-late.img");
        const virtio = path.join(dir, "virtio-never");
        // The volume appears 3 s after the script started (the cloud attaching it late).
        const script = spawn("bash", [path.join(SCRIPTS, "prepare-data-volume.sh")], { env: env([virtio, image], 60) });
        let out = "";
        script.stdout.on("data", (d: Buffer) => { out += d; });
        script.stderr.on("data", (d: Buffer) => { out += d; });
        await new Promise((r) => setTimeout(r, 3000));
        // A device node appears whole; a file written in place is seen empty for a moment (mkfs
        // then finds size zero), so the image is written beside it and renamed into place.
        fs.writeFileSync(`${image}.part`, Buffer.alloc(32 * 1024 * 1024));
        fs.renameSync(`${image}.part`, image);
        const code = await new Promise<number | null>((r) => script.on("exit", r));
        assert.equal(code, 0, out);
        assert.match(out, new RegExp(`data volume found at ${image} after [1-9]\\d*s`));
        assert.equal(fs.readlinkSync(path.join(dir, "run", "data-volume")), image, "the mount's link leads to the volume found");
        assert.equal(probe(image, "TYPE"), "ext4");
    });
});

describe("storage: the users' directories script", function () {
    it("creates each user's home (0700) and scratch (0755) owned by the user, idempotently", function () {
        requireCondition(this, process.getuid?.() === 0, "this test needs root (chown)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-dirs-"));
        try {
            const env = {
                PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME_ROOT: path.join(dir, "home"), SCRATCH_ROOT: path.join(dir, "scratch"),
                NFS_STATE_DIR: path.join(dir, "nfs-state"), FACILITY_USERS: "atlasuser1:20001:100:100 atlasuser2:20002:100:100",
                DATA_MOUNT: dir, SCRATCH_PROJECT_OFFSET: String(SCRATCH_PROJECT_OFFSET),
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
            assert.equal(fs.statSync(path.join(dir, "nfs-state")).mode & 0o777, 0o700);
            const bad = spawnSync("bash", [path.join(SCRIPTS, "user-dirs.sh")], { encoding: "utf8", env: { ...env, FACILITY_USERS: "../etc:0:1:1" }, timeout: 30_000 });
            assert.notEqual(bad.status, 0);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    /**
     * ext4 project quotas need a mounted ext4 with prjquota, which this machine's kernel does not
     * give a test; chattr, lsattr, findmnt and setquota are stand-ins that keep the project ids in
     * a state file and log every call (the volume side runs for real: "the data volume script").
     */
    function quotaStubs(dir: string, mountOptions: string) {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const log = path.join(dir, "calls.log");
        const state = path.join(dir, "projects");
        fs.writeFileSync(state, "");
        const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${log}\n${body}\n`, { mode: 0o755 });
        stub("findmnt", `echo "${mountOptions}"`);
        // lsattr -d -p DIR: "<project> <flags> DIR", the project from the state file (0 if none).
        stub("lsattr", `p=$(awk -v d="$3" '$2 == d { p = $1 } END { print p + 0 }' ${state}); echo "$p -------------------- $3"`);
        stub("chattr", `if [ "$1" = -p ]; then id=$2; shift 2; for f in "$@"; do echo "$id $f" >> ${state}; done; fi`);
        stub("setquota", "");
        return { bin, calls: () => fs.readFileSync(log, "utf8").trim().split("\n") };
    }

    it("puts each home and scratch tree in its own project with the user's limits, once, and keeps serving without prjquota", function () {
        requireCondition(this, process.getuid?.() === 0, "this test needs root (chown)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-quota-"));
        try {
            const stubs = quotaStubs(dir, "rw,noatime,prjquota");
            const env = {
                PATH: `${stubs.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME_ROOT: path.join(dir, "home"), SCRATCH_ROOT: path.join(dir, "scratch"),
                NFS_STATE_DIR: path.join(dir, "nfs-state"), DATA_MOUNT: dir, SCRATCH_PROJECT_OFFSET: String(SCRATCH_PROJECT_OFFSET),
                FACILITY_USERS: usersEnv([{ name: "atlasuser1", uid: 20001, iamSubject: "s1" }, { name: "atlasuser2", uid: 20002, iamSubject: "s2", scratchQuotaGb: 0 }],
                    { homeQuotaGb: 100, scratchQuotaGb: 7 }).replace(/^FACILITY_USERS='(.*)'\n$/, "$1"),
            };
            fs.mkdirSync(path.join(dir, "home", "atlasuser1", "old"), { recursive: true });
            fs.writeFileSync(path.join(dir, "home", "atlasuser1", "old", "file"), "data written before the quotas");
            const first = spawnSync("bash", [path.join(SCRIPTS, "user-dirs.sh")], { encoding: "utf8", env, timeout: 30_000 });
            assert.equal(first.status, 0, first.stderr);
            const calls = stubs.calls();
            const gib = (n: number) => String(n * 1024 * 1024);
            for (const [id, gb] of [[20001, 100], [20001 + SCRATCH_PROJECT_OFFSET, 7], [20002, 100], [20002 + SCRATCH_PROJECT_OFFSET, 0]]) {
                assert.ok(calls.includes(`setquota -P ${id} ${gib(gb)} ${gib(gb)} 0 0 ${dir}`), `no limit for project ${id}:\n${calls.join("\n")}`);
            }
            // Existing files join the home's project; directories inherit it for what comes later.
            const projects = fs.readFileSync(path.join(dir, "projects"), "utf8");
            assert.match(projects, new RegExp(`^20001 ${path.join(dir, "home", "atlasuser1", "old", "file")}$`, "m"));
            assert.match(projects, new RegExp(`^${20001 + SCRATCH_PROJECT_OFFSET} ${path.join(dir, "scratch", "atlasuser1")}$`, "m"));
            assert.ok(calls.some((c) => c.startsWith("chattr +P ") && c.includes(path.join(dir, "home", "atlasuser1", "old"))), "inherit flag on directories");

            // A second run (every users update) sets the limits again but walks no tree again.
            fs.writeFileSync(path.join(dir, "calls.log"), "");
            const second = spawnSync("bash", [path.join(SCRIPTS, "user-dirs.sh")], { encoding: "utf8", env, timeout: 30_000 });
            assert.equal(second.status, 0, second.stderr);
            assert.ok(!stubs.calls().some((c) => c.startsWith("chattr")), stubs.calls().join("\n"));
            assert.equal(stubs.calls().filter((c) => c.startsWith("setquota")).length, 4);

            // Mounted without prjquota: directories still made, no limit, and the log says so.
            const plain = quotaStubs(path.join(dir, "plain"), "rw,noatime");
            const r = spawnSync("bash", [path.join(SCRIPTS, "user-dirs.sh")], { encoding: "utf8", timeout: 30_000,
                env: { ...env, PATH: `${plain.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME_ROOT: path.join(dir, "plain", "home") } });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, /project quotas are not enabled .*no limit set/);
            assert.ok(fs.existsSync(path.join(dir, "plain", "home", "atlasuser2")));
            assert.ok(!plain.calls().some((c) => /^(setquota|chattr)/.test(c)));
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
            HOME_ROOT: path.join(dir, "home"), SCRATCH_ROOT: path.join(dir, "scratch"), NFS_STATE_DIR: path.join(dir, "nfs-state"),
            DATA_MOUNT: dir, SCRATCH_PROJECT_OFFSET,
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
            const r = runUpdate(dir, usersEnv(USERS, DEFAULTS.nodes.storage));
            assert.equal(r.status, 0, r.stderr);
            assert.equal(fs.readFileSync(path.join(dir, "storage-users.env"), "utf8"), usersEnv(USERS, DEFAULTS.nodes.storage));
            const home = fs.statSync(path.join(dir, "home", "atlasuser6"));
            assert.deepEqual([home.uid, home.mode & 0o7777], [20006, 0o700]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses when cloud-init failed, when the data volume is not mounted, or on a malformed list", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-users-"));
        try {
            const failed = runUpdate(dir, usersEnv(USERS, DEFAULTS.nodes.storage), 1);
            assert.notEqual(failed.status, 0);
            assert.match(failed.stderr, /FAILED: cloud-init did not finish within 5 s \(status 1\)/);
            const unmounted = runUpdate(dir, usersEnv(USERS, DEFAULTS.nodes.storage), 0, false);
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

describe("storage: the online growth script, run with stand-in mountpoint, blockdev and resize2fs", function () {
    /** Runs grow-data-volume.sh; the disk reports `sizes` bytes one call after another. */
    function grow(dir: string, expectedGb: number, sizes: number[], mounted = true) {
        const stubs = path.join(dir, "bin");
        fs.mkdirSync(stubs, { recursive: true });
        const log = path.join(dir, "calls.log");
        fs.writeFileSync(path.join(stubs, "mountpoint"), `#!/bin/sh\nexit ${mounted ? 0 : 1}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "sizes"), sizes.join("\n") + "\n");
        // Each call prints the next size (the last one sticks).
        fs.writeFileSync(path.join(stubs, "blockdev"), [
            "#!/bin/bash", `f=${dir}/sizes`, "n=$(head -n1 \"$f\")", "[ \"$(wc -l < \"$f\")\" -gt 1 ] && sed -i 1d \"$f\"", "echo \"$n\"",
        ].join("\n") + "\n", { mode: 0o755 });
        fs.writeFileSync(path.join(stubs, "resize2fs"), `#!/bin/sh\necho "resize2fs $*" >> ${log}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(stubs, "df"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        fs.writeFileSync(path.join(stubs, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        const node = path.join(dir, "vdb");
        if (!fs.existsSync(node)) spawnSync("mknod", [node, "b", "7", "200"]);
        fs.rmSync(path.join(dir, "link"), { force: true });
        fs.symlinkSync(node, path.join(dir, "link"));
        fs.writeFileSync(path.join(dir, "storage.env"), renderEnvFile({ DATA_LINK: path.join(dir, "link"), DATA_MOUNT: path.join(dir, "mnt") }));
        const r = spawnSync("bash", [path.join(SCRIPTS, "grow-data-volume.sh"), String(expectedGb)], {
            encoding: "utf8", timeout: 30_000,
            env: { PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin`, STORAGE_ENV: path.join(dir, "storage.env"), WAIT_SECONDS: "20" },
        });
        return { ...r, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
    }
    const GiB = 1024 ** 3;

    it("waits for the extended disk, then grows ext4 online on the volume's device", function () {
        requireCondition(this, process.getuid?.() === 0, "this test needs root (mknod)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-grow-"));
        try {
            const r = grow(dir, 200, [100 * GiB, 100 * GiB, 200 * GiB]);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.calls, `resize2fs ${path.join(dir, "vdb")}\n`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses when the volume is not mounted, and gives up when the disk never grows", function () {
        requireCondition(this, process.getuid?.() === 0, "this test needs root (mknod)");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-grow-"));
        try {
            const unmounted = grow(dir, 200, [200 * GiB], false);
            assert.match(unmounted.stderr, /is not mounted: nothing to grow/);
            const stuck = grow(dir, 200, [100 * GiB]);
            assert.notEqual(stuck.status, 0);
            assert.match(stuck.stderr, /not 200 GiB: is the volume extended\?/);
            assert.equal(stuck.calls, "", "no resize2fs without the new size");
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

    it("keeps the storage VM (same user-data) when the pool is scaled, a user is added, the volume grows or S3 changes", async () => {
        const scaled = await runProgram("dev", { nodes: { workers: { count: 3 } } });
        assert.equal(storageVm(scaled).revealedInputs.userData, storageVm(dev).revealedInputs.userData);
        const more = await runProgram("dev", { users: [...USERS_OF_DEV, { name: "atlasuser6", uid: 20006, iamSubject: "s6" }] });
        assert.equal(storageVm(more).revealedInputs.userData, storageVm(dev).revealedInputs.userData);
        assert.match(String(more.get(COMMAND, "storage-users").revealedInputs.stdin), /atlasuser6:20006:100:100'$/m);
        // Issue 15: the size reached the user-data (as the rclone cache size) and replaced the protected VM.
        const grown = await runProgram("dev", { nodes: { storage: { dataVolumeGb: DEFAULTS.nodes.storage.dataVolumeGb + 20 } } });
        assert.equal(storageVm(grown).revealedInputs.userData, storageVm(dev).revealedInputs.userData, "growing the volume replaces the VM");
        assert.equal(grown.get(VOLUME, "storage-data").inputs.size, DEFAULTS.nodes.storage.dataVolumeGb + 20);
        const sts = await runProgram("dev", { s3: merged(YAML.parse(dev.stack.config["incant:s3"]), { credentials: "sts", iamClientId: "incant-storage", exportReadWrite: true }) });
        assert.equal(storageVm(sts).revealedInputs.userData, storageVm(dev).revealedInputs.userData, "S3 settings reach the storage VM");
    });

    it("grows the file system over SSH when dataVolumeGb grows, after the volume is extended", async () => {
        const size = DEFAULTS.nodes.storage.dataVolumeGb + 20;
        const grown = await runProgram("dev", { nodes: { storage: { dataVolumeGb: size } } });
        const g = grown.get(COMMAND, "storage-grow");
        assert.equal(g.inputs.create, `sudo -n ${BIN.growVolume} ${size}`);
        assert.deepEqual(g.inputs.triggers, [size], "a new size runs it again");
        assert.ok(g.dependencies.includes(grown.get(VOLUME, "storage-data").urn), "after the volume is extended");
        assert.ok(g.secretPaths.includes("connection"));
        assert.equal(dev.get(COMMAND, "storage-grow").inputs.create, `sudo -n ${BIN.growVolume} ${DEFAULTS.nodes.storage.dataVolumeGb}`);
    });

    it("installs the users list over SSH through the bastion, with the key as a secret", () => {
        const update = dev.get(COMMAND, "storage-users");
        assert.equal(update.inputs.create, `sudo -n ${BIN.updateUsers} ${DEFAULTS.readinessTimeoutSeconds}`);
        assert.equal(update.revealedInputs.stdin, usersEnv(USERS_OF_DEV, DEFAULTS.nodes.storage));
        assert.ok(update.secretPaths.includes("connection"), "the private key travels as a secret");
        const connection = update.revealedInputs.connection as { host: string; user: string; proxy: { host: string } };
        assert.equal(connection.host, "192.168.100.20");
        assert.equal(connection.proxy.host, dev.outputs.kubernetesApiHost, "the bastion: the API control plane's floating IP");
        const vm = storageVm(dev);
        assert.ok(update.dependencies.includes(vm.urn), "after the server");
        assert.ok(update.dependencies.includes(dev.get("openstack:compute/volumeAttach:VolumeAttach", "storage-data").urn), "after the volume is attached");
        assert.equal(storageControllerFiles(dev)["storage/etc/incant/storage-users.env"], usersEnv(USERS_OF_DEV, DEFAULTS.nodes.storage), "the render shows it");
    });

    it("creates the data volume from config, protected and retained on delete", () => {
        const volume = dev.get(VOLUME, "storage-data");
        assert.equal(volume.inputs.size, DEFAULTS.nodes.storage.dataVolumeGb);
        assert.equal(volume.inputs.enableOnlineResize, true);
        assert.equal(volume.protect, true);
        assert.equal(volume.retainOnDelete, true);
        assert.equal(volume.parent, dev.resources.find((r) => r.type === "incant:storage:StorageController")!.urn);
    });

    it("attaches it to the storage VM, and the VM looks for it by the volume's own id", () => {
        const volume = dev.get(VOLUME, "storage-data");
        const attach = dev.get(ATTACH, "storage-data");
        const vm = storageVm(dev);
        assert.ok(attach.dependencies.includes(volume.urn) && attach.dependencies.includes(vm.urn));
        assert.equal(attach.inputs.volumeId, dev.outputs.storageDataVolumeId);
        assert.match(String(attach.inputs.instanceId), /^offline-instance-/);
        const files = cloudConfigOf(dev, String(vm.inputs.name)).write_files!;
        const env = files.find((f) => f.path === LAYOUT.storageEnv)!.content;
        assert.match(env, new RegExp(`^DATA_DEVICES='${volumeDevicePaths(String(dev.outputs.storageDataVolumeId)).join(" ")}'$`, "m"));
    });

    it("replaces the server delete-first (same fixed address, single-attach volume)", () => {
        assert.equal(storageVm(dev).deleteBeforeReplace, true);
        assert.equal(storageVm(dev).protect, true, "a replacement interrupts every NFS client: deliberate only");
        // Protected besides: the control planes (etcd members, policy control-planes-protected); no worker, no submit host.
        assert.ok(dev.ofType(INSTANCE).filter((i) => i !== storageVm(dev) && (i.inputs.metadata as { role?: string })?.role !== "control-plane")
            .every((i) => !i.protect), "only the storage VM and the control planes");
    });

    it("exposes the NFS share and the stack outputs", () => {
        assert.equal(dev.outputs.nfsServer, "192.168.100.20");
        assert.deepEqual(dev.outputs.nfsExports, { home: LAYOUT.home, scratch: LAYOUT.scratch, archive: LAYOUT.archive, archiveReadOnly: true });
        assert.match(String(dev.outputs.storageDataVolumeId), /^[0-9a-f-]{36}$/);
    });

    it("puts no S3 credential in the storage VM's user-data (static keys or STS)", async () => {
        const text = String(storageVm(dev).revealedInputs.userData);
        for (const key of ["incant:s3AccessKeyId", "incant:s3SecretAccessKey"]) assert.ok(!text.includes(offlineSecret(key)), key);
        const sts = await runProgram("dev", { s3: merged(YAML.parse(dev.stack.config["incant:s3"]), { credentials: "sts", iamClientId: "incant-storage" }) });
        assert.ok(!String(storageVm(sts).revealedInputs.userData).includes(offlineSecret("incant:s3IamClientSecret")));
    });

    it("renders storage/ with every file of the VM", () => {
        assert.ok(EXTRACTORS.includes(storageControllerFiles));
        const files = Object.keys(storageControllerFiles(dev));
        for (const p of ["storage/etc/exports.d/incant.exports", "storage/etc/nfs.conf.d/incant.conf",
            `storage/etc/systemd/system/${UNITS.dataMount}`, `storage/etc/systemd/system/${UNITS.nfsServer}.d/incant.conf`,
            `storage/etc/systemd/system/${UNITS.nfsdcld}.d/incant.conf`, `storage${BIN.prepareVolume}`, `storage${BIN.growVolume}`]) {
            assert.ok(files.includes(p), `${p} missing from ${files.join(", ")}`);
        }
    });

    it("the NFS clients in the pool have mount.nfs: every Kubernetes node installs nfs-common", () => {
        const nodes = dev.ofType(INSTANCE).filter((i) => ["worker", "control-plane"].includes((i.inputs.metadata as Record<string, string>).role));
        assert.ok(nodes.length >= 2);
        for (const vm of nodes) {
            const text = (cloudConfigOf(dev, String(vm.inputs.name)).write_files ?? []).map((f) => f.content).join("\n");
            assert.match(text, /^retry apt_get install nfs-common$/m, `${vm.inputs.name} installs no NFS client`);
        }
    });

    it("follows the configuration: the workers' count", async () => {
        const run = await runProgram("dev", { nodes: { workers: { count: 3 } } });
        const files = cloudConfigOf(run, String(storageVm(run).inputs.name)).write_files!;
        const table = exportsTable(files.find((f) => f.path === "/etc/exports.d/incant.exports")!.content);
        assert.deepEqual([...table.keys()], [LAYOUT.home, LAYOUT.scratch]);
        assert.deepEqual([...table.get(LAYOUT.home)!.keys()], ["192.168.100.32/27", "192.168.100.64/26", "192.168.100.128/25", "192.168.100.21"]);
    });
});
