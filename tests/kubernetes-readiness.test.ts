/**
 * The readiness gate against real HTTPS servers on 127.0.0.1. The CA and the server certificate
 * come from the same offline tls provider the program's cluster CA comes from (offline/mocks.ts:
 * real ECDSA keys, real X.509), and the server certificate names 127.0.0.1 as kubeadm's names the
 * floating IP.
 */
import { strict as assert } from "assert";
import * as https from "https";
import { AddressInfo } from "net";
import { mockState } from "../offline/mocks";
import { waitForApiServer } from "../components/kubernetes/readiness";

interface Pem { certPem: string; keyPem: string }

async function makeCa(name: string): Promise<Pem> {
    const key = (await mockState("tls:index/privateKey:PrivateKey", `${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" })).state;
    const cert = (await mockState("tls:index/selfSignedCert:SelfSignedCert", name, {
        privateKeyPem: key.privateKeyPem, subject: { commonName: name }, isCaCertificate: true,
        validityPeriodHours: 87600, allowedUses: ["cert_signing", "digital_signature", "key_encipherment"],
    })).state;
    return { certPem: String(cert.certPem), keyPem: String(key.privateKeyPem) };
}

/** A serving certificate signed by `ca`, as kubeadm signs apiserver.crt with the cluster CA. */
async function serverCert(name: string, ca: Pem, ipAddresses: string[]): Promise<Pem> {
    const key = (await mockState("tls:index/privateKey:PrivateKey", `${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" })).state;
    const csr = (await mockState("tls:index/certRequest:CertRequest", name, {
        privateKeyPem: key.privateKeyPem, subject: { commonName: "kube-apiserver" }, ipAddresses,
    })).state;
    const cert = (await mockState("tls:index/locallySignedCert:LocallySignedCert", name, {
        certRequestPem: csr.certRequestPem, caCertPem: ca.certPem, caPrivateKeyPem: ca.keyPem,
        validityPeriodHours: 87600, allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
    })).state;
    return { certPem: `${String(cert.certPem)}\n${ca.certPem}`, keyPem: String(key.privateKeyPem) };
}

/** An HTTPS server answering /readyz with the given status for each successive request. */
async function apiServer(cert: Pem, answer: (n: number) => number): Promise<{ endpoint: string; requests: () => number; close: () => Promise<void> }> {
    let n = 0;
    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
        const status = req.url === "/readyz" ? answer(n++) : 404;
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(status === 200 ? "ok" : "[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        endpoint: `https://127.0.0.1:${port}`,
        requests: () => n,
        close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
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
                waitForApiServer({ endpoint: server.endpoint, caPem: ca.certPem, timeoutMs: 600, intervalMs: 100 }),
                (e: Error) => /did not answer \/readyz within 1 s \(incant:readinessTimeoutSeconds\)/.test(e.message)
                    && /last answer: HTTP 503/.test(e.message) && /cloud-init-output\.log/.test(e.message));
            const elapsed = Date.now() - started;
            assert.ok(elapsed >= 400 && elapsed < 3_000, `gave up after ${elapsed} ms`);
            assert.ok(server.requests() >= 3, `probed ${server.requests()} times`);
        } finally {
            await server.close();
        }
    });
});
