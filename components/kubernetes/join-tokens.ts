/**
 * Join tokens: no long-lived token anywhere, each join with its own.
 *
 *   first control plane   kubeadm init's token (INIT_TOKEN_TTL), deleted by the node right after init
 *   other control planes  mint their own at join time: they hold the cluster CA, sign a short-lived
 *                         admin certificate with it and run `kubeadm token create` (scripts/
 *                         kubeadm-bootstrap.sh), so a control plane replaced a year later joins too
 *   workers               one token per worker VM, registered by the program as a bootstrap-token
 *                         Secret (through the cluster's provider) before the VM exists, expiring
 *                         WORKER_TOKEN_LIFETIME_HOURS later; a worker added or replaced later gets a
 *                         new one (its random parts follow the VM's replacement triggers: keepers)
 *
 * Bootstrap tokens are Secrets of type bootstrap.kubernetes.io/token in kube-system, named
 * bootstrap-token-<id>; the controller-manager's tokencleaner deletes them once expired
 * (https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/).
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { sensitive } from "../secrets";

/** kubeadm's format (kubeadm token create --help): the id is public, the secret is not. */
export const TOKEN_ID_RE = /^[a-z0-9]{6}$/;
export const TOKEN_SECRET_RE = /^[a-z0-9]{16}$/;

/**
 * The group kubeadm's own bootstrap RBAC is bound to (kubeadm init phase bootstrap-token: CSR
 * creation, CSR auto-approval, reading kubeadm-config and kubelet-config): a token outside it
 * authenticates but cannot join.
 */
export const NODE_JOIN_GROUP = "system:bootstrappers:kubeadm:default-node-token";

/**
 * How long a worker's token stays valid after the program registers it: Nova's build plus node
 * setup plus the join's own deadline (JOIN_DEADLINE_SECONDS, 1 h) fit with room to spare.
 */
export const WORKER_TOKEN_LIFETIME_HOURS = 3;

/** The init token's TTL: kubeadm-bootstrap.sh deletes it right after init; this bounds a failed delete. */
export const INIT_TOKEN_TTL = "1h0m0s";

/**
 * In a worker's user-data template (rendered once for all workers), where its own token goes; in a
 * control-plane join config, what the node replaces with the token it mints.
 */
export const WORKER_TOKEN_STANDIN = "incant-worker-join-token-standin";
export const MINTED_TOKEN_PLACEHOLDER = "incant-minted-at-join-time";

export const BOOTSTRAP_TOKEN_TYPE = "bootstrap.kubernetes.io/token";

export interface BootstrapTokenSecret {
    apiVersion: "v1";
    kind: "Secret";
    metadata: { name: string; namespace: "kube-system" };
    type: typeof BOOTSTRAP_TOKEN_TYPE;
    stringData: Record<string, string>;
}

/** The Secret that makes `id.secret` a join token valid until `expiration`. */
export function bootstrapTokenSecret(t: { id: string; secret: string; expiration: Date; description: string }): BootstrapTokenSecret {
    if (!TOKEN_ID_RE.test(t.id)) throw new Error(`bootstrap token id "${t.id}" is not [a-z0-9]{6}`);
    if (!TOKEN_SECRET_RE.test(t.secret)) throw new Error("bootstrap token secret is not [a-z0-9]{16}");
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `bootstrap-token-${t.id}`, namespace: "kube-system" },
        type: BOOTSTRAP_TOKEN_TYPE,
        stringData: {
            "token-id": t.id,
            "token-secret": t.secret,
            // RFC 3339 in UTC, whole seconds (what kubeadm writes).
            expiration: t.expiration.toISOString().replace(/\.\d{3}Z$/, "Z"),
            description: t.description,
            // Authentication for the kubelet's TLS bootstrap, signing for kubeadm's discovery (cluster-info JWS).
            "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true",
            "auth-extra-groups": NODE_JOIN_GROUP,
        },
    };
}

/** A worker's user-data from the workers' template: its own token where the stand-in is. */
export function fillWorkerToken(template: string, token: string): string {
    if (!template.includes(WORKER_TOKEN_STANDIN)) throw new Error("worker user-data template has no stand-in for the join token");
    return template.split(WORKER_TOKEN_STANDIN).join(token);
}

/**
 * A digest of what replaces a VM, for the token's keepers: when the VM is replaced (new user-data,
 * image or flavor) its token is drawn again, so the new VM joins with a fresh one.
 */
export function replacementDigest(parts: Record<string, string>): string {
    const text = Object.keys(parts).sort().map((k) => `${k}=${parts[k]}`).join("\n");
    return crypto.createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function tokenPart(name: string, length: number, keepers: pulumi.Input<Record<string, pulumi.Input<string>>> | undefined,
    parent: pulumi.Resource, secret: boolean): random.RandomString {
    return new random.RandomString(name, { length, upper: false, special: false, lower: true, numeric: true, keepers },
        // The secret half is encrypted in the state file too; the id is public by design (kubeadm docs).
        { parent, additionalSecretOutputs: secret ? ["result"] : [] });
}

/** A token's two random parts; `keepers` draws them again when a VM's replacement triggers change. */
export function randomToken(name: string, parent: pulumi.Resource, keepers?: pulumi.Input<Record<string, pulumi.Input<string>>>):
    { id: pulumi.Output<string>; secret: pulumi.Output<string>; token: pulumi.Output<string> } {
    // Drawn separately so each part has exactly its alphabet and length.
    const id = tokenPart(`${name}-id`, 6, keepers, parent, false).result;
    const secret = pulumi.secret(tokenPart(`${name}-secret`, 16, keepers, parent, true).result);
    return { id, secret, token: pulumi.secret(pulumi.interpolate`${id}.${secret}`.apply(sensitive)) };
}

export interface WorkerJoinTokenArgs {
    /** The worker VM's name (in the token's description). */
    node: string;
    /** The VM's replacement triggers (replacementDigest of its user-data template, image, flavor). */
    replacement: pulumi.Input<string>;
    /** When the program runs: the expiration is counted from it. */
    now: Date;
}

/**
 * A worker's own join token: its random parts and the bootstrap-token Secret that makes it valid,
 * through the cluster's provider. `token` resolves once the Secret exists, so the VM whose user-data
 * carries it is created only then.
 */
export function workerJoinToken(name: string, a: WorkerJoinTokenArgs, opts: { parent: pulumi.Resource; provider: k8s.Provider }): pulumi.Output<string> {
    const t = randomToken(name, opts.parent, { replacement: a.replacement });
    const expiration = new Date(a.now.getTime() + WORKER_TOKEN_LIFETIME_HOURS * 3600_000);
    const manifest = pulumi.all([t.id, t.secret]).apply(([id, secret]) =>
        bootstrapTokenSecret({ id, secret, expiration, description: `INCANT join token of ${a.node}, registered by the Pulumi program` }));
    // Name and type from the public id, so a preview shows them; only stringData is secret.
    const registered = new k8s.core.v1.Secret(name, {
        metadata: { name: pulumi.interpolate`bootstrap-token-${t.id}`, namespace: "kube-system" },
        type: BOOTSTRAP_TOKEN_TYPE,
        stringData: pulumi.secret(manifest.stringData),
    }, {
        ...opts,
        // The expiration is fixed when the Secret is created: later runs must not extend it (a
        // used token stays expired). The tokencleaner deletes it then; the VM keeps its user-data.
        ignoreChanges: ["stringData.expiration"],
    });
    return pulumi.all([t.token, registered.metadata.name]).apply(([token]) => token);
}
