/**
 * Credentials delivered to jobs (issue #14, item 6): the user's IAM access token in the job's
 * sandbox, refreshed while the job runs, without the user copying a secret by hand.
 *
 *   submit container: incant-token-setup (components/submit/token-setup.py)
 *       IAM device flow with the facility's job-token client -> refresh token
 *       -> condor_store_cred add-oauth -s <service> -i -   (CREDD_HOST: the credd, below)
 *   scheduler pod: condor_credd writes <dir>/<user>/<service>.top (root, 0600) and SIGHUPs the
 *       credential monitor named in <dir>/pid; incant-credmon (credmon.py, ours) exchanges the
 *       refresh token at IAM's token endpoint and writes <service>.use (root, 0600, atomic
 *       rename), again when half its lifetime has passed; touches <dir>/CREDMON_COMPLETE
 *   job (use_oauth_services = <service>): the shadow reads <service>.use from that directory and
 *       the starter writes it to $_CONDOR_CREDS/<service>.use (the sandbox's .condor_creds,
 *       owned by the job's user), and fetches it again every SEC_CREDENTIAL_REFRESH seconds.
 *
 * Sources (htcondor/htcondor, branch 24.0): src/condor_utils/store_cred.cpp OAUTH_STORE_CRED
 * (.top, the wait for .use), src/condor_utils/credmon_interface.cpp (pid, SIGHUP, <user>.mark,
 * CREDMON_COMPLETE), src/condor_shadow.V6.1/NTreceivers.cpp CONDOR_getcreds (reads .use as root
 * with read_secure_file: owner root and no group or other bits, unless TRUST_CREDENTIAL_DIRECTORY),
 * src/condor_starter.V6.1/jic_shadow.cpp refreshSandboxCredentialsOAuth (SEC_CREDENTIAL_REFRESH),
 * src/condor_credd/condor_credmon_oauth/ (the upstream Python credmon, which needs the htcondor
 * bindings the shared build lacks).
 */
import type { ConfigEntry } from "./config";
import type { IamConfig } from "../config/schema";

/** incant-token-setup in the submit container (components/submit/services.ts IN_SUBMIT.tokenSetup). */
export const TOKEN_SETUP_PATH = "/etc/incant/bin/incant-token-setup";

/** What the facility's job tokens are (incant:iam.jobTokens, resolved). */
export interface JobTokenSettings {
    /** The service name jobs ask for (`use_oauth_services`), the file name in the sandbox. */
    service: string;
    /** The IAM client registered for job tokens (device flow and refresh). */
    clientId: string;
    /** Scopes requested at each refresh (WLCG profile storage scopes for EOS). */
    scopes: string[];
    /** Audience requested at each refresh. */
    audience: string;
    /** IAM issuer with its trailing slash. */
    issuer: string;
}

/** The job tokens of `incant:iam` (undefined without jobTokens): their issuer defaults to the pool's. */
export function jobTokenSettings(iam: IamConfig): JobTokenSettings | undefined {
    const t = iam.jobTokens;
    return t ? { service: t.service, clientId: t.clientId, scopes: t.scopes, audience: t.audience, issuer: t.issuer ?? iam.issuer } : undefined;
}

/** Where the credd and the credmon keep the users' tokens: on the schedd's persistent spool. */
export const CRED_DIR = "$(SPOOL)/oauth_credentials";
/** The credmon in the scheduler pod: its own ConfigMap volume, outside /root (0700), like the exporter. */
export const CREDMON_SCRIPT = "incant-credmon.py";
export const CREDMON_DIR = "/etc/condor/incant-credmon";
export const CREDMON_PATH = `${CREDMON_DIR}/${CREDMON_SCRIPT}`;
/** The shared-port id of the credd in the scheduler pod (`-sock`), also the port's default id. */
export const CREDD_SOCK = "credd";
/** Seconds between two scans of the credmon (the upstream OAuth credmon sleeps 60 s). */
export const CREDMON_SCAN_SECONDS = 60;
/**
 * Seconds between two fetches of the sandbox's tokens by the starter (SEC_CREDENTIAL_REFRESH,
 * default 300; jic_shadow.cpp). A minute bounds how stale the job's copy is behind the credmon's;
 * each fetch is one small request to the job's shadow.
 */
export const SANDBOX_REFRESH_SECONDS = 60;

/** IAM's token endpoint (INDIGO IAM serves it at <issuer>token, as its discovery document says). */
export function tokenEndpoint(issuer: string): string {
    return new URL("token", issuer).toString();
}

/** IAM's device authorization endpoint (RFC 8628; INDIGO IAM: <issuer>devicecode). */
export function deviceEndpoint(issuer: string): string {
    return new URL("devicecode", issuer).toString();
}

