/** The offline render: the project's main job on a machine with no cloud. */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { render } from "../offline/render";
import { OfflineRun, SECRET_MARKER } from "../offline/engine";
import { makeRedactor, secretStrings } from "../offline/redact";
import { offlineSecret, readStack } from "../offline/stackfile";
import { ROOT } from "./harness/program";

function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "incant-render-"));
}

describe("offline render", () => {
    it("writes the dev plan: 10 VMs, their cloud-init, a summary and the outputs", async () => {
        const out = tempDir();
        await render({ stack: "dev", out, showSecrets: false });
        const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8")) as { type: string; name: string; urn: string; parent: string | null; inputs: unknown }[];
        const vms = plan.filter((r) => r.type === "openstack:compute/instance:Instance");
        assert.equal(vms.length, 10);
        assert.ok(plan.every((r) => r.type && r.name && r.urn.startsWith("urn:pulumi:dev::incant::") && "parent" in r && "inputs" in r));
        for (const vm of vms) assert.ok(fs.existsSync(path.join(out, "cloud-init", `${vm.name}.yaml`)), vm.name);
        const summary = fs.readFileSync(path.join(out, "summary.md"), "utf8");
        assert.match(summary, /\| vCPU \| 38 \| 92 \| 41% \|/);
        assert.match(summary, /\| incant-dev-worker-6 \| worker \| large \| 4 \| 8 \| 100 \|/);
    });

    it("replaces every secret by the marker, and shows them only when asked", async () => {
        const hidden = tempDir();
        const shown = tempDir();
        await render({ stack: "dev", out: hidden, showSecrets: false });
        await render({ stack: "dev", out: shown, showSecrets: true });
        // Every secret key the stack leaves to an offline placeholder (which of them the program
        // uses changes with the components: at least one must reach the files).
        const secrets = readStack("dev").placeholders.map(offlineSecret);
        const all = (dir: string): string => {
            const files: string[] = [];
            const walk = (d: string) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name)));
            walk(dir);
            return files.map((f) => fs.readFileSync(f, "utf8")).join("\n");
        };
        const hiddenText = all(hidden);
        for (const secret of secrets) assert.ok(!hiddenText.includes(secret), `${secret} in the default render`);
        assert.ok(!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(hiddenText), "no private key in the default render");
        assert.ok(hiddenText.includes(SECRET_MARKER));
        const shownText = all(shown);
        assert.ok(secrets.some((secret) => shownText.includes(secret)), "--show-secrets writes the values");
    });

    it("renders the same stack identically twice, so two renders diff only where the config changed", async () => {
        const a = tempDir();
        const b = tempDir();
        const first = await render({ stack: "dev", out: a, showSecrets: true });
        const second = await render({ stack: "dev", out: b, showSecrets: true });
        assert.deepEqual(Object.keys(second.files).sort(), Object.keys(first.files).sort());
        for (const name of Object.keys(first.files)) assert.equal(second.files[name], first.files[name], name);
    });

    it("redacts secret atoms inside documents, their base64 forms, and whole secrets with no known atom", () => {
        const token = "eyJhbGciOiJIUzI1NiJ9.payload.signature";
        const doc = `#cloud-config\nwrite_files:\n- content: ${token}\n`;
        const opaque = "an-opaque-secret-document-without-atoms";
        const run: OfflineRun = {
            resources: [{
                type: "t", name: "n", urn: "u", custom: true, dependencies: [], protect: false, retainOnDelete: false, ignoreChanges: [],
                inputs: {}, revealedInputs: { userData: doc, other: opaque }, secretPaths: ["userData", "other"], state: {}, additionalSecretOutputs: [],
            }],
            outputs: {}, secretOutputs: [], sensitive: [token],
        };
        const redact = makeRedactor(secretStrings(run, []), false);
        assert.equal(redact(doc), `#cloud-config\nwrite_files:\n- content: ${SECRET_MARKER}\n`);
        assert.equal(redact(`x ${Buffer.from(token).toString("base64")} y`), `x ${SECRET_MARKER} y`);
        assert.equal(redact(`k: ${opaque}`), `k: ${SECRET_MARKER}`);
        assert.equal(makeRedactor(secretStrings(run, []), true)(doc), doc);
    });

    it("exits non-zero with the validation messages and writes no plan on bad config", () => {
        const out = tempDir();
        const bad = path.join(tempDir(), "Pulumi.broken.yaml");
        fs.writeFileSync(bad, fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8") +
            "  incant:nodes:\n    workers: {count: 0, flavor: gigantic}\n");
        const r = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin"), "--transpile-only",
            path.join(ROOT, "offline", "render.ts"), "--config-file", bad, "--out", out], { encoding: "utf8", cwd: ROOT, timeout: 60_000 });
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /incant:nodes\.workers\.count must be a positive integer up to 10000 \(got 0\) \[Pulumi\.broken\.yaml\]/);
        assert.match(r.stderr, /incant:nodes\.workers\.flavor names unknown flavor "gigantic"/);
        assert.ok(!fs.existsSync(path.join(out, "plan.json")), "no plan on failure");
    });
});
