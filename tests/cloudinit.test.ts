/**
 * Every VM's user-data, in every environment: cloud-init's own schema check, shellcheck on every
 * embedded script, and Nova's size limit. Runs over whatever the components generate.
 */
import { strict as assert } from "assert";
import YAML from "yaml";
import { base64Size, fillVmTemplate, NOVA_USER_DATA_LIMIT, renderEnvFile, VM_STANDIN } from "../components/compute/cloudinit";
import { renderWorkerUserData } from "../components/kubernetes/nodes";
import { WORKER_TOKEN_STANDIN, fillWorkerToken } from "../components/kubernetes/join-tokens";
import { decodeUserData } from "../offline/artifacts";
import { cloudInitSchema, requireTool, shellcheck } from "./harness/tools";
import { INSTANCE, runProgram, ProgramRun } from "./harness/program";

interface UserDataDoc {
    write_files?: { path: string; content: string }[];
    runcmd?: (string | string[])[];
    bootcmd?: (string | string[])[];
}

/** Shell scripts inside a cloud-config: shebang files and `bash -c` commands. */
function embeddedScripts(doc: UserDataDoc): { name: string; text: string }[] {
    const files = (doc.write_files ?? [])
        .filter((f) => /^#!\s*\/(usr\/)?bin\/(env )?(ba)?sh/.test(f.content))
        .map((f) => ({ name: f.path, text: f.content }));
    const commands = [...(doc.bootcmd ?? []), ...(doc.runcmd ?? [])].flatMap((c, i) => {
        if (typeof c === "string") return [{ name: `cmd-${i}`, text: `#!/bin/sh\n${c}\n` }];
        const at = c.indexOf("-c");
        return /sh$/.test(c[0] ?? "") && at > 0 ? [{ name: `cmd-${i}`, text: `#!/bin/bash\n${c[at + 1]}\n` }] : [];
    });
    return [...files, ...commands];
}

/**
 * User-data documents that differ other than by host name and address (workers are alike),
 * each with the first VM that has it: the validators run once per shape, not once per VM.
 */
function distinctUserData(run: ProgramRun): Map<string, string> {
    const seen = new Map<string, string>();
    const shapes = new Set<string>();
    for (const vm of run.ofType(INSTANCE)) {
        const text = decodeUserData(String(vm.revealedInputs.userData));
        const ip = run.addressOf(vm);
        const shape = text.split(String(vm.inputs.name)).join("NAME").split(ip).join("IP");
        if (!shapes.has(shape)) {
            shapes.add(shape);
            seen.set(text, String(vm.inputs.name));
        }
    }
    return seen;
}

for (const stackName of ["dev", "prod"]) {
    describe(`cloud-init of every VM (${stackName})`, function () {
        let run: ProgramRun;
        before(async () => { run = await runProgram(stackName); });

        it("passes cloud-init's schema check", function () {
            requireTool(this, "cloud-init");
            for (const [text, vm] of distinctUserData(run)) {
                const result = cloudInitSchema(text);
                assert.ok(result.ok, `${vm}: ${result.output}`);
            }
        });

        it("has only scripts that pass shellcheck", function () {
            requireTool(this, "shellcheck");
            for (const [text, vm] of distinctUserData(run)) {
                for (const script of embeddedScripts(YAML.parse(text) as UserDataDoc)) {
                    const result = shellcheck(script.text);
                    assert.ok(result.ok, `${vm} ${script.name}:\n${result.output}`);
                }
            }
        });

        it("gives every worker its own name and address, and no stand-in", () => {
            for (const vm of run.ofType(INSTANCE)) {
                const text = decodeUserData(String(vm.revealedInputs.userData));
                const ip = run.addressOf(vm);
                assert.ok(!text.includes(VM_STANDIN.name) && !text.includes(VM_STANDIN.address), `${vm.name} carries a stand-in`);
                assert.ok(text.includes(`hostname: ${String(vm.inputs.name)}\n`), `${vm.name}: host name`);
                if (String(vm.inputs.name).includes("-worker-")) assert.ok(text.includes(`value: ${ip}\n`), `${vm.name}: node-ip ${ip}`);
            }
        });

        it("fits Nova's user-data limit", () => {
            for (const vm of run.ofType(INSTANCE)) {
                const userData = String(vm.revealedInputs.userData);
                assert.ok(base64Size(Buffer.byteLength(userData)) <= NOVA_USER_DATA_LIMIT, `${vm.name}: ${userData.length} bytes`);
                assert.match(decodeUserData(userData), /^#cloud-config\n/);
            }
        });
    });
}

describe("user-data templates (one rendering for all workers)", () => {
    const args = {
        ubuntuRelease: "22.04", kubernetesMinor: "1.31", kubernetesVersion: "1.31.4", apiEndpoint: "10.0.0.10:6443",
        joinToken: WORKER_TOKEN_STANDIN, caCertHash: `sha256:${"0".repeat(64)}`,
    };
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample operator";

    it("fills in exactly what rendering each worker directly gives (name, address and its own token)", () => {
        const template = renderWorkerUserData(VM_STANDIN, args, key);
        for (const [vm, token] of [
            [{ name: "incant-dev-worker-0", address: "192.168.100.32" }, "abcdef.0123456789abcdef"],
            [{ name: "incant-prod-worker-39", address: "192.168.64.71" }, "z9y8x7.aaaaaaaaaaaaaaaa"],
            [{ name: "a-worker-1234", address: "10.255.255.254" }, "000000.0000000000000000"],
        ] as const) {
            assert.equal(fillWorkerToken(fillVmTemplate(template, vm), token), renderWorkerUserData(vm, { ...args, joinToken: token }, key));
        }
    });

    it("refuses a template without the token's stand-in", () => {
        const vm = { name: "incant-dev-worker-0", address: "192.168.100.32" };
        assert.throws(() => fillWorkerToken(renderWorkerUserData(vm, { ...args, joinToken: "abcdef.0123456789abcdef" }, key), "b"), /no stand-in for the join token/);
    });

    it("refuses a template without the stand-ins", () => {
        const vm = { name: "incant-dev-worker-0", address: "192.168.100.32" };
        assert.throws(() => fillVmTemplate(renderWorkerUserData(vm, args, key), vm), /no stand-in for the VM's name/);
        assert.throws(() => fillVmTemplate(`#cloud-config\nhostname: ${VM_STANDIN.name}\n`, vm), /no stand-in for the VM's address/);
    });
});

describe("the validators themselves", () => {
    it("cloud-init rejects an invalid document", function () {
        requireTool(this, "cloud-init");
        assert.equal(cloudInitSchema("#cloud-config\npackages: 3\nruncmd: {a: 1}\n").ok, false);
    });
    it("shellcheck rejects a broken script", function () {
        requireTool(this, "shellcheck");
        assert.equal(shellcheck("#!/bin/bash\nrm -rf $1/*\n").ok, false);
    });
    it("env files quote values and refuse what would break them", () => {
        assert.equal(renderEnvFile({ A: "x y", B: 3 }), "A='x y'\nB='3'\n");
        assert.throws(() => renderEnvFile({ A: "it's" }), /quotes/);
        assert.throws(() => renderEnvFile({ "a-b": "x" }), /bad variable name/);
    });
});
