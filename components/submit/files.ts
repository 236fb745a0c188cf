/**
 * The files the submit container reads, installed on the host over SSH after the readiness gate
 * (not through user-data: that would replace the VM on every change and expose the token to every
 * process on the VM through the metadata service).
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readScript } from "../compute/cloudinit";
import { ACCESS, renderLimits, renderSshdConfig, sshdConfigEntries, UserLimits } from "./access";
import { HOST } from "./services";

/** The user-side tool of job tokens (issue #14 item 6), shipped as a host file bound into the container. */
export const TOKEN_SETUP_SCRIPT = "incant-token-setup.py";

export interface HostFile {
    /** Short name, used in the resource name (`<component>-file-<key>`). */
    key: string;
    /** Absolute path on the host. */
    path: string;
    content: pulumi.Input<string>;
    /** Octal mode of the file. */
    mode: "0644" | "0755" | "0600";
    /** Octal mode of its directory (created if missing). */
    dirMode: "0755" | "0700";
    /** Read by the submit container: a change must recreate it (the image copies some files only at start). */
    readBySubmit: boolean;
}

export interface HostFilesArgs {
    /** Per-user limits of the physicists' logins (access.ts userLimits). */
    limits: UserLimits;
    /** The submit container's environment, which its sshd gives every session (SetEnv). */
    sessionEnv: Record<string, string>;
    /** HTCondor configuration from the pool (config.d/50-incant-pool.conf). */
    condorConfig: pulumi.Input<string>;
    /** The tools' reverse-connection settings (config.d/60-incant-tools.conf, tools.ts). */
    toolsConfig: string;
    /** The pool's CA certificate (PEM). */
    poolCa: pulumi.Input<string>;
    /** IDTOKEN for this host, when the pool issues one (secret). */
    condorToken?: pulumi.Input<string>;
    /** docker/compose.yaml, for operators. */
    compose: pulumi.Input<string>;
    /** Job tokens (incant:iam.jobTokens): install incant-token-setup for the container. */
    tokenSetup?: boolean;
}

export function hostFiles(a: HostFilesArgs): HostFile[] {
    const conf = (key: string, file: string, content: pulumi.Input<string>): HostFile =>
        ({ key, path: file, content, mode: "0644", dirMode: "0755", readBySubmit: true });
    return [
        conf("condor-config", HOST.condorConfig, a.condorConfig),
        conf("condor-tools", HOST.toolsConfig, a.toolsConfig),
        conf("pool-ca", HOST.poolCa, a.poolCa),
        ...(a.condorToken === undefined ? [] : [{
            key: "condor-token", path: HOST.token, content: a.condorToken, mode: "0600", dirMode: "0700", readBySubmit: true,
        } satisfies HostFile]),
        // The users themselves are not here: they change live (incant-submit-users, host.ts).
        { ...conf("pre-exec", HOST.preExec, readScript(__dirname, "access-sync.sh")), mode: "0755" },
        ...(a.tokenSetup ? [{ ...conf("token-setup", HOST.tokenSetup, readScript(__dirname, TOKEN_SETUP_SCRIPT)), mode: "0755" } satisfies HostFile] : []),
        conf("sshd-config", ACCESS.host.sshdConfig, renderSshdConfig(sshdConfigEntries(a.sessionEnv))),
        conf("limits", ACCESS.host.limits, renderLimits(a.limits)),
        { ...conf("update-users", ACCESS.host.updateUsers, readScript(__dirname, "update-users.sh")), mode: "0755", readBySubmit: false },
        { ...conf("compose", HOST.compose, a.compose), readBySubmit: false },
    ];
}

const SAFE_PATH = /^\/[A-Za-z0-9/._-]+$/;

/** The remote command installing one file from stdin (root-owned, atomic enough for config). */
export function installCommand(f: Pick<HostFile, "path" | "mode" | "dirMode">): string {
    if (!SAFE_PATH.test(f.path)) throw new Error(`unsafe host path ${f.path}`);
    return `sudo -n install -d -m ${f.dirMode} ${path.posix.dirname(f.path)} && sudo -n install -m ${f.mode} /dev/stdin ${f.path}`;
}
