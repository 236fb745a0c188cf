/**
 * Physicists' access in the real program (issue 14), on the offline engine: the submit container
 * publishes its sshd port and nothing else, the host key is made on the host after the gate and
 * published, and a change of incant:users is applied live: the users command is updated in
 * place (pulumi-command runs `update` when an input other than `triggers` changes; triggers and
 * replaceWith are what replace), while the submit container, everything it is replaced with and
 * the VM stay exactly as they were. Removing a user also drops their SciTokens map line.
 * The scripts themselves run for real in tests/submit-access.test.ts.
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import YAML from "yaml";
import { SUBMIT_SSH_PORT, SUBMIT_TOOL_PORTS } from "../components/network/ports";
import { ACCESS, renderAccessList, submitMemoryMb } from "../components/submit/access";
import { DEFAULTS } from "../components/config/defaults";
import { RecordedResource } from "../offline/engine";
import { INSTANCE, ProgramRun, runProgram } from "./harness/program";

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:remote:Command";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";

type User = { name: string; uid: number; iamSubject: string; sshPublicKey?: string };
const KEY = (seed: string) => `ssh-ed25519 ${crypto.createHash("sha512").update(seed).digest("base64").slice(0, 68)} ${seed}@laptop`;

describe("submit access in the program: port, host key, users applied live (issue 14)", function () {
    this.timeout(300_000);
    let dev: ProgramRun;
    let devUsers: User[];
    let added: ProgramRun;
    let removed: ProgramRun;
    let rekeyed: ProgramRun;

    before(async () => {
        dev = await runProgram("dev");
        devUsers = (YAML.parse(dev.stack.config["incant:users"]) as User[]);
        assert.ok(devUsers.length >= 2, "the dev stack has users to remove");
        added = await runProgram("dev", { users: [...devUsers, { name: "atlasuser9", uid: 20009, iamSubject: "sub-9", sshPublicKey: KEY("u9") }] });
        removed = await runProgram("dev", { users: devUsers.filter((u) => u.name !== devUsers[1].name) });
        rekeyed = await runProgram("dev", { users: devUsers.map((u, i) => (i === 0 ? { ...u, sshPublicKey: KEY("new") } : u)) });
    });

    const submit = (run: ProgramRun) => run.get(CONTAINER, "submit-submit");
    const byUrn = (run: ProgramRun, urn: string) => run.resources.find((r) => r.urn === urn)!;
    const submitVm = (run: ProgramRun) => run.ofType(INSTANCE).find((i) => (i.inputs.metadata as Record<string, string>).role === "submit")!;
    /** What decides whether the submit container is replaced: its own inputs and those of everything in its replaceWith. */
    const replacementInputs = (run: ProgramRun): Record<string, unknown> => {
        const c = submit(run);
        return {
            container: c.revealedInputs,
            vm: submitVm(run).revealedInputs.userData,
            ...Object.fromEntries((c.replaceWith ?? []).map((urn) => { const r = byUrn(run, urn); return [r.name, r.revealedInputs]; })),
        };
    };

    it("publishes only the physicists' sshd port and the tools' ports, and limits the container's memory below the VM's", () => {
        const c = submit(dev);
        // The tools' ports: where condor_tail and condor_ssh_to_job wait for the starter (components/submit/tools.ts).
        const tools = Array.from({ length: SUBMIT_TOOL_PORTS.last - SUBMIT_TOOL_PORTS.first + 1 }, (_, i) => SUBMIT_TOOL_PORTS.first + i);
        assert.deepEqual(tools, [9620, 9621, 9622, 9623, 9624, 9625, 9626, 9627, 9628, 9629]);
        assert.deepEqual(c.inputs.ports, [SUBMIT_SSH_PORT, ...tools].map((p) => ({ internal: p, external: p })));
        assert.equal(dev.get(CONTAINER, "submit-cvmfs").inputs.ports, undefined, "the CVMFS container publishes nothing");
        const flavor = DEFAULTS.flavors[String(submitVm(dev).inputs.flavorName)];
        assert.ok(flavor, `flavor ${submitVm(dev).inputs.flavorName} is a known one`);
        assert.ok(typeof c.inputs.memory === "number" && c.inputs.memory > 0);
        assert.equal(c.inputs.memory, submitMemoryMb(flavor.ramGb));
    });

    it("makes the sshd host key on the host after the gate, pinned connection, and publishes it with the port", () => {
        const gate = dev.get(COMMAND, "submit-ready");
        const hk = dev.get(COMMAND, "submit-ssh-host-key");
        assert.equal(hk.inputs.create, `sudo -n bash -s -- ${ACCESS.host.hostKeyDir}`);
        assert.match(String(hk.inputs.stdin), /ssh-keygen -q -t ed25519/);
        assert.ok(hk.dependencies.includes(gate.urn));
        assert.equal((hk.revealedInputs.connection as { hostKey: string }).hostKey, String(gate.state.stdout).trim());
        assert.ok(hk.replaceWith?.includes(gate.urn), "a new VM, a new key");
        assert.ok(submit(dev).dependencies.includes(hk.urn), "the key exists before the container binds its directory");
        assert.ok(!submit(dev).replaceWith?.includes(hk.urn));
        const out = dev.outputs.submitSsh as { address: string; port: number; hostKey: string };
        assert.equal(out.port, SUBMIT_SSH_PORT);
        assert.equal(out.address, dev.outputs.submitHostAddress);
        assert.equal(out.hostKey, String(hk.state.stdout).trim());
    });

    it("gives every ssh session the container's environment (sshd_config SetEnv), which sessions do not inherit", () => {
        const envs = Object.fromEntries((submit(dev).inputs.envs as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
        assert.ok(envs.CONDOR_HOST && envs.INCANT_SCHEDD, "the container has them");
        const conf = String(dev.get(COMMAND, "submit-file-sshd-config").revealedInputs.stdin);
        const setEnv = /^SetEnv (.*)$/m.exec(conf);
        assert.ok(setEnv, "sshd_config has SetEnv");
        assert.deepEqual(Object.fromEntries(setEnv[1].split(" ").map((kv) => JSON.parse(kv).split(/=(.*)/s).slice(0, 2))), envs);
    });

    it("installs users and keys with incant-submit-users, as create and as update, after its script", () => {
        const u = dev.get(COMMAND, "submit-users");
        const cmd = `sudo -n ${ACCESS.host.updateUsers} ${DEFAULTS.readinessTimeoutSeconds}`;
        assert.equal(u.inputs.create, cmd);
        assert.equal(u.inputs.update, cmd, "a changed list runs the script again in place");
        assert.equal(u.inputs.triggers, undefined, "no trigger: a users change never replaces it");
        assert.equal(u.revealedInputs.stdin, renderAccessList(devUsers));
        const script = dev.get(COMMAND, "submit-file-update-users");
        assert.ok(u.dependencies.includes(script.urn));
        assert.ok(submit(dev).dependencies.includes(u.urn), "the access directory exists before the container binds it");
        assert.ok(!submit(dev).replaceWith?.includes(u.urn), "the container is not replaced with it");
    });

    for (const [what, run] of [["adding a user", () => added], ["removing a user", () => removed], ["changing a user's key", () => rekeyed]] as const) {
        it(`${what}: the users command changes its list only; the submit container and the VM stay`, () => {
            assert.deepEqual(replacementInputs(run()), replacementInputs(dev));
            const before = dev.get(COMMAND, "submit-users");
            const after = run().get(COMMAND, "submit-users");
            assert.notEqual(after.revealedInputs.stdin, before.revealedInputs.stdin);
            const { stdin: _a, ...restAfter } = after.revealedInputs;
            const { stdin: _b, ...restBefore } = before.revealedInputs;
            assert.deepEqual(restAfter, restBefore, "only stdin differs: an update, not a replacement");
        });
    }

    it("removing a user drops their login and their SciTokens map line", () => {
        const gone = devUsers[1];
        assert.doesNotMatch(String(removed.get(COMMAND, "submit-users").revealedInputs.stdin), new RegExp(`^user ${gone.name} `, "m"));
        const mapfile = (run: ProgramRun) => (run.ofType(CONFIGMAP).find((c: RecordedResource) =>
            ((c.revealedInputs.data ?? {}) as Record<string, string>).mapfile !== undefined)!.revealedInputs.data as Record<string, string>).mapfile;
        assert.match(mapfile(dev), new RegExp(`${gone.name}@`));
        assert.doesNotMatch(mapfile(removed), new RegExp(`${gone.name}@`));
    });
});
