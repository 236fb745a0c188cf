/**
 * The API's virtual address (3 control planes, components/kubernetes/keepalived.ts), run for real:
 * in a private network and mount namespace, a veth interface gets the first prod control plane's
 * address; the program's own files (keepalived.conf, the health check, the setup script, the env
 * file) go to their absolute paths; a stand-in API server (openssl s_server, certificate from a test
 * CA) answers /readyz. The setup script starts Debian's keepalived, the address must come while
 * the API answers and leave once it stops.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cloudConfigOf } from "../offline/artifacts";
import { INSTANCE, ProgramRun, runProgram } from "./harness/program";
import { makeCa, serverCert } from "./harness/pki";
import { requireCondition, requireTool, run as runTool } from "./harness/tools";

interface Doc { write_files: { path: string; content: string; permissions?: string }[] }

/** Runs `script` with bash in new mount and network namespaces; resolves with its output. */
function inNamespaces(script: string, timeoutMs: number): Promise<{ status: number | null; output: string }> {
    return new Promise((resolve) => {
        const child = spawn("unshare", ["--mount", "--net", "--propagation", "private", "bash", "-c", script]);
        let output = "";
        child.stdout.on("data", (d: Buffer) => { output += d.toString(); });
        child.stderr.on("data", (d: Buffer) => { output += d.toString(); });
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("close", (status) => { clearTimeout(timer); resolve({ status, output }); });
    });
}

