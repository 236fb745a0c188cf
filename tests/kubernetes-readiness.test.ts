/**
 * The readiness gate against real HTTPS servers on 127.0.0.1. The CA and the server certificate
 * come from the same offline tls provider the program's cluster CA comes from (offline/mocks.ts:
 * real ECDSA keys, real X.509), and the server certificate names 127.0.0.1 as kubeadm's names the
 * floating IP.
 */
import { strict as assert } from "assert";
import * as https from "https";
import { AddressInfo } from "net";
import { apiServer, clientCert, makeCa, Pem, serverCert } from "./harness/pki";
import { ADMIN_BINDING_PATH, waitForApiServer } from "../components/kubernetes/readiness";

/**
 * An API server that authenticates client certificates against `ca` as kube-apiserver does:
 * /readyz for everyone; the admin binding 401 without a verified certificate, 403 while
 * `bound(n)` is false (kubeadm has not made the binding yet), then 200.
 */
async function authorizingApiServer(cert: Pem, ca: Pem, bound: (n: number) => boolean) {
    let bindingRequests = 0;
    const groups: string[] = [];
    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
        if (req.url === "/readyz") { res.writeHead(200); res.end("ok"); return; }
        const socket = req.socket as import("tls").TLSSocket;
        if (req.url !== ADMIN_BINDING_PATH) { res.writeHead(404); res.end(); return; }
        if (!socket.authorized) { res.writeHead(401); res.end("Unauthorized"); return; }
        const o = socket.getPeerCertificate().subject.O;
        groups.push(Array.isArray(o) ? o.join(",") : String(o));
        const ok = bound(bindingRequests++);
        res.writeHead(ok ? 200 : 403);
        res.end(ok ? "{}" : "clusterrolebindings.rbac.authorization.k8s.io \"kubeadm:cluster-admins\" is forbidden");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        endpoint: `https://127.0.0.1:${port}`,
        bindingRequests: () => bindingRequests,
        groups,
        close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
}