/** The credmon's command line (CREDMON_OAUTH_ARGS): every value is one word (config grammars). */
export function credmonArgs(t: JobTokenSettings): string[] {
    const args: [string, string][] = [
        ["--cred-dir", "$(SEC_CREDENTIAL_DIRECTORY_OAUTH)"],
        ["--service", t.service],
        ["--token-url", tokenEndpoint(t.issuer)],
        ["--client-id", t.clientId],
        ["--scopes", t.scopes.join(",")],
        ["--audience", t.audience],
        ["--interval", String(CREDMON_SCAN_SECONDS)],
        ["--log", "$(CREDMON_OAUTH_LOG)"],
    ];
    for (const [flag, value] of args) {
        if (!/^[A-Za-z0-9._:\/,$()@-]+$/.test(value)) throw new Error(`credmon ${flag}: ${JSON.stringify(value)} is not one word`);
    }
    return args.flat();
}

/**
 * The scheduler pod's credd and credmon. The master starts both (CREDMON_OAUTH as root, like any
 * DAEMON_LIST entry without <NAME>_USERID: masterDaemon.cpp). The credd is reached on the schedd's
 * NodePort: it registers at the shared port as `credd` (DaemonCore's `-sock`), and connections
 * without a shared-port id go to it (SHARED_PORT_DEFAULT_ID, default "collector"), because
 * clients reach CREDD_HOST=host:port with no id (daemon.cpp Daemon::getDaemonInfo).
 * TRUST_CREDENTIAL_DIRECTORY stays false (the `feature:OAUTH` metaknob sets it true): the shadow
 * checks each .use is root's and private before sending it.
 */
export function scheddCredentials(t: JobTokenSettings): ConfigEntry[] {
    return [
        { comment: `Job credentials (issue #14): condor_credd and the facility's credential monitor; jobs get IAM tokens with use_oauth_services = ${t.service}.` },
        { key: "SEC_CREDENTIAL_DIRECTORY_OAUTH", value: CRED_DIR },
        { key: "TRUST_CREDENTIAL_DIRECTORY", value: false },
        { key: "CREDD_ARGS", value: `-sock ${CREDD_SOCK}` },
        { key: "SHARED_PORT_DEFAULT_ID", value: CREDD_SOCK },
        { key: "CREDMON_OAUTH", value: CREDMON_PATH },
        { key: "CREDMON_OAUTH_LOG", value: "$(LOG)/CredMonOAuthLog" },
        { key: "CREDMON_OAUTH_ARGS", value: credmonArgs(t).join(" ") },
        { key: "DAEMON_LIST", value: "$(DAEMON_LIST) CREDD CREDMON_OAUTH" },
        // The credmon's access tokens have their own lifetime; condor_submit asks the credd only
        // whether a .top exists (CREDD_CHECK_CREDS), never runs a web flow here.
        { key: `${t.service.toUpperCase()}_CLIENT_ID`, value: t.clientId },
        { key: `${t.service.toUpperCase()}_TOKEN_URL`, value: tokenEndpoint(t.issuer) },
    ];
}

/** The workers' starters: how often the sandbox copy follows the credmon (SEC_CREDENTIAL_REFRESH). */
export function starterCredentials(): ConfigEntry[] {
    return [
        { comment: "Job credentials: the starter fetches the job's tokens from its shadow again every this many seconds (jic_shadow.cpp)." },
        { key: "SEC_CREDENTIAL_REFRESH", value: SANDBOX_REFRESH_SECONDS },
    ];
}

/**
 * The submit container: where condor_store_cred and condor_submit find the credd (the schedd's
 * certificate name, mapped to the node address like the collector's, and the schedd's NodePort),
 * and what incant-token-setup asks IAM for.
 */
export function submitCredentials(t: JobTokenSettings, scheddHost: string, schedulerPort: number | string): ConfigEntry[] {
    return [
        { comment: "Job credentials: the credd in the scheduler pod, and the facility's job-token client (incant-token-setup)." },
        { key: "CREDD_HOST", value: `${scheddHost}:${schedulerPort}` },
        { key: "INCANT_JOB_TOKEN_SERVICE", value: t.service },
        { key: "INCANT_JOB_TOKEN_CLIENT_ID", value: t.clientId },
        { key: "INCANT_JOB_TOKEN_SCOPES", value: t.scopes.join(" ") },
        { key: "INCANT_JOB_TOKEN_AUDIENCE", value: t.audience },
        { key: "INCANT_JOB_TOKEN_DEVICE_URL", value: deviceEndpoint(t.issuer) },
        { key: "INCANT_JOB_TOKEN_TOKEN_URL", value: tokenEndpoint(t.issuer) },
        // condor_submit runs it with the services a job asks for instead of asking the credd for a
        // web-flow URL (submit_utils.cpp process_job_credentials): a user without a stored token
        // gets the device flow, not "wlcg_CLIENT_SECRET_FILE is not configured".
        { key: "SEC_CREDENTIAL_STORER", value: TOKEN_SETUP_PATH },
    ];
}
