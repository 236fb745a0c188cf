/**
 * The offline engine's provider stand-ins: what each resource type would report after
 * creation. Keys and certificates are real (node:crypto and @peculiar/x509), so the program's
 * own cryptography (CA hashes, token signatures) runs for real on them.
 * Any invoke not listed here throws: a test never passes by accident.
 */
import "reflect-metadata"; // required by @peculiar/x509 (tsyringe)
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as x509 from "@peculiar/x509";
import * as pulumi from "@pulumi/pulumi";
import { offlineId, placeholderFloatingIp, seededBytes, seededString } from "./placeholders";

x509.cryptoProvider.set(crypto.webcrypto as unknown as Crypto);

type State = Record<string, unknown>;
type Inputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ECDSA = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

function pemToDer(pem: string): Buffer {
    return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

async function importPrivateKey(pem: string): Promise<{ key: CryptoKey; alg: typeof ECDSA | typeof RSA }> {
    const keyObject = crypto.createPrivateKey(pem);
    const alg = keyObject.asymmetricKeyType === "ec" ? ECDSA : RSA;
    const der = keyObject.export({ type: "pkcs8", format: "der" });
    const key = await crypto.webcrypto.subtle.importKey("pkcs8", der, alg, true, ["sign"]);
    return { key: key as unknown as CryptoKey, alg };
}

async function publicKeyFromPrivate(pem: string): Promise<{ key: CryptoKey; alg: typeof ECDSA | typeof RSA }> {
    const keyObject = crypto.createPublicKey(pem);
    const alg = keyObject.asymmetricKeyType === "ec" ? ECDSA : RSA;
    const der = keyObject.export({ type: "spki", format: "der" });
    const key = await crypto.webcrypto.subtle.importKey("spki", der, alg, true, ["verify"]);
    return { key: key as unknown as CryptoKey, alg };
}

function subjectName(subject: Inputs | undefined): string {
    const s = (Array.isArray(subject) ? subject[0] : subject) ?? {};
    const parts: string[] = [];
    if (s.commonName) parts.push(`CN=${s.commonName}`);
    for (const ou of [].concat(s.organizationalUnit ?? [])) parts.push(`OU=${ou}`);
    for (const o of [].concat(s.organization ?? [])) parts.push(`O=${o}`);
    return parts.join(", ") || "CN=offline";
}

function extensionsFor(inputs: Inputs, isCa: boolean): x509.Extension[] {
    const uses: string[] = inputs.allowedUses ?? [];
    let usage = 0;
    if (uses.includes("digital_signature")) usage |= x509.KeyUsageFlags.digitalSignature;
    if (uses.includes("key_encipherment")) usage |= x509.KeyUsageFlags.keyEncipherment;
    if (uses.includes("cert_signing")) usage |= x509.KeyUsageFlags.keyCertSign;
    if (uses.includes("crl_signing")) usage |= x509.KeyUsageFlags.cRLSign;
    const ext: x509.Extension[] = [new x509.BasicConstraintsExtension(isCa, undefined, true)];
    if (usage) ext.push(new x509.KeyUsagesExtension(usage, true));
    const eku: string[] = [];
    if (uses.includes("server_auth")) eku.push(x509.ExtendedKeyUsage.serverAuth);
    if (uses.includes("client_auth")) eku.push(x509.ExtendedKeyUsage.clientAuth);
    if (eku.length) ext.push(new x509.ExtendedKeyUsageExtension(eku));
    const names = [
        ...(inputs.dnsNames ?? []).map((v: string) => ({ type: "dns" as const, value: v })),
        ...(inputs.ipAddresses ?? []).map((v: string) => ({ type: "ip" as const, value: v })),
    ];
    if (names.length) ext.push(new x509.SubjectAlternativeNameExtension(names));
    return ext;
}

/**
 * A certificate's validity offline: as if made on 2026-01-01 and, when it has earlyRenewalHours,
 * renewed by a `pulumi up` each time it entered its renewal window since (the TLS provider plans
 * the replacement then: terraform-provider-tls common_cert.go modifyPlanIfCertificateReadyForRenewal).
 * So the render is the same from one renewal to the next, and never hands out an expired
 * certificate or one inside its window (the HTCondor tokens' clock, 90 days, would otherwise be
 * expired on the loopback pool).
 */
function validity(inputs: Inputs, now = Date.now()): { notBefore: Date; notAfter: Date } {
    const created = Date.UTC(2026, 0, 1);
    const period = Number(inputs.validityPeriodHours ?? 8760) * 3600_000;
    const renewEvery = period - Number(inputs.earlyRenewalHours ?? 0) * 3600_000;
    const renewals = inputs.earlyRenewalHours && renewEvery > 0 && now > created ? Math.floor((now - created) / renewEvery) : 0;
    const notBefore = new Date(created + renewals * renewEvery);
    return { notBefore, notAfter: new Date(notBefore.getTime() + period) };
}

async function privateKey(inputs: Inputs): Promise<State> {
    const algorithm = inputs.algorithm ?? "RSA";
    const pair = algorithm === "ECDSA"
        ? crypto.generateKeyPairSync("ec", { namedCurve: inputs.ecdsaCurve === "P384" ? "P-384" : "P-256" })
        : algorithm === "ED25519" ? crypto.generateKeyPairSync("ed25519")
            : crypto.generateKeyPairSync("rsa", { modulusLength: Number(inputs.rsaBits ?? 2048) });
    const privateKeyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const publicKeyPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    return { ...inputs, privateKeyPem, privateKeyPemPkcs8: privateKeyPem, publicKeyPem, publicKeyOpenssh: "", publicKeyFingerprintSha256: "" };
}

async function selfSignedCert(name: string, inputs: Inputs): Promise<State> {
    const { key, alg } = await importPrivateKey(inputs.privateKeyPem);
    const publicKey = await publicKeyFromPrivate(inputs.privateKeyPem);
    const subject = subjectName(inputs.subjects ?? inputs.subject);
    const cert = await x509.X509CertificateGenerator.create({
        serialNumber: seededBytes(name, 8).toString("hex"),
        subject, issuer: subject, ...validity(inputs),
        signingAlgorithm: alg, publicKey: publicKey.key, signingKey: key,
        extensions: extensionsFor(inputs, Boolean(inputs.isCaCertificate)),
    });
    return { ...inputs, certPem: cert.toString("pem") };
}

async function certRequest(inputs: Inputs): Promise<State> {
    // Carries the subject and the public key forward; LocallySignedCert reads them back.
    const publicKeyPem = crypto.createPublicKey(inputs.privateKeyPem).export({ type: "spki", format: "pem" }).toString();
    const request = Buffer.from(JSON.stringify({ publicKeyPem, inputs: { ...inputs, privateKeyPem: undefined } })).toString("base64");
    return { ...inputs, certRequestPem: `-----BEGIN OFFLINE CERTIFICATE REQUEST-----\n${request}\n-----END OFFLINE CERTIFICATE REQUEST-----\n` };
}

async function locallySignedCert(name: string, inputs: Inputs): Promise<State> {
    const request = JSON.parse(pemToDer(inputs.certRequestPem).toString());
    const ca = new x509.X509Certificate(inputs.caCertPem);
    const { key, alg } = await importPrivateKey(inputs.caPrivateKeyPem);
    const publicKey = await publicKeyFromPrivate(request.publicKeyPem);
    const cert = await x509.X509CertificateGenerator.create({
        serialNumber: seededBytes(name, 8).toString("hex"),
        subject: subjectName(request.inputs.subjects ?? request.inputs.subject), issuer: ca.subject, ...validity(inputs),
        signingAlgorithm: alg, publicKey: publicKey.key, signingKey: key,
        extensions: extensionsFor({ ...request.inputs, allowedUses: inputs.allowedUses }, Boolean(inputs.isCaCertificate)),
    });
    return { ...inputs, certPem: cert.toString("pem") };
}

/** The provider's validityStartTime/validityEndTime outputs (RFC 3339, UTC, whole seconds), of the offline validity. */
function validityTimes(inputs: Inputs): { validityStartTime: string; validityEndTime: string } {
    const { notBefore, notAfter } = validity(inputs);
    const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
    return { validityStartTime: rfc3339(notBefore), validityEndTime: rfc3339(notAfter) };
}

/** Inputs with every secret wrapper replaced by its value. */
function revealSecrets(value: any): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (Array.isArray(value)) return value.map(revealSecrets);
    if (value && typeof value === "object") {
        if (pulumi.runtime.isRpcSecret(value)) return revealSecrets(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
    }
    return value;
}

/** An OpenSSH ed25519 public key line ("ssh-ed25519 <base64 wire blob>"), stable per resource. */
function placeholderHostKey(name: string): string {
    const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(seededBytes(`hostkey:${name}`, 32))]);
    return `ssh-ed25519 ${blob.toString("base64")}\n`;
}

