/**
 * The metadata service for root only on every Kubernetes node (scripts/metadata-guard.sh): what
 * the program installs, the unit through systemd-analyze, and the shipped script run for real in
 * a private network namespace where 169.254.169.254 serves HTTP: root still reads it, another
 * user is refused at once, and a second run (the next boot) adds no second rule.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cloudConfigOf } from "../offline/artifacts";
import { renderEnvFile } from "../components/compute/cloudinit";
import { renderIni } from "../components/compute/ini";
import { metadataGuardUnit, NODE_PATHS } from "../components/kubernetes/nodes";
import { INSTANCE, ROOT, runProgram } from "./harness/program";
import { verifyUnitsInRoot } from "./harness/systemd";
import { requireCondition, requireTool } from "./harness/tools";

const UNIT = "incant-metadata-guard.service";
interface NodeDoc { runcmd: string[][]; write_files: { path: string; content: string }[] }

describe("metadata service for root only: what the nodes get", () => {
    it("every control plane and worker (dev, prod) runs the guard first, before containerd and kubelet exist", async () => {
        for (const stack of ["dev", "prod"]) {
            const run = await runProgram(stack);
            const nodes = run.ofType(INSTANCE).map((i) => String(i.inputs.name)).filter((n) => /-(control-plane|worker)-/.test(n));
            for (const name of nodes) {
                const doc = cloudConfigOf(run, name) as unknown as NodeDoc;
                const firstStep = doc.runcmd.findIndex((c) => c[0] === NODE_PATHS.setup);
                assert.deepEqual(doc.runcmd[firstStep - 1], ["systemctl", "enable", "--now", UNIT], name);
                assert.ok(doc.write_files.some((f) => f.path === NODE_PATHS.metadataGuard), name);
                assert.match(doc.write_files.find((f) => f.path === "/etc/incant/kubernetes.env")!.content, /^METADATA_ADDRESS='169\.254\.169\.254'$/m);
            }
        }
    });

    it("the unit passes systemd-analyze verify and orders itself before containerd and kubelet", function () {
        requireTool(this, "systemd-analyze");
        const unit = renderIni(metadataGuardUnit(), { separator: "=" });
        const r = verifyUnitsInRoot({ [`/etc/systemd/system/${UNIT}`]: unit }, [UNIT]);
        assert.equal(r.status, 0, r.output);
        assert.match(unit, /^Before=containerd\.service kubelet\.service$/m);
    });
});

describe("metadata guard (scripts/metadata-guard.sh) in a network namespace, for real", function () {
    this.timeout(60_000);
    let dir: string;
    before(function () {
        requireCondition(this, process.getuid?.() === 0, "root is required (network namespace, iptables, runuser)");
        for (const tool of ["unshare", "ip", "iptables", "python3", "curl", "runuser"]) requireTool(this, tool);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-metadata-"));
    });
    after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

    it("root reads the metadata service, another user is refused at once, a second run adds nothing", () => {
        const env = path.join(dir, "kubernetes.env");
        fs.writeFileSync(env, renderEnvFile({ METADATA_ADDRESS: "169.254.169.254" }));
        const script = path.join(ROOT, "components/kubernetes/scripts/metadata-guard.sh");
        const probe = (who: string) => `${who === "root" ? "" : `runuser -u ${who} -- `}curl -s -m 5 -o /dev/null -w "${who} %{http_code}\\n" http://169.254.169.254:8080/ || echo "${who} refused ($?)"`;
        const r = spawnSync("unshare", ["--net", "bash", "-c", [
            "set -u",
            "ip link set lo up && ip addr add 169.254.169.254/32 dev lo",
            // Its own PID in $! (not a subshell's), so the trap stops it and nothing outlives the test.
            `cd ${dir}`,
            "python3 -m http.server --bind 169.254.169.254 8080 > /dev/null 2>&1 & SERVER=$!",
            "trap 'kill $SERVER' EXIT",
            "for _ in $(seq 1 50); do curl -s -o /dev/null http://169.254.169.254:8080/ && break; sleep 0.1; done",
            probe("nobody"),
            `bash ${script} ${env}`,
            probe("root"),
            probe("nobody"),
            `bash ${script} ${env} > /dev/null`,
            "echo \"rules: $(iptables -w -S OUTPUT | grep -c 169.254.169.254)\"",
        ].join("\n")], { encoding: "utf8", timeout: 45_000 });
        const out = `${r.stdout}${r.stderr}`;
        const lines = r.stdout.trim().split("\n");
        assert.equal(lines[0], "nobody 200", `before the guard anyone reads it: ${out}`);
        assert.match(out, /the metadata service 169\.254\.169\.254 is reachable by root only/);
        assert.ok(lines.includes("root 200"), out);
        assert.ok(lines.some((l) => /^nobody (refused \(7\)|000)/.test(l)), out);
        assert.ok(lines.includes("rules: 1"), `idempotent: ${out}`);
    });
});
