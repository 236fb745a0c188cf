/**
 * How the program runs commands on its VMs over SSH (command.remote.Command): the storage
 * controller's users list and the submit host's readiness gate and files use the same dialing
 * bounds and backstop, derived from incant:readinessTimeoutSeconds.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { SSH_USER } from "./vm";

/** Each SSH dial waits up to this long, in seconds. */
const PER_DIAL_SECONDS = 30;

export interface SshCommandArgs {
    /** incant:sshPrivateKey (the key matching sshPublicKey); undefined throws `missingKey()`. */
    privateKey: pulumi.Input<string> | undefined;
    /** The component's own error when there is no key (it says what needs the key). */
    missingKey: () => Error;
    host: pulumi.Input<string>;
    /** incant:readinessTimeoutSeconds: bounds the dialing, and the remote command, each. */
    timeoutSeconds: number;
    /** A jump host, reached as the same user with the same key. */
    proxy?: pulumi.Input<string>;
}

export interface SshCommandSetup {
    connection: command.types.input.remote.ConnectionArgs;
    /** For the Command's resource options. */
    customTimeouts: pulumi.CustomTimeouts;
}

export function sshCommandSetup(a: SshCommandArgs): SshCommandSetup {
    if (!a.privateKey) throw a.missingKey();
    const login = { user: SSH_USER, privateKey: a.privateKey };
    return {
        connection: {
            ...login, host: a.host,
            ...(a.proxy === undefined ? {} : { proxy: { ...login, host: a.proxy } }),
            // Dialing stops after the readiness timeout (a VM that is still booting is retried).
            perDialTimeout: PER_DIAL_SECONDS, dialErrorLimit: Math.max(1, Math.ceil(a.timeoutSeconds / PER_DIAL_SECONDS)),
        },
        // Dialing and the command are bounded by the timeout each; this is only a backstop.
        customTimeouts: { create: `${2 * a.timeoutSeconds + 60}s` },
    };
}
