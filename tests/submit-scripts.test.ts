/**
 * The submit host's shell scripts, units and AppArmor profile, run or checked by real tools:
 * the readiness gate against stubbed cloud-init/systemctl/docker (every failure bounded and
 * named), the smoke-test job on a fake CVMFS tree, shellcheck, systemd-analyze verify and
 * apparmor_parser.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readScript } from "../components/compute/cloudinit";
import { IniSection, mountUnitName, parseIni, renderIni } from "../components/compute/ini";
import { ArchiveSettings, s3RootUnit, submitAutomountUnits, submitHostCloudConfig, submitMountUnits } from "../components/submit/hostconfig";
import { ARCHIVE_CLIENT, archiveUnit } from "../components/storage/archive";
import { NFS_CLIENT_OPTIONS } from "../components/storage/nfs";
import { CVMFS_ENTRY_IN_CONTAINER, CVMFS_IMAGE_ENTRYPOINT, cvmfsService, HOST, submitService } from "../components/submit/services";
import { requireCondition, requireTool, run, shellcheck, tempFile } from "./harness/tools";
import { ROOT } from "./harness/program";

const SUBMIT = path.join(ROOT, "components", "submit");
const SMOKE = path.join(ROOT, "examples", "smoke-test");
const SHARES = { server: "192.168.100.20", home: "/srv/incant/home", scratch: "/srv/incant/scratch" };
const S3: ArchiveSettings = { bucket: "incant-dev-archive", exportReadWrite: false, credentials: "static" };
const unitText = (sections: IniSection[]) => renderIni(sections, { separator: "=" });
const archiveText = () => submitHostCloudConfig(SHARES, S3).write_files!.find((f) => f.path === `/etc/systemd/system/${ARCHIVE_CLIENT.unit}`)!.content;

function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "incant-submit-"));
}

function stub(dir: string, name: string, body: string): void {
    fs.writeFileSync(path.join(dir, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

/** Runs ready.sh with cloud-init, sudo, systemctl and docker replaced by stubs driven by `env`. */
function gate(env: Record<string, string>): { status: number | null; stdout: string; stderr: string; seconds: number } {
    const dir = tempDir();
    stub(dir, "cloud-init", `[ "$1 $2" = "status --wait" ] || { echo "status: long"; exit 0; }\nsleep "\${STUB_CLOUD_INIT_SLEEP:-0}"; exit "\${STUB_CLOUD_INIT_RC:-0}"`);
    stub(dir, "sudo", `[ "$1" = -n ] && shift; exec "$@"`);
    // `systemctl start` fails until it has been called STUB_MOUNT_AFTER times (never if unset).
    stub(dir, "systemctl", `[ "$1" = start ] || exit 0\nn=$(( $(cat "${dir}/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "${dir}/count"\n[ -n "\${STUB_MOUNT_AFTER:-}" ] && [ "$n" -ge "$STUB_MOUNT_AFTER" ]`);
    stub(dir, "docker", `exit "\${STUB_DOCKER_RC:-0}"`);
    const key = tempFile("ssh_host_ed25519_key.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFIXTURE root@incant-dev-submit\n");
    const started = Date.now();
    const r = spawnSync("bash", [path.join(SUBMIT, "ready.sh")], {
        encoding: "utf8", timeout: 30_000,
        env: { PATH: `${dir}:${process.env.PATH}`, HOST_KEY_FILE: key, RETRY_SECONDS: "0.2", TIMEOUT_SECONDS: "5", MOUNT_UNITS: "cvmfs.mount srv-incant-home.mount", STUB_MOUNT_AFTER: "1", ...env },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

describe("submit host: the readiness gate (ready.sh)", () => {
    it("passes shellcheck", function () {
        requireTool(this, "shellcheck");
        const result = shellcheck(readScript(SUBMIT, "ready.sh"));
        assert.ok(result.ok, result.output);
    });

    it("prints only the host key once cloud-init is done, the shares are mounted and Docker answers", () => {
        const r = gate({});
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFIXTURE\n");
    });

    it("retries a share until the storage controller exports it", () => {
        const r = gate({ STUB_MOUNT_AFTER: "4" });
        assert.equal(r.status, 0, r.stderr);
    });

    it("accepts cloud-init's recoverable errors with a warning", () => {
        const r = gate({ STUB_CLOUD_INIT_RC: "2" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /recoverable errors/);
    });

    const failures: [string, Record<string, string>, RegExp][] = [
        ["cloud-init failed", { STUB_CLOUD_INIT_RC: "1" }, /submit host not ready: cloud-init failed \(exit 1/],
        ["cloud-init still running at the timeout", { TIMEOUT_SECONDS: "1", STUB_CLOUD_INIT_SLEEP: "5" }, /cloud-init still running after 1s/],
        ["a share never mounted", { TIMEOUT_SECONDS: "1", STUB_MOUNT_AFTER: "" }, /cvmfs\.mount is not mounted after 1s: is the storage controller up/],
        ["Docker not answering", { STUB_DOCKER_RC: "1" }, /the Docker daemon does not answer/],
    ];
    for (const [what, env, message] of failures) {
        it(`fails within its bound with a clear message when ${what}`, () => {
            const r = gate(env);
            assert.equal(r.status, 1);
            assert.match(r.stderr, message);
            assert.equal(r.stdout, "", "no host key printed");
            assert.ok(r.seconds < 4, `took ${r.seconds}s`);
        });
    }
});

describe("submit host: systemd units and AppArmor profile", () => {
    it("mount, automount and archive units pass systemd-analyze verify, and a misnamed one does not", function () {
        requireTool(this, "systemd-analyze");
        const dir = tempDir();
        const archive = { name: ARCHIVE_CLIENT.unit, text: archiveText() };
        for (const u of [...submitMountUnits(SHARES), s3RootUnit(), ...submitAutomountUnits(SHARES), archive]) {
            const file = path.join(dir, u.name);
            fs.writeFileSync(file, u.text);
            const r = run("systemd-analyze", ["verify", "--man=no", file]);
            // verify checks that ExecStart binaries exist: rclone may be missing outside CI.
            const output = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l && !/Command \/usr\/bin\/(rclone|mkdir|fusermount3) is not executable/.test(l)).join("\n");
            assert.equal(output, "", `${u.name}: ${output}`);
        }
        const wrong = path.join(dir, "srv-elsewhere.mount");
        fs.writeFileSync(wrong, submitMountUnits(SHARES)[1].text);
        assert.notEqual(run("systemd-analyze", ["verify", "--man=no", wrong]).status, 0);
        const wrongAuto = path.join(dir, "srv-elsewhere.automount");
        fs.writeFileSync(wrongAuto, submitAutomountUnits(SHARES)[0].text);
        assert.notEqual(run("systemd-analyze", ["verify", "--man=no", wrongAuto]).status, 0);
    });

    it("Docker waits for local bind mounts only (/cvmfs, the archive's parent): never for NFS or S3", () => {
        const dropIn = (nfs?: typeof SHARES, s3?: ArchiveSettings) => submitHostCloudConfig(nfs, s3).write_files!
            .find((f) => f.path === "/etc/systemd/system/docker.service.d/10-incant-mounts.conf")!.content;
        assert.equal(dropIn(SHARES, S3), "[Unit]\nRequiresMountsFor=/cvmfs /srv/incant/s3\n");
        assert.equal(dropIn(), "[Unit]\nRequiresMountsFor=/cvmfs\n");
        const s3Root = submitHostCloudConfig(SHARES, S3).write_files!.find((f) => f.path === "/etc/systemd/system/srv-incant-s3.mount")!;
        assert.deepEqual(parseIni(s3Root.content).Mount, { What: [ARCHIVE_CLIENT.root], Where: [ARCHIVE_CLIENT.root], Type: ["none"], Options: ["bind,shared"] });
        assert.ok(ARCHIVE_CLIENT.mountPoint.startsWith(`${ARCHIVE_CLIENT.root}/`), "rclone mounts under the shared parent");
        assert.deepEqual(submitMountUnits(SHARES).map((u) => u.name), ["cvmfs.mount", "srv-incant-home.mount", "srv-incant-scratch.mount"]);
    });

    it("NFS shares come up in any boot order: automount points at boot, mounts on first use, one option list", () => {
        const config = submitHostCloudConfig(SHARES, S3);
        const files = new Map(config.write_files!.filter((f) => f.path.startsWith("/etc/systemd/")).map((f) => [f.path, parseIni(f.content)]));
        for (const where of ["/srv/incant/home", "/srv/incant/scratch"]) {
            const name = mountUnitName(where);
            const mount = files.get(`/etc/systemd/system/${name}`)!;
            assert.equal(mount.Install, undefined, `${name} is not started at boot (its automount point is)`);
            assert.deepEqual(mount.Mount.Options, [[...NFS_CLIENT_OPTIONS, "_netdev"].join(",")]);
            const auto = files.get(`/etc/systemd/system/${name.replace(/\.mount$/, ".automount")}`)!;
            assert.deepEqual(auto.Automount, { Where: [where], TimeoutIdleSec: ["0"] });
            assert.deepEqual(auto.Install.WantedBy, ["remote-fs.target"]);
        }
        const enabled = config.runcmd!.map((c) => c.join(" "));
        assert.ok(enabled.includes("systemctl enable --now srv-incant-home.automount srv-incant-scratch.automount"), enabled.join("\n"));
        assert.ok(!enabled.some((c) => /enable.*srv-incant-(home|scratch)\.mount/.test(c)), "no boot job waits for the NFS server");
    });

    it("the archive unit: rclone for ever (no start limit), after its configuration arrives, depending on no NFS mount", () => {
        const u = parseIni(archiveText());
        assert.deepEqual(u.Service.Type, ["notify"]);
        assert.deepEqual(u.Service.Restart, ["always"]);
        assert.deepEqual(u.Unit.StartLimitIntervalSec, ["0"]);
        assert.deepEqual(u.Unit.ConditionPathExists, [ARCHIVE_CLIENT.rcloneConfig]);
        assert.equal(u.Unit.Requires, undefined);
        assert.deepEqual(u.Unit.RequiresMountsFor, [ARCHIVE_CLIENT.root], "its shared parent only: no NFS share");
        assert.match(u.Service.ExecStart[0], / --read-only /, "read-only unless s3.exportReadWrite");
        assert.doesNotMatch(parseIni(unitText(archiveUnit({ ...S3, exportReadWrite: true }))).Service.ExecStart[0], /--read-only/);
        assert.deepEqual(parseIni(unitText(archiveUnit({ ...S3, credentials: "sts" }))).Service.Environment, [`AWS_CONFIG_FILE=${ARCHIVE_CLIENT.awsConfig}`]);
        const config = submitHostCloudConfig(SHARES, S3);
        assert.ok(config.runcmd!.some((c) => c.join(" ") === `systemctl enable ${ARCHIVE_CLIENT.unit}`));
        assert.ok(!JSON.stringify(config).includes("secret_access_key"), "no credential in the user-data");
    });

    it("names units like systemd-escape and serialises keys in order", () => {
        assert.equal(mountUnitName("/srv/incant/home"), "srv-incant-home.mount");
        assert.equal(mountUnitName("/cvmfs"), "cvmfs.mount");
        assert.throws(() => mountUnitName("/srv/my-dir"), /escaping/);
        const unit = (sections: IniSection[]) => renderIni(sections, { separator: "=" });
        assert.equal(unit([{ name: "Unit", entries: { After: ["a", "b"] } }, { name: "Mount", entries: { What: "x" } }]), "[Unit]\nAfter=a\nAfter=b\n\n[Mount]\nWhat=x\n");
        assert.throws(() => unit([{ name: "Unit", entries: { Description: "a\nb" } }]), /newline/);
    });

    it("the CVMFS AppArmor profile parses and allows mounts under /cvmfs only", function () {
        requireTool(this, "apparmor_parser");
        const profile = readScript(SUBMIT, "incant-cvmfs.apparmor");
        const parse = (text: string) => run("apparmor_parser", ["--skip-kernel-load", "--skip-cache", "-Q", tempFile("incant-cvmfs", text)]);
        const ok = parse(profile);
        assert.equal(ok.status, 0, ok.stderr);
        assert.notEqual(parse(profile.replace("mount fstype=fuse -> /cvmfs/*/,", "mount fstype=fuse -> ,")).status, 0, "the parser rejects a broken rule");
        const mountRules = profile.split("\n").map((l) => l.trim()).filter((l) => /^(deny )?u?mount\b/.test(l));
        assert.ok(mountRules.length >= 2);
        assert.ok(mountRules.every((l) => / \/cvmfs\/\*\/,$/.test(l)), mountRules.join("\n"));
        assert.match(profile, /^profile incant-cvmfs /m);
    });
});

describe("submit host: a share mounted after the submit container started shows up inside it (mount namespaces)", () => {
    /**
     * The automount point stands in as a shared mount at the share's path (systemd's autofs mount
     * is one: the root file system is shared), the container as a mount namespace binding it the
     * way Docker binds a volume (rbind, then the rendered propagation). The NFS mount then lands
     * on the host path, as systemd mounts it on first use: it must appear in the container.
     */
    function lateMountSeen(propagation: string): boolean {
        const dir = tempDir();
        const host = path.join(dir, "home");
        const ctr = path.join(dir, "container-home");
        fs.mkdirSync(host);
        fs.mkdirSync(ctr);
        const script = [
            "set -e",
            `mount --bind ${host} ${host}`, `mount --make-shared ${host}`,
            // The container: a private copy of the host's tree, slave to it (as Docker's rootfs is).
            `unshare --mount --propagation unchanged sh -c 'mount --make-rslave / && mount --rbind ${host} ${ctr} && mount --make-${propagation} ${ctr} && echo > ${dir}/ready && sleep 3 && cat ${ctr}/proof > ${dir}/seen 2>&1 || true' &`,
            `while [ ! -e ${dir}/ready ]; do sleep 0.1; done`,
            // The share arrives after the container started.
            `mount -t tmpfs incant-share ${host}`, `echo mounted-later > ${host}/proof`,
            "wait", `umount ${host}`, `umount ${host}`,
        ].join("\n");
        try {
            const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", script], { encoding: "utf8", timeout: 30_000 });
            assert.equal(r.status, 0, r.stderr);
            return fs.readFileSync(path.join(dir, "seen"), "utf8") === "mounted-later\n";
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    it("with the propagation the submit container's home and scratch binds have (and not without it)", function () {
        requireTool(this, "unshare");
        requireCondition(this, process.getuid?.() === 0, "this test needs root (mount namespaces)");
        const spec = submitService({
            stack: "t", hostname: "h", cvmfs: { repositories: ["atlas.cern.ch"], httpProxy: "DIRECT" }, collectorHost: "c:9618",
            poolHostAliases: [], scheddName: "s", iamIssuer: "https://iam.example/", tokenAudience: "a", withToken: false,
        });
        for (const target of ["/home", "/scratch"]) {
            const m = spec.mounts.find((x) => x.target === target)!;
            assert.ok(m.propagation, `${target} has Docker's default propagation (rprivate)`);
            assert.ok(lateMountSeen(m.propagation), `${target}: a share mounted later does not reach the container with ${m.propagation}`);
        }
        assert.equal(lateMountSeen("rprivate"), false, "Docker's default: the container keeps the empty directory (the test can tell)");
    });
});

describe("submit host: CVMFS crash recovery (cvmfs-entry.sh against stand-in umount and ls)", () => {
    const CVMFS = { repositories: ["atlas.cern.ch", "atlas-condb.cern.ch"], httpProxy: "DIRECT" };

    /**
     * Runs the wrapper with a mountinfo listing `mounts`, where the `dead` ones fail `ls` like a
     * crashed FUSE mount (ENOTCONN), and an `umount` that answers EBUSY to a plain unmount (a
     * user's shell is inside) and succeeds lazily unless `lazyFails`.
     */
    function entry(mounts: string[], dead: string[], lazyFails = false) {
        const dir = tempDir();
        const mountinfo = path.join(dir, "mountinfo");
        fs.writeFileSync(mountinfo, ["22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
            ...mounts.map((m, i) => `${100 + i} 22 0:${50 + i} / ${m} rw,nosuid,nodev,relatime shared:${10 + i} - fuse cvmfs2 rw`)].join("\n") + "\n");
        fs.writeFileSync(path.join(dir, "dead"), dead.join("\n") + "\n");
        const log = path.join(dir, "umount.log");
        stub(dir, "ls", `grep -qxF -- "$1" "${dir}/dead" && { echo "ls: cannot access '$1': Transport endpoint is not connected" >&2; exit 2; }\nexit 0`);
        stub(dir, "umount", [
            `echo "umount $*" >> "${log}"`,
            `if [ "$1" != -l ]; then echo "umount: $1: target is busy." >&2; exit 32; fi`,
            lazyFails ? `echo "umount: $2: Operation not permitted" >&2; exit 32` : "exit 0",
        ].join("\n"));
        stub(dir, "entrypoint", `echo "image entrypoint ran with: $*"`);
        const r = spawnSync("sh", [path.join(SUBMIT, "cvmfs-entry.sh"), path.join(dir, "entrypoint"), "--flag"], {
            encoding: "utf8", timeout: 30_000, env: { PATH: `${dir}:/usr/bin:/bin`, MOUNTINFO: mountinfo, CVMFS_ROOT: "/cvmfs" },
        });
        return { ...r, umounts: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [] };
    }

    it("passes shellcheck (POSIX sh: the image's shell)", function () {
        requireTool(this, "shellcheck");
        const r = shellcheck(readScript(SUBMIT, "cvmfs-entry.sh"), "cvmfs-entry.sh");
        assert.ok(r.ok, r.output);
    });

    it("detaches a dead, busy repository mount lazily (never a plain umount that EBUSY would fail), then runs the image's entrypoint", () => {
        const r = entry(["/cvmfs/cvmfs-config.cern.ch", "/cvmfs/atlas.cern.ch"], ["/cvmfs/atlas.cern.ch"]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.umounts, ["umount -l /cvmfs/atlas.cern.ch"]);
        assert.match(r.stdout, /\/cvmfs\/atlas\.cern\.ch is a dead mount: detaching it \(umount -l\)/);
        assert.match(r.stdout, /image entrypoint ran with: --flag$/m);
    });

    it("leaves live mounts, and mounts outside the CVMFS root, alone", () => {
        const r = entry(["/cvmfs/atlas.cern.ch", "/cvmfsother/x", "/srv/incant/home"], ["/cvmfsother/x", "/srv/incant/home"]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.umounts, []);
        assert.match(r.stdout, /image entrypoint ran/);
    });

    it("stops once with a message, without mounting over it, when even a lazy unmount fails (Docker's back-off spaces retries)", () => {
        const r = entry(["/cvmfs/atlas.cern.ch"], ["/cvmfs/atlas.cern.ch"], true);
        assert.equal(r.status, 1);
        assert.deepEqual(r.umounts, ["umount -l /cvmfs/atlas.cern.ch"], "one attempt, no loop");
        assert.match(r.stderr, /could not detach \/cvmfs\/atlas\.cern\.ch: not mounting over it/);
        assert.doesNotMatch(r.stdout, /image entrypoint ran/);
    });

    it("is the CVMFS container's entrypoint, in front of the image's own, bind-mounted read-only from the file cloud-init writes", () => {
        const spec = cvmfsService({ stack: "dev", hostname: "incant-dev-submit", cvmfs: CVMFS });
        assert.deepEqual(spec.entrypoint, [CVMFS_ENTRY_IN_CONTAINER, CVMFS_IMAGE_ENTRYPOINT]);
        assert.deepEqual(spec.mounts.find((m) => m.target === CVMFS_ENTRY_IN_CONTAINER), { source: HOST.cvmfsEntry, target: CVMFS_ENTRY_IN_CONTAINER, readOnly: true });
        const file = submitHostCloudConfig(SHARES, S3).write_files!.find((f) => f.path === HOST.cvmfsEntry)!;
        assert.equal(file.permissions, "0755");
        assert.equal(file.content, readScript(SUBMIT, "cvmfs-entry.sh"));
    });
});

describe("the smoke-test job (examples/smoke-test)", () => {
    function fakeCvmfs(): string {
        const repo = path.join(tempDir(), "atlas.cern.ch");
        fs.mkdirSync(path.join(repo, "repo", "ATLASLocalRootBase", "user"), { recursive: true });
        fs.writeFileSync(path.join(repo, "repo", "ATLASLocalRootBase", "user", "atlasLocalSetup.sh"), "# setupATLAS\n");
        return repo;
    }
    const job = (args: string[], env: Record<string, string>) => spawnSync("bash", [path.join(SMOKE, "smoke-test.sh"), ...args],
        { encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });

    it("passes shellcheck", function () {
        requireTool(this, "shellcheck");
        const result = shellcheck(readScript(SMOKE, "smoke-test.sh"));
        assert.ok(result.ok, result.output);
    });

    it("reads CVMFS, writes a flat n-tuple (CSV) to the scratch directory, and reports it on stdout", () => {
        const repo = fakeCvmfs();
        const out = path.join(tempDir(), "scratch", "atlasuser1", "smoke-test");
        const r = job(["42", "3", out, "25"], { CVMFS_ATLAS: repo });
        assert.equal(r.status, 0, r.stderr);
        const ntuple = fs.readFileSync(path.join(out, "ntuple_42_3.csv"), "utf8").trimEnd().split("\n");
        assert.match(ntuple[0], /^# INCANT smoke test n-tuple/);
        assert.equal(ntuple[1], "run,event,n_jets,lead_jet_pt_gev,lead_jet_eta,met_gev");
        assert.equal(ntuple.length, 2 + 25);
        assert.ok(ntuple.slice(2).every((row) => /^42,\d+,[0-5],\d+\.\d{2},-?\d\.\d{3},\d+\.\d{2}$/.test(row)), ntuple.slice(2, 5).join("\n"));
        assert.match(r.stdout, /setupATLAS available/);
        assert.match(r.stdout, /n-tuple: .*ntuple_42_3\.csv \(25 events/);
        assert.match(r.stdout, /OK\n$/);
        assert.ok(!fs.existsSync(path.join(out, "ntuple_42_3.csv.tmp")));
        // Same job id, same n-tuple.
        const again = path.join(tempDir(), "again");
        job(["42", "3", again, "25"], { CVMFS_ATLAS: repo });
        assert.equal(fs.readFileSync(path.join(again, "ntuple_42_3.csv"), "utf8"), ntuple.join("\n") + "\n");
    });

    it("fails with a message when CVMFS is not mounted", () => {
        const r = job(["1", "0", tempDir()], { CVMFS_ATLAS: path.join(tempDir(), "missing") });
        assert.equal(r.status, 2);
        assert.match(r.stderr, /CVMFS is not mounted on this worker/);
    });

    it("the submit file runs that script with the job id and the user's scratch directory", () => {
        const sub = fs.readFileSync(path.join(SMOKE, "smoke-test.sub"), "utf8");
        const value = (key: string) => new RegExp(`^${key}\\s*=\\s*(.*)$`, "m").exec(sub)?.[1];
        assert.equal(value("executable"), "smoke-test.sh");
        assert.ok(fs.existsSync(path.join(SMOKE, value("executable")!)));
        assert.equal(value("arguments"), "$(ClusterId) $(ProcId) $(scratch_dir) $(events)");
        assert.equal(value("scratch_dir"), "/scratch/$ENV(USER)/smoke-test");
        assert.equal(value("output"), "smoke-test.$(ClusterId).$(ProcId).out");
        assert.match(sub, /^queue 1$/m);
    });
});
