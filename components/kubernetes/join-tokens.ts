/**
 * Join tokens: no long-lived token anywhere, each join with its own.
 *
 *   first control plane   kubeadm init's token (INIT_TOKEN_TTL), deleted by the node right after init
 *   other control planes  mint their own at join time: they hold the cluster CA, sign a short-lived
 *                         admin certificate with it and run `kubeadm token create` (scripts/
 *                         kubeadm-bootstrap.sh), so a control plane replaced a year later joins too
 *   workers               one token per worker VM, registered by the program on a control plane
 *                         (over SSH, kubeadm token create) just before the VM exists, expiring
 *                         WORKER_TOKEN_LIFETIME_HOURS later; a worker added or replaced later gets a
 *                         new one (its random parts follow the VM's replacement triggers: keepers)
 *
 * Bootstrap tokens are Secrets of type bootstrap.kubernetes.io/token in kube-system, named
 * bootstrap-token-<id>; the controller-manager's tokencleaner deletes them once expired
 * (https://kubernetes.io/docs/reference/access-authn-authz/bootstrap-tokens/).
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import { SshCommandSetup } from "../compute/ssh";
import { sensitive } from "../secrets";

/** On every control plane (nodes.ts): registers a worker's token read from stdin. */
export const REGISTER_TOKEN_PATH = "/usr/local/sbin/incant-register-join-token";

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
    /** SSH to a control plane through the API's floating IP (components/compute/ssh.ts). */
    ssh: SshCommandSetup;
}

/**
 * A worker's own join token: its random parts, registered on a control plane over SSH
 * (scripts/register-join-token.sh: `kubeadm token create`, TTL WORKER_TOKEN_LIFETIME_HOURS from
 * then) and deleted with the worker. A command, not a Secret the program manages: the cluster's
 * tokencleaner deletes an expired token, and a managed Secret would then be drift that every
 * `pulumi preview --refresh` (the daily drift check) shows; a command's state is what it ran.
 * `token` resolves once registered, so the VM that carries it is created only then.
 */
export function workerJoinToken(name: string, a: WorkerJoinTokenArgs, opts: { parent: pulumi.Resource; dependsOn: pulumi.Resource[] }): pulumi.Output<string> {
    const t = randomToken(name, opts.parent, { replacement: a.replacement });
    const registration = new command.remote.Command(name, {
        connection: a.ssh.connection,
        create: `sudo -n ${REGISTER_TOKEN_PATH} ${a.node} ${WORKER_TOKEN_LIFETIME_HOURS}h`,
        stdin: t.token,
        delete: pulumi.interpolate`sudo -n ${REGISTER_TOKEN_PATH} --delete ${t.id}`,
    }, { ...opts, customTimeouts: a.ssh.customTimeouts });
    return pulumi.all([t.token, registration.stdout]).apply(([token]) => token);
}