describe("readiness gate (waitForApiServer) on 127.0.0.1", function () {
    this.timeout(30_000);
    let ca: Pem;
    let otherCa: Pem;
    let cert: Pem;
    before(async () => {
        ca = await makeCa("readiness-ca");
        otherCa = await makeCa("readiness-other-ca");
        cert = await serverCert("readiness-apiserver", ca, ["127.0.0.1"]);
    });

    it("waits while /readyz answers 503, then resolves once it answers 200", async () => {
        const server = await apiServer(cert, (n) => (n < 3 ? 503 : 200));
        const log: string[] = [];
        try {
            await waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, timeoutMs: 10_000, intervalMs: 50, log: (m) => log.push(m) });
            assert.equal(server.requests(), 4, "three 503 answers, then the 200");
            assert.ok(log.some((m) => m.includes("HTTP 503") && m.includes("[-]etcd failed")), log.join("\n"));
            assert.ok(log.some((m) => m.includes("is ready")), log.join("\n"));
        } finally {
            await server.close();
        }
    });

    it("keeps trying while nothing listens yet (connection refused), then resolves", async () => {
        const probe = await apiServer(cert, () => 200);
        const endpoint = probe.endpoint;
        await probe.close();
        const port = Number(new URL(endpoint).port);
        const log: string[] = [];
        const late = new Promise<https.Server>((resolve) => setTimeout(() => {
            const s = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => { res.writeHead(200); res.end("ok"); });
            s.listen(port, "127.0.0.1", () => resolve(s));
        }, 300));
        try {
            await waitForApiServer({ endpoint, caPem: ca.certPem, timeoutMs: 10_000, intervalMs: 50, log: (m) => log.push(m) });
            assert.ok(log.some((m) => m.includes("ECONNREFUSED")), log.join("\n"));
        } finally {
            const s = await late;
            s.closeAllConnections();
            await new Promise((r) => s.close(r));
        }
    });

    it("refuses a server whose certificate another CA signed, at once", async () => {
        const server = await apiServer(cert, () => 200);
        const started = Date.now();
        try {
            await assert.rejects(
                waitForApiServer({ endpoint: server.endpoint, caPem: otherCa.certPem, timeoutMs: 10_000, intervalMs: 50 }),
                /certificate the cluster CA does not vouch for/);
            assert.ok(Date.now() - started < 5_000, "no waiting for a server that is not ours");
        } finally {
            await server.close();
        }
    });

    it("refuses a certificate from our CA that does not name the address (no floating IP in the SANs)", async () => {
        const wrongName = await serverCert("readiness-apiserver-elsewhere", ca, ["192.0.2.10"]);
        const server = await apiServer(wrongName, () => 200);
        try {
            await assert.rejects(
                waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, timeoutMs: 10_000, intervalMs: 50 }),
                /ERR_TLS_CERT_ALTNAME_INVALID/);
        } finally {
            await server.close();
        }
    });

    it("gives up after the timeout with the last answer and where to look", async () => {
        const server = await apiServer(cert, () => 503);
        const started = Date.now();
        try {
            await assert.rejects(
                waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, timeoutMs: 2_000, intervalMs: 100 }),
                (e: Error) => /did not answer \/readyz within 2 s \(incant:readinessTimeoutSeconds\)/.test(e.message)
                    && /last answer: HTTP 503/.test(e.message) && /cloud-init-output\.log/.test(e.message));
            // It waited the whole timeout and probed more than once; no upper bound on a loaded machine
            // (the gate's own deadline is what is tested, not this machine's speed).
            const elapsed = Date.now() - started;
            assert.ok(elapsed >= 1_900, `gave up after ${elapsed} ms, before its timeout`);
            assert.ok(server.requests() >= 2, `probed ${server.requests()} times`);
        } finally {
            await server.close();
        }
    });

    it("with the admin certificate: waits through 403 until kubeadm has bound kubeadm:cluster-admins, then resolves", async () => {
        const admin = await clientCert("readiness-admin", ca, "kubeadm:cluster-admins");
        const server = await authorizingApiServer(cert, ca, (n) => n >= 2);
        const log: string[] = [];
        try {
            await waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, client: admin, timeoutMs: 10_000, intervalMs: 50, log: (m) => log.push(m) });
            assert.equal(server.bindingRequests(), 3, "two 403 answers, then the 200");
            assert.deepEqual([...new Set(server.groups)], ["kubeadm:cluster-admins"], "the gate presents the admin certificate");
            assert.ok(log.some((m) => m.includes("HTTP 403") && m.includes("forbidden")), log.join("\n"));
        } finally {
            await server.close();
        }
    });

    it("with an admin certificate the server does not accept (401): fails at once", async () => {
        const stranger = await clientCert("readiness-stranger", otherCa, "kubeadm:cluster-admins");
        const server = await authorizingApiServer(cert, ca, () => true);
        const started = Date.now();
        try {
            await assert.rejects(
                waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, client: stranger, timeoutMs: 10_000, intervalMs: 50 }),
                /does not accept the program's admin client certificate \(HTTP 401\)/);
            assert.ok(Date.now() - started < 5_000, "no waiting for a certificate that will never be accepted");
        } finally {
            await server.close();
        }
    });

    it("with the admin certificate: gives up at the deadline while the binding stays missing, and says so", async () => {
        const admin = await clientCert("readiness-admin", ca, "kubeadm:cluster-admins");
        const server = await authorizingApiServer(cert, ca, () => false);
        try {
            await assert.rejects(
                // 2 s: enough for the /readyz phase to pass on a loaded machine before the binding phase times out.
                waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, client: admin, timeoutMs: 2_000, intervalMs: 100 }),
                /did not authorize the program's admin certificate \(kubeadm:cluster-admins\) within 2 s.*last answer: HTTP 403/s);
        } finally {
            await server.close();
        }
    });
});
