/**
 * Issue 14, item 4, in the program (offline engine, the pool's fixture program): a change of
 * incant:users reaches the pool through one object, the users ConfigMap (components/htcondor/users.ts).
 * No pod template changes (no checksum: no pod restarts), no resource is added or removed, and no
 * Deployment depends on that ConfigMap, so the provider's way of changing a ConfigMap's data
 * (pulumi-kubernetes replaces it under the same name unless enableConfigMapMutable) cascades to no
 * pod. The role configurations name the users only through the include, which HTCondor's own
 * condor_config_val resolves. The live reload runs for real in tests/pool/users-live.test.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import YAML from "yaml";
import { CHECKSUM_ANNOTATION } from "../components/htcondor/manifests";
import { USERS_CONFIGMAP, USERS_PATHS, USERS_SCRIPT } from "../components/htcondor/users";
import { PATHS } from "../components/htcondor/config";
import { htcondorConfigs } from "../offline/artifacts";
import { RecordedResource } from "../offline/engine";
import { ProgramRun, runProgram } from "./harness/program";
import { requireCondition, requireTool } from "./harness/tools";
import { findHtcondor, HtcondorInstall } from "./pool/install";

const PROGRAM = path.join(__dirname, "fixtures", "htcondor-pool.program.ts");
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const ROOT = path.resolve(__dirname, "..");

type User = { name: string; uid: number; iamSubject: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const runPool = (overrides: Record<string, unknown> = {}) => runProgram("dev", overrides, { program: PROGRAM });
const objectName = (r: RecordedResource) => (r.revealedInputs.metadata as { name: string }).name;
const usersConfigMap = (run: ProgramRun) => run.ofType(CONFIGMAP).find((c) => objectName(c) === USERS_CONFIGMAP)!;
const checksums = (run: ProgramRun) => Object.fromEntries(run.ofType(DEPLOYMENT).map((d) =>
    [objectName(d), (d.revealedInputs as Doc).spec.template.metadata.annotations[CHECKSUM_ANNOTATION] as string]));

describe("HTCondor pool: users applied live (issue 14 item 4, program)", function () {
    this.timeout(300_000);
    let dev: ProgramRun;
    let again: ProgramRun;
    let devUsers: User[];
    const changes: [string, () => ProgramRun][] = [];
    let added: ProgramRun;
    let removed: ProgramRun;

    before(async () => {
        dev = await runPool();
        again = await runPool();
        devUsers = YAML.parse(dev.stack.config["incant:users"]) as User[];
        assert.ok(devUsers.length >= 2, "the dev stack has users to remove");
        added = await runPool({ users: [...devUsers, { name: "atlasuser9", uid: 20009, iamSubject: "5d2b0a6e-0000-4000-8000-000000000009" }] });
        removed = await runPool({ users: devUsers.filter((u) => u.name !== devUsers[1].name) });
        changes.push(["adding a user", () => added], ["removing a user", () => removed]);
    });

    it("renders the same pool twice (the comparison below means something)", () => {
        assert.deepEqual(checksums(again), checksums(dev));
        assert.equal(Object.keys(checksums(dev)).length, 3);
    });

    for (const what of ["adding a user", "removing a user"]) {
        it(`${what}: only the users ConfigMap changes; every pod template and its checksum stay, nothing is added or removed`, () => {
            const run = changes.find(([w]) => w === what)![1]();
            assert.deepEqual(checksums(run), checksums(dev), "no checksum changes: no pod restarts");
            assert.deepEqual(run.resources.map((r) => r.urn).sort(), dev.resources.map((r) => r.urn).sort(), "the same resources");
            const changed = run.resources.filter((r) => JSON.stringify(r.revealedInputs) !== JSON.stringify(dev.resources.find((d) => d.urn === r.urn)!.revealedInputs));
            assert.deepEqual(changed.map((r) => `${r.type} ${objectName(r)}`), [`${CONFIGMAP} ${USERS_CONFIGMAP}`]);
            for (const d of run.ofType(DEPLOYMENT)) assert.deepEqual(d.revealedInputs, dev.get(DEPLOYMENT, d.name).revealedInputs, d.name);
        });
    }

    it("the users ConfigMap carries the users, the map file and the users' configuration; the role ConfigMaps none of them", () => {
        const data = (r: ProgramRun) => usersConfigMap(r).revealedInputs.data as Record<string, string>;
        assert.match(data(added).users, /^atlasuser9 20009$/m);
        assert.match(data(added).mapfile, /,5d2b0a6e-0000-4000-8000-000000000009\$ atlasuser9@incant\.cloud\.infn\.it$/m);
        assert.match(data(added)["scheduler.conf"], /^INCANT_USERS = .*atlasuser9@incant\.cloud\.infn\.it/m);
        assert.match(data(added)["central-manager.conf"], /^GROUP_NAMES = .*group_atlasuser9/m);
        const gone = devUsers[1].name;
        for (const key of ["users", "mapfile", "scheduler.conf", "central-manager.conf"]) {
            assert.match(data(dev)[key], new RegExp(gone), `${key} names ${gone} before`);
            assert.doesNotMatch(data(removed)[key], new RegExp(`${gone}\\b`), `${key} no longer names ${gone}`);
        }
        for (const c of dev.ofType(CONFIGMAP).filter((c) => /^htcondor-(central-manager|scheduler|worker)$/.test(objectName(c)))) {
            const text = JSON.stringify(c.revealedInputs.data);
            for (const u of devUsers) assert.doesNotMatch(text, new RegExp(`${u.name}\\b`), `${objectName(c)} names ${u.name}`);
        }
    });

    it("every pod mounts it whole (the kubelet updates it in place), runs the users script from its own ConfigMap, and no Deployment waits on it", () => {
        const cm = usersConfigMap(dev);
        for (const d of dev.ofType(DEPLOYMENT)) {
            const spec = (d.revealedInputs as Doc).spec.template.spec;
            const volume = spec.volumes.find((v: Doc) => v.configMap?.name === USERS_CONFIGMAP);
            assert.ok(volume, `${d.name} mounts ${USERS_CONFIGMAP}`);
            const mounts = spec.containers[0].volumeMounts.filter((m: Doc) => m.name === volume.name);
            assert.deepEqual(mounts, [{ name: volume.name, mountPath: USERS_PATHS.dir, readOnly: true }], `${d.name}: one mount, no subPath`);
            const scriptVolume = spec.volumes.find((v: Doc) => v.configMap?.items?.some((i: Doc) => i.key === USERS_SCRIPT));
            assert.equal(scriptVolume.configMap.name, objectName(dev.get(CONFIGMAP, d.name)), "from the role's own ConfigMap (in its checksum)");
            assert.deepEqual(scriptVolume.configMap.items, [{ key: USERS_SCRIPT, path: USERS_SCRIPT, mode: 0o555 }], "the master executes it");
            assert.deepEqual(spec.containers[0].volumeMounts.filter((m: Doc) => m.name === scriptVolume.name).map((m: Doc) => `${m.mountPath}/${USERS_SCRIPT}`), [USERS_PATHS.script]);
            assert.ok(!d.dependencies.includes(cm.urn), `${d.name} depends on ${USERS_CONFIGMAP}: its replacement would reach the pods`);
        }
        assert.equal(path.posix.dirname(PATHS.mapfile), USERS_PATHS.dir, "the map file the daemons read is the mounted one");
    });

    describe("read by HTCondor (condor_config_val on the rendered files)", () => {
        let install: HtcondorInstall;
        let dir: string;
        before(function () {
            const found = findHtcondor();
            requireCondition(this, !("missing" in found), "missing" in found ? found.missing : "");
            install = found as HtcondorInstall;
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-users-conf-"));
        });
        after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

        const value = (run: ProgramRun, role: "central-manager" | "scheduler", key: string, withUsers = true) => {
            const files = htcondorConfigs(run);
            const users = path.join(dir, `${role}-users.conf`);
            fs.writeFileSync(users, files[`htcondor/users/${role}.conf`]);
            const conf = path.join(dir, `${role}.conf`);
            const include = `include ifexist : ${USERS_PATHS.config}`;
            assert.ok(files[`htcondor/${role}.conf`].includes(include), `${role}.conf includes ${USERS_PATHS.config}`);
            fs.writeFileSync(conf, files[`htcondor/${role}.conf`].replace(include, `include ifexist : ${withUsers ? users : path.join(dir, "absent.conf")}`));
            const r = spawnSync(path.join(install.prefix, "bin", "condor_config_val"), [key], {
                encoding: "utf8", timeout: 30_000,
                env: { PATH: "/usr/bin:/bin", CONDOR_CONFIG: conf, POD_IP: "10.244.2.10", LD_LIBRARY_PATH: path.join(install.prefix, "lib") },
            });
            assert.equal(r.status, 0, `${key}: ${r.stdout}${r.stderr}`);
            return r.stdout.trim().split(/\s*,\s*/).filter(Boolean);
        };

        it("the schedd's WRITE and the collector's READ list each user, through the included users.conf", () => {
            for (const u of devUsers) {
                assert.ok(value(dev, "scheduler", "ALLOW_WRITE").includes(`${u.name}@incant.cloud.infn.it`), u.name);
                assert.ok(value(dev, "central-manager", "ALLOW_READ").includes(`${u.name}@incant.cloud.infn.it`), u.name);
            }
            assert.ok(!value(removed, "scheduler", "ALLOW_WRITE").includes(`${devUsers[1].name}@incant.cloud.infn.it`));
            assert.ok(value(added, "scheduler", "ALLOW_WRITE").includes("atlasuser9@incant.cloud.infn.it"));
            assert.deepEqual(value(dev, "scheduler", "ALLOW_ADMINISTRATOR"), ["root@incant.cloud.infn.it"], "users are never administrators");
            // Without users.conf (a missing mount, or a tool reading the rendered file alone): no user at all.
            assert.deepEqual(value(dev, "scheduler", "ALLOW_WRITE", false), ["root@incant.cloud.infn.it"]);
        });
    });

    it("ships a users script that shellcheck accepts", function () {
        requireTool(this, "shellcheck");
        const r = spawnSync("shellcheck", [path.join(ROOT, "components", "htcondor", USERS_SCRIPT), path.join(ROOT, "components", "htcondor", "pre-exec.sh")], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout);
    });
});