describe("keepalived holds the API address on a control plane whose API server answers (prod, run for real)", function () {
    this.timeout(90_000);
    let run: ProgramRun;
    let stage: string;
    before(async function () {
        requireCondition(this, process.getuid?.() === 0, "root is required (network and mount namespaces)");
        for (const tool of ["unshare", "ip", "keepalived", "openssl", "curl"]) requireTool(this, tool);
        run = await runProgram("prod");
        stage = fs.mkdtempSync(path.join(os.tmpdir(), "incant-keepalived-"));
    });
    after(() => {
        if (!stage) return;
        // A run killed at its timeout leaves its daemons behind: they all name the stage folder.
        runTool("pkill", ["-f", stage]);
        fs.rmSync(stage, { recursive: true, force: true });
    });

    it("the address comes while /readyz answers and leaves when it stops", async () => {
        const vm = run.ofType(INSTANCE).find((v) => v.inputs.name === "incant-prod-control-plane-0")!;
        const doc = cloudConfigOf(run, "incant-prod-control-plane-0") as unknown as Doc;
        const files = doc.write_files.filter((f) => /keepalived|apiserver-check|kubernetes\.env/.test(f.path));
        const env = Object.fromEntries(files.find((f) => f.path === "/etc/incant/kubernetes.env")!.content.trim().split("\n")
            .map((l) => /^([A-Z_0-9]+)='(.*)'$/.exec(l)!.slice(1, 3) as [string, string]));
        const address = run.addressOf(vm);
        assert.equal(env.NODE_ADDRESS, address);
        const conf = files.find((f) => f.path === "/etc/keepalived/keepalived.conf")!.content;
        const prefix = /virtual_ipaddress \{\s*[\d.]+\/(\d+)/.exec(conf)![1];
        // The files, as cloud-init would write them, staged for the namespace.
        const manifest: string[] = [];
        files.forEach((f, i) => {
            fs.writeFileSync(path.join(stage, `file-${i}`), f.content);
            manifest.push(`${stage}/file-${i} ${f.permissions ?? "0644"} ${f.path}`);
        });
        const ca = await makeCa("keepalived-ca");
        const api = await serverCert("keepalived-apiserver", ca, [address]);
        fs.writeFileSync(path.join(stage, "ca.crt"), ca.certPem);
        fs.writeFileSync(path.join(stage, "api.crt"), api.certPem);
        fs.writeFileSync(path.join(stage, "api.key"), api.keyPem);
        fs.mkdirSync(path.join(stage, "www"));
        fs.writeFileSync(path.join(stage, "www", "readyz"), "ok");
        // systemctl stand-in: "restart keepalived" starts the real daemon as its unit would.
        fs.mkdirSync(path.join(stage, "bin"));
        fs.writeFileSync(path.join(stage, "bin", "systemctl"), [
            "#!/bin/bash",
            `echo "systemctl $*" >> ${stage}/systemctl.log`,
            `if [ "$1" = restart ] && [ "$2" = keepalived ]; then keepalived -f /etc/keepalived/keepalived.conf -p ${stage}/k.pid -r ${stage}/v.pid -c ${stage}/c.pid -l; fi`,
            "",
        ].join("\n"), { mode: 0o755 });
        const vip = env.API_VIP;
        const waitFor = (present: boolean, label: string) => [
            `for _ in $(seq 1 40); do`,
            `  if ip -4 addr show incant0 | grep -q " ${vip}/"; then [ ${present ? 1 : 0} = 1 ] && { echo "${label}"; break; }; else [ ${present ? 1 : 0} = 0 ] && { echo "${label}"; break; }; fi`,
            `  sleep 0.5`,
            `done`,
        ].join("\n");
        const script = [
            "set -u",
            // This node's network: a veth with the control plane's address (the kernel here has no dummy links).
            "ip link set lo up",
            "ip link add incant0 type veth peer name incant1 && ip link set incant1 up && ip link set incant0 up",
            `ip addr add ${address}/${prefix} dev incant0`,
            // The program's files at their own paths, on tmpfs mounts private to this namespace.
            "for d in /etc/incant /etc/keepalived /usr/local/sbin /etc/kubernetes; do mkdir -p $d && mount -t tmpfs -o mode=0755 tmpfs $d; done",
            `while read -r src mode dst; do install -D -m "$mode" "$src" "$dst"; done <<'EOF'\n${manifest.join("\n")}\nEOF`,
            `install -D -m 0644 ${stage}/ca.crt /etc/kubernetes/pki/ca.crt`,
            // The stand-in API server: /readyz answers 200 over TLS from the cluster CA.
            `(cd ${stage}/www && exec openssl s_server -quiet -accept ${address}:${env.API_SERVER_PORT} -cert ${stage}/api.crt -key ${stage}/api.key -WWW) > ${stage}/api.log 2>&1 &`,
            "API=$!",
            // Whatever happens, nothing started here outlives the script.
            `trap 'kill $API 2>/dev/null; [ -f ${stage}/k.pid ] && kill "$(cat ${stage}/k.pid)" 2>/dev/null; sleep 0.5' EXIT`,
            `PATH=${stage}/bin:$PATH /usr/local/sbin/incant-keepalived-setup && echo "setup ok: $(cat ${env.KEEPALIVED_INTERFACE_FILE})"`,
            waitFor(true, "address up while the API answers"),
            "kill $API",
            waitFor(false, "address gone after the API stopped"),
        ].join("\n");
        const r = await inNamespaces(script, 60_000);
        assert.match(r.output, /setup ok: \$INTERFACE=incant0/, r.output);
        assert.match(r.output, /address up while the API answers/, r.output);
        assert.match(r.output, /address gone after the API stopped/, r.output);
        assert.deepEqual(fs.readFileSync(path.join(stage, "systemctl.log"), "utf8").trim().split("\n"), ["systemctl enable keepalived", "systemctl restart keepalived"]);
    });

    it("keepalived itself rejects a broken configuration (the check above can fail)", function () {
        const doc = cloudConfigOf(run, "incant-prod-control-plane-0") as unknown as Doc;
        const conf = doc.write_files.find((f) => f.path === "/etc/keepalived/keepalived.conf")!.content;
        const broken = path.join(stage, "broken.conf");
        fs.writeFileSync(broken, conf.replace(/^(\s*)priority /m, "$1priorty "));
        const r = runTool("keepalived", ["-t", "-f", broken]);
        assert.notEqual(r.status, 0);
        assert.match(`${r.stdout}${r.stderr}`, /Unknown keyword 'priorty'/);
    });
});