/** What `new pulumi.StackReference(name)` reads offline: another stack's outputs (examples/consumer tests). */
const stackReferences = new Map<string, { outputs: Record<string, unknown>; secretOutputNames: string[] }>();

export function setStackReference(name: string, outputs: Record<string, unknown>, secretOutputNames: string[]): void {
    stackReferences.set(name, { outputs, secretOutputNames });
}

/**
 * Keys and certificates cannot be derived from a seed with node:crypto (and ECDSA signatures are
 * randomised), so the offline engine keeps what it generated, like a real stack keeps them in its
 * state: the same resource with the same inputs gets the same key or certificate in every run on
 * this machine, and two renders diff only where the configuration changed. Throwaway material in
 * node_modules/.cache (never committed); INCANT_OFFLINE_CACHE=off disables it.
 */
const CACHE_DIR = path.resolve(__dirname, "..", "node_modules", ".cache", "incant-offline");

async function stable(type: string, name: string, inputs: Inputs, make: () => Promise<State>): Promise<State> {
    if (process.env.INCANT_OFFLINE_CACHE === "off") return make();
    const key = crypto.createHash("sha256").update(JSON.stringify([type, name, canonical(revealSecrets(inputs))])).digest("hex");
    const file = path.join(CACHE_DIR, `${key}.json`);
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as State;
    } catch {
        const state = await make();
        fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
        fs.writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
        return state;
    }
}

