/**
 * Renewal of kubeadm's one-year certificates on the control planes: what the program installs
 * (script, service, timer, enabled after the join), the units through systemd-analyze, and the
 * script itself run against real certificates (openssl) with stand-in kubeadm and crictl whose
 * "running" pods are the manifests kubelet would see.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cloudConfigOf } from "../offline/artifacts";
import { INSTANCE, ProgramRun, ROOT, runProgram } from "./harness/program";
import { requireTool } from "./harness/tools";
import { verifyUnitsInRoot } from "./harness/systemd";
import { renderEnvFile } from "../components/compute/cloudinit";
import { renderIni } from "../components/compute/ini";
import { certificateRenewalUnits, NODE_PATHS } from "../components/kubernetes/nodes";

interface NodeDoc { runcmd: string[][]; write_files: { path: string; content: string; permissions?: string }[] }
const nodeDoc = (run: ProgramRun, vm: string) => cloudConfigOf(run, vm) as unknown as NodeDoc;
const TIMER = "incant-renew-certificates.timer";
const SERVICE = "incant-renew-certificates.service";

describe("kubeadm certificate renewal: what the control planes get", () => {
    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every control plane installs the script and the daily timer, enabled after init/join; workers do not`, async () => {
            const run = await runProgram(stack);
            const vms = run.ofType(INSTANCE).map((i) => String(i.inputs.name));
            const controlPlanes = vms.filter((n) => n.includes("-control-plane-"));
            assert.ok(controlPlanes.length >= 1);
            for (const name of controlPlanes) {
                const doc = nodeDoc(run, name);
                const byPath = Object.fromEntries(doc.write_files.map((f) => [f.path, f]));
                assert.equal(byPath[NODE_PATHS.renewCertificates]?.permissions, "0755", name);
                assert.ok(byPath[`/etc/systemd/system/${TIMER}`] && byPath[`/etc/systemd/system/${SERVICE}`], name);
                assert.deepEqual(doc.runcmd.at(-1), ["systemctl", "enable", "--now", TIMER], name);
                assert.ok(doc.runcmd.findIndex((c) => c[0] === NODE_PATHS.bootstrap) < doc.runcmd.length - 1, "the timer starts after kubeadm");
                const env = byPath["/etc/incant/kubernetes.env"].content;
                assert.match(env, /^CERT_RENEW_BEFORE_DAYS='60'$/m);
            }
            const worker = nodeDoc(run, vms.find((n) => n.includes("-worker-"))!);
            assert.ok(!worker.write_files.some((f) => f.path.includes("renew-certificates")));
            assert.ok(!worker.runcmd.some((c) => c.includes(TIMER)));
        });
    }

    it("the service and timer pass systemd-analyze verify; a broken timer does not", function () {
        requireTool(this, "systemd-analyze");
        const files = (units: ReturnType<typeof certificateRenewalUnits>) => Object.fromEntries(Object.entries(units)
            .map(([unit, sections]) => [`/etc/systemd/system/${unit}`, renderIni(sections, { separator: "=" })]));
        const ok = verifyUnitsInRoot(files(certificateRenewalUnits()), [TIMER, SERVICE]);
        assert.equal(ok.status, 0, ok.output);
        const broken = certificateRenewalUnits();
        broken[TIMER][1].entries.OnCalendar = "every day";
        const bad = verifyUnitsInRoot(files(broken), [TIMER]);
        assert.notEqual(bad.status, 0);
        assert.match(bad.output, /calendar/i);
    });
});

const PODS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/** A scratch control plane: PKI and kubeconfigs with real certificates, four static pod manifests. */
function scratchControlPlane(o: { apiserverDays: number; adminDays: number; stuckPod?: string; renewFails?: boolean; stopWhileAside?: boolean }) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-certs-"));
    const k8s = path.join(dir, "k8s");
    for (const d of ["bin", "k8s/pki/etcd", "k8s/manifests", "certs"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
    const cert = (file: string, days: number) => {
        const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=incant-test", "-days", String(days), "-keyout", `${file}.key`, "-out", file], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    };
    cert(path.join(k8s, "pki/apiserver.crt"), o.apiserverDays);
    cert(path.join(k8s, "pki/etcd/server.crt"), 365);
    cert(path.join(dir, "certs/fresh.crt"), 365);
    cert(path.join(dir, "certs/admin.crt"), o.adminDays);
    const adminPem = fs.readFileSync(path.join(dir, "certs/admin.crt"));
    fs.writeFileSync(path.join(k8s, "admin.conf"), `apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: ${adminPem.toString("base64")}\n`);
    for (const pod of PODS) fs.writeFileSync(path.join(k8s, "manifests", `${pod}.yaml`), `# static pod ${pod}\nkind: Pod\n`);
    const calls = path.join(dir, "calls");
    // kubeadm: records the call; `certs renew all` replaces the leaf certificate as kubeadm would.
    fs.writeFileSync(path.join(dir, "bin/kubeadm"), [
        "#!/bin/bash",
        `echo "kubeadm $*" >> "${calls}"`,
        o.renewFails ? "exit 1" : `cp "${dir}/certs/fresh.crt" "${k8s}/pki/apiserver.crt"`,
        "",
    ].join("\n"), { mode: 0o755 });
    // crictl: a pod runs while kubelet sees its manifest (the stuck pod never runs again).
    fs.writeFileSync(path.join(dir, "bin/crictl"), [
        "#!/bin/bash",
        `pod=\${3#^}; pod=\${pod%$}`,
        // systemctl stop while a manifest is aside: TERM to the script (the parent of $(...)'s subshell).
        ...(o.stopWhileAside ? [`[ -f "${k8s}/manifests/$pod.yaml" ] || kill -TERM "$(ps -o ppid= -p $PPID)"`] : []),
        `if [ -f "${k8s}/manifests/$pod.yaml" ] && [ "$pod" != "${o.stuckPod ?? ""}" ]; then echo "crictl $pod running" >> "${calls}"; echo 0123abcd; else echo "crictl $pod stopped" >> "${calls}"; fi`,
        "",
    ].join("\n"), { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "bin/logger"), "#!/bin/sh\n", { mode: 0o755 });
    const env = path.join(dir, "kubernetes.env");
    fs.writeFileSync(env, renderEnvFile({ K8S_DIR: k8s, CERT_RENEW_BEFORE_DAYS: 60, CERT_RESTART_TIMEOUT_SECONDS: 0 }));
    const script = path.join(ROOT, "components/kubernetes/scripts/renew-certificates.sh");
    return {
        k8s,
        run: () => spawnSync("bash", [script, env], { encoding: "utf8", timeout: 60_000, env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } }),
        calls: () => fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [],
        manifests: () => fs.readdirSync(path.join(k8s, "manifests")).sort(),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

describe("kubeadm certificate renewal script (scripts/renew-certificates.sh) against real certificates", () => {
    const made: { cleanup(): void }[] = [];
    const node = (o: Parameters<typeof scratchControlPlane>[0]) => {
        const n = scratchControlPlane(o);
        made.push(n);
        return n;
    };
    beforeEach(function () { requireTool(this, "openssl"); });
    after(() => made.forEach((n) => n.cleanup()));

    it("does nothing while every certificate has more than 60 days left", () => {
        const n = node({ apiserverDays: 365, adminDays: 365 });
        const r = n.run();
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /nothing to do/);
        assert.deepEqual(n.calls(), []);
    });

    it("renews when the API server's certificate expires within 60 days, then restarts each static pod in turn", () => {
        const n = node({ apiserverDays: 30, adminDays: 365 });
        const before = PODS.map((p) => fs.readFileSync(path.join(n.k8s, "manifests", `${p}.yaml`), "utf8"));
        const r = n.run();
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /renewing: apiserver expire\(s\) within 60 days/);
        const calls = n.calls();
        assert.equal(calls[0], "kubeadm certs renew all");
        // Each pod is seen stopped, then running again, before the next one is touched.
        assert.deepEqual(calls.slice(1), PODS.flatMap((p) => [`crictl ${p} stopped`, `crictl ${p} running`]));
        assert.deepEqual(n.manifests(), PODS.map((p) => `${p}.yaml`));
        assert.deepEqual(PODS.map((p) => fs.readFileSync(path.join(n.k8s, "manifests", `${p}.yaml`), "utf8")), before);
        assert.ok(!fs.existsSync(path.join(n.k8s, "incant-restarting")));
        // The renewed certificate is valid: a second run has nothing to do.
        assert.match(n.run().stdout, /nothing to do/);
    });

    it("renews when only the admin kubeconfig's client certificate is expiring", () => {
        const n = node({ apiserverDays: 365, adminDays: 10 });
        const r = n.run();
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /renewing: admin\.conf/);
        assert.equal(n.calls()[0], "kubeadm certs renew all");
    });

    it("puts the manifest back and fails with a FAILED line when a pod does not run again", () => {
        const n = node({ apiserverDays: 30, adminDays: 365, stuckPod: "kube-apiserver" });
        const r = n.run();
        assert.equal(r.status, 1);
        assert.match(r.stdout, /FAILED: kube-apiserver is not running again/);
        assert.deepEqual(n.manifests(), PODS.map((p) => `${p}.yaml`), "no manifest left aside");
    });

    it("puts the manifest back when stopped (SIGTERM) while a pod is restarting", () => {
        const n = node({ apiserverDays: 30, adminDays: 365, stopWhileAside: true });
        const r = n.run();
        assert.equal(r.status, 143, r.stdout + r.stderr);
        assert.deepEqual(n.manifests(), PODS.map((p) => `${p}.yaml`), "no manifest left aside");
    });

    it("moves no manifest when kubeadm cannot renew", () => {
        const n = node({ apiserverDays: 30, adminDays: 365, renewFails: true });
        const r = n.run();
        assert.equal(r.status, 1);
        assert.match(r.stdout, /FAILED: kubeadm certs renew all failed/);
        assert.deepEqual(n.calls(), ["kubeadm certs renew all"]);
        assert.deepEqual(n.manifests(), PODS.map((p) => `${p}.yaml`));
    });

    it("restores a manifest an interrupted run left aside, even when nothing is due", () => {
        const n = node({ apiserverDays: 365, adminDays: 365 });
        fs.mkdirSync(path.join(n.k8s, "incant-restarting"));
        fs.renameSync(path.join(n.k8s, "manifests/kube-apiserver.yaml"), path.join(n.k8s, "incant-restarting/kube-apiserver.yaml"));
        const r = n.run();
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /restoring kube-apiserver\.yaml/);
        assert.deepEqual(n.manifests(), PODS.map((p) => `${p}.yaml`));
    });
});
