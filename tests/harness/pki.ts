/**
 * Real X.509 material for tests that run TLS servers on 127.0.0.1, made by the same offline tls
 * provider the program's certificates come from (offline/mocks.ts: real ECDSA keys, real X.509).
 */
import * as https from "https";
import { AddressInfo } from "net";
import { mockState } from "../../offline/mocks";

export interface Pem { certPem: string; keyPem: string }

export async function makeCa(name: string): Promise<Pem> {
    const key = (await mockState("tls:index/privateKey:PrivateKey", `${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" })).state;
    const cert = (await mockState("tls:index/selfSignedCert:SelfSignedCert", name, {
        privateKeyPem: key.privateKeyPem, subject: { commonName: name }, isCaCertificate: true,
        validityPeriodHours: 87600, allowedUses: ["cert_signing", "digital_signature", "key_encipherment"],
    })).state;
    return { certPem: String(cert.certPem), keyPem: String(key.privateKeyPem) };
}

/** A serving certificate signed by `ca`, as kubeadm signs apiserver.crt with the cluster CA. */
export async function serverCert(name: string, ca: Pem, ipAddresses: string[]): Promise<Pem> {
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

/** A client certificate signed by `ca` in group `organization`, as the program's admin certificate. */
export async function clientCert(name: string, ca: Pem, organization: string): Promise<Pem> {
    const key = (await mockState("tls:index/privateKey:PrivateKey", `${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" })).state;
    const csr = (await mockState("tls:index/certRequest:CertRequest", name, {
        privateKeyPem: key.privateKeyPem, subject: { commonName: name, organization },
    })).state;
    const cert = (await mockState("tls:index/locallySignedCert:LocallySignedCert", name, {
        certRequestPem: csr.certRequestPem, caCertPem: ca.certPem, caPrivateKeyPem: ca.keyPem,
        validityPeriodHours: 8760, allowedUses: ["digital_signature", "key_encipherment", "client_auth"],
    })).state;
    return { certPem: String(cert.certPem), keyPem: String(key.privateKeyPem) };
}

/** An HTTPS server answering /readyz with the given status for each successive request. */
export async function apiServer(cert: Pem, answer: (n: number) => number): Promise<{ endpoint: string; requests: () => number; close: () => Promise<void> }> {
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
