/**
 * The cluster's secrets, made by the program so that nodes join with no SSH back-channel:
 *
 * - the cluster CA (key + certificate): kubeadm init reuses a CA it finds in /etc/kubernetes/pki
 *   ("kubeadm init" docs, "Using custom certificates"), so workers can pin its public-key hash
 *   and the program can sign its own admin client certificate;
 * - the other keys every control-plane node must share (service-account key, front-proxy CA,
 *   etcd CA): pre-placed on each control plane, the "manual certificate distribution" of the
 *   kubeadm HA guide, so extra control planes join with no `--upload-certs` secret in the cluster;
 * - kubeadm init's own bootstrap token (deleted after init: join-tokens.ts) and the key that
 *   encrypts Secrets at rest;
 * - the program's admin client certificate (group kubeadm:cluster-admins).
 *
 * Keys are ECDSA P-256 (short, fast, accepted by every Kubernetes component) except the
 * service-account signing key, kept RSA as kubeadm itself generates it.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { sensitive } from "../secrets";
import { randomToken } from "./join-tokens";

/** The group kubeadm (1.29+) binds to cluster-admin; system:masters stays the break-glass identity. */
export const CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins";

/** `[a-z0-9]{6}.[a-z0-9]{16}`: kubeadm's bootstrap token format (id "." secret). */
export const BOOTSTRAP_TOKEN_RE = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/**
 * kubeadm's discovery hash of a CA: "sha256:" + hex SHA-256 of the DER SubjectPublicKeyInfo
 * (kubeadm join docs, `--discovery-token-ca-cert-hash`).
 */
export function caCertHash(caCertPem: string): string {
    const spki = new crypto.X509Certificate(caCertPem).publicKey.export({ type: "spki", format: "der" });
    return `sha256:${crypto.createHash("sha256").update(spki).digest("hex")}`;
}

/** A PEM certificate and its private key, both secret where the key is concerned. */
export interface KeyPair {
    certPem: pulumi.Output<string>;
    keyPem: pulumi.Output<string>;
}

/** Files every control plane finds in /etc/kubernetes/pki before kubeadm runs (paths relative to it). */
export type SharedPki = {
    "ca.crt": pulumi.Output<string>;
    "ca.key": pulumi.Output<string>;
    "sa.key": pulumi.Output<string>;
    "sa.pub": pulumi.Output<string>;
    "front-proxy-ca.crt": pulumi.Output<string>;
    "front-proxy-ca.key": pulumi.Output<string>;
    "etcd/ca.crt": pulumi.Output<string>;
    "etcd/ca.key": pulumi.Output<string>;
};

export interface ClusterPki {
    /** The cluster CA certificate (public). */
    caCertPem: pulumi.Output<string>;
    shared: SharedPki;
    /** The program's admin client certificate and key. */
    admin: KeyPair;
    /** kubeadm init's bootstrap token `id.secret` (secret) and its public id. */
    initToken: { id: pulumi.Output<string>; token: pulumi.Output<string> };
    /** 32 random bytes, base64, for the secretbox encryption-at-rest provider (secret). */
    encryptionKey: pulumi.Output<string>;
}

export interface ClusterPkiArgs {
    /** Shown in certificate subjects, e.g. "incant-dev". */
    clusterName: string;
}

/** CAs live ten years like kubeadm's own; leaf certificates one year, renewed by `pulumi up` in the last month. */
const CA_HOURS = 10 * 365 * 24;
const ADMIN_HOURS = 365 * 24;
const ADMIN_RENEW_HOURS = 30 * 24;

/** Key uses of the cluster's CAs. */
const CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"];

/**
 * A self-signed CA valid CA_HOURS: an ECDSA P-256 key `<name>-key` and the certificate `<name>`
 * (also the HTCondor pool's CA, with its own subject and uses).
 */
export function selfSignedCa(name: string, subject: tls.types.input.SelfSignedCertSubject, parent: pulumi.Resource,
    allowedUses: string[] = CA_USES): KeyPair {
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
    const cert = new tls.SelfSignedCert(name, {
        privateKeyPem: key.privateKeyPem,
        subject,
        isCaCertificate: true,
        validityPeriodHours: CA_HOURS,
        allowedUses,
    }, { parent });
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
}

export function createClusterPki(name: string, args: ClusterPkiArgs, parent: pulumi.Resource): ClusterPki {
    const ca = selfSignedCa(`${name}-ca`, { commonName: `${args.clusterName}-ca` }, parent);
    const frontProxy = selfSignedCa(`${name}-front-proxy-ca`, { commonName: `${args.clusterName}-front-proxy-ca` }, parent);
    const etcd = selfSignedCa(`${name}-etcd-ca`, { commonName: `${args.clusterName}-etcd-ca` }, parent);
    const serviceAccount = new tls.PrivateKey(`${name}-sa`, { algorithm: "RSA", rsaBits: 2048 }, { parent });

    // The program's kubectl identity: a client certificate signed by the cluster CA.
    const adminKey = new tls.PrivateKey(`${name}-admin-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent });
    const adminCsr = new tls.CertRequest(`${name}-admin`, {
        privateKeyPem: adminKey.privateKeyPem,
        subject: { commonName: `${args.clusterName}-pulumi-admin`, organization: CLUSTER_ADMINS_GROUP },
    }, { parent });
    const adminCert = new tls.LocallySignedCert(`${name}-admin`, {
        certRequestPem: adminCsr.certRequestPem,
        caPrivateKeyPem: ca.keyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: ADMIN_HOURS,
        earlyRenewalHours: ADMIN_RENEW_HOURS,
        allowedUses: ["digital_signature", "key_encipherment", "client_auth"],
    }, { parent });

    // kubeadm init's own token: the first control plane deletes it after init (join-tokens.ts).
    const initToken = randomToken(`${name}-token`, parent);

    const encryption = new random.RandomBytes(`${name}-secrets-encryption`, { length: 32 }, { parent });

    return {
        caCertPem: ca.certPem,
        shared: {
            "ca.crt": ca.certPem,
            "ca.key": ca.keyPem,
            "sa.key": pulumi.secret(serviceAccount.privateKeyPem),
            "sa.pub": serviceAccount.publicKeyPem,
            "front-proxy-ca.crt": frontProxy.certPem,
            "front-proxy-ca.key": frontProxy.keyPem,
            "etcd/ca.crt": etcd.certPem,
            "etcd/ca.key": etcd.keyPem,
        },
        admin: { certPem: adminCert.certPem, keyPem: pulumi.secret(adminKey.privateKeyPem) },
        initToken: { id: initToken.id, token: initToken.token },
        encryptionKey: pulumi.secret(encryption.base64.apply(sensitive)),
    };
}