/** JSON with sorted keys, so equal inputs give equal cache keys. */
function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
    }
    return value;
}

/** What a resource reports after creation; inputs are echoed like a provider would. */
export async function mockState(type: string, name: string, inputs: Inputs): Promise<{ id: string; state: State }> {
    const id = offlineId(type.split(":").pop()!.toLowerCase(), name);
    switch (type) {
        case "openstack:compute/instance:Instance": {
            const ip = inputs.networks?.[0]?.fixedIpV4 ?? "";
            // Nova reports the port it made (or was given) for each network.
            return { id, state: { ...inputs, accessIpV4: ip, networks: (inputs.networks ?? []).map((n: Inputs, i: number) => ({ ...n, fixedIpV4: n.fixedIpV4 ?? ip, port: n.port ?? offlineId("port", `${name}-${i}`) })) } };
        }
        case "openstack:networking/floatingIp:FloatingIp":
            return { id, state: { ...inputs, address: placeholderFloatingIp(name) } };
        case "openstack:blockstorage/volume:Volume":
        case "openstack:blockstorage/volumeV3:VolumeV3":
            // A Cinder volume id is a UUID; its first 20 characters name /dev/disk/by-id/virtio-*.
            return { id: crypto.createHash("sha256").update(name).digest("hex").replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/, "$1-$2-$3-$4-$5"), state: inputs };
        case "openstack:compute/volumeAttach:VolumeAttach":
            // Nova's id is "<instance>/<volume>"; `device` is only Nova's guess at the guest name.
            return { id: `${inputs.instanceId}/${inputs.volumeId}`, state: { ...inputs, device: "/dev/vdb" } };
        case "tls:index/privateKey:PrivateKey":
            return { id, state: await stable(type, name, inputs, () => privateKey(inputs)) };
        // Keys arrive as secrets (wrapped values): sign with the plain values, echo the inputs as given.
        case "tls:index/selfSignedCert:SelfSignedCert":
            // The validity is part of the cache key: a renewal makes a new certificate.
            return { id, state: { ...await stable(type, name, { ...inputs, ...validityTimes(inputs) }, () => selfSignedCert(name, revealSecrets(inputs))), ...validityTimes(inputs), ...inputs } };
        case "tls:index/certRequest:CertRequest":
            return { id, state: { ...await certRequest(revealSecrets(inputs)), ...inputs } };
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { id, state: { ...await stable(type, name, { ...inputs, ...validityTimes(inputs) }, () => locallySignedCert(name, revealSecrets(inputs))), ...validityTimes(inputs), ...inputs } };
        case "openstack:identity/applicationCredential:ApplicationCredential":
            // Keystone generates the secret (86 URL-safe characters) unless one is given.
            return { id, state: { ...inputs, secret: inputs.secret ?? seededString(name, { length: 86, special: false }) } };
        case "random:index/randomString:RandomString":
        case "random:index/randomPassword:RandomPassword":
            return { id, state: { ...inputs, result: seededString(name, { length: Number(inputs.length), ...inputs }) } };
        case "random:index/randomBytes:RandomBytes": {
            const bytes = seededBytes(name, Number(inputs.length));
            return { id, state: { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") } };
        }
        case "random:index/randomId:RandomId": {
            const bytes = seededBytes(name, Number(inputs.byteLength));
            return { id, state: { ...inputs, hex: bytes.toString("hex"), b64Std: bytes.toString("base64"), b64Url: bytes.toString("base64url"), dec: BigInt(`0x${bytes.toString("hex")}`).toString() } };
        }
        case "docker:index/image:Image":
        case "docker-build:index:Image":
            return { id, state: { ...inputs, repoDigest: `${inputs.imageName ?? name}@sha256:${seededBytes(name, 32).toString("hex")}`, digest: `sha256:${seededBytes(name, 32).toString("hex")}` } };
        case "command:remote:Command":
            // A readiness gate that ends by printing the host's key (components/submit/ready.sh)
            // gets a stand-in ed25519 key, so what pins it can be checked offline.
            return { id, state: { ...inputs, stdout: String(inputs.stdin ?? "").includes("ssh_host_ed25519_key.pub") ? placeholderHostKey(name) : "", stderr: "" } };
        case "command:local:Command":
            return { id, state: { ...inputs, stdout: "", stderr: "" } };
        case "docker:index/remoteImage:RemoteImage": {
            // Docker reports the pulled image's id (sha256 of its config) and the repository digest.
            const digest = seededBytes(`image:${inputs.name}`, 32).toString("hex");
            const repository = String(inputs.name).replace(/:[^:/]+$/, "");
            return { id: `sha256:${digest}${inputs.name}`, state: { ...inputs, imageId: `sha256:${digest}`, repoDigest: `${repository}@sha256:${digest}` } };
        }
        case "pulumi:pulumi:StackReference": {
            const ref = stackReferences.get(String(inputs.name));
            if (!ref) throw new Error(`no offline outputs for stack ${inputs.name}: call setStackReference first`);
            return { id: String(inputs.name), state: { name: inputs.name, ...ref } };
        }
        default:
            if (type.startsWith("kubernetes:")) {
                const metadata = { ...(inputs.metadata ?? {}) };
                if (!metadata.name) metadata.name = name;
                return { id: metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name, state: { ...inputs, metadata } };
            }
            return { id, state: inputs };
    }
}

/** Invokes the program may make, with offline answers. */
export function mockCall(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    switch (args.token) {
        case "openstack:images/getImage:getImage":
            return { id: offlineId("image", String(args.inputs.name)), name: args.inputs.name };
        case "openstack:networking/getNetwork:getNetwork":
            return { id: offlineId("network", String(args.inputs.name)), name: args.inputs.name, external: true };
        default:
            throw new Error(`the offline engine has no answer for invoke ${args.token}: add one in offline/mocks.ts`);
    }
}
