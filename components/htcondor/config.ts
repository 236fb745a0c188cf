/**
 * The HTCondor configuration each daemon of the pool receives, and the submit host's, as data
 * (an ordered list of settings) serialised by `renderCondorConfig`.
 *
 * Design (docs: components/htcondor/README.md):
 * - Security: `use security:recommended_v24_0` (authentication, encryption and integrity
 *   required), then every ALLOW_* list the daemons consult written out, because the metaknob and
 *   the images leave READ and WRITE open to `*`. READ needs authentication too.
 * - Identities: daemons authenticate with IDTOKENS as `startd@<domain>` / `schedd@<domain>`
 *   (tokens.ts); the central manager holds the POOL key and is `condor@<domain>`; users
 *   authenticate with SciTokens from INDIGO-IAM, mapped by anchored regexes to `<user>@<domain>`;
 *   operators inside a pod (kubectl exec, FS authentication) are `root@<domain>`.
 *   Only the collector can verify IDTOKENS (it alone has the key): the negotiator reaches the
 *   schedd through the session the schedd gives the collector, and schedd and startds talk
 *   through match sessions ("Daemon-to-Daemon Connections", HTCondor admin manual, Security).
 * - Network: pods share one PRIVATE_NETWORK_NAME and reach each other on pod addresses; the
 *   collector and the schedd sit behind NodePorts equal to their container ports and advertise
 *   TCP_FORWARDING_HOST = a node address, so the submit host (outside the pod network) gets
 *   addresses it can reach; startds are behind CCB at the collector (FACTS.md, HTCondor).
 */
import { isReservedAccount, RESERVED_ACCOUNT_NAMES } from "../config/accounts";
import { FacilityConfig, FacilityUser } from "../config/schema";
import { COLLECTOR_SERVICE, PoolEndpoints, SCHEDD_SERVICE } from "./types";
import { AuthorizationLevel, tokenIdentity } from "./tokens";
import { FairShareSettings, negotiatorFairShare, scheddFairShare, startdFairShare } from "./fairshare";
import { startdHealth, tmpGuard } from "./health";
import { frontierServer, squidUrl } from "../cache/squid";
import { exporterDaemon } from "../observability/metrics";
import { USERS_MACRO, usersReload } from "./users";
import { jobTokenSettings, JobTokenSettings, scheddCredentials, starterCredentials, submitCredentials } from "./credentials";

/** One line of an HTCondor configuration file. */
export type ConfigEntry =
    | { comment: string }
    | { use: string }
    /**
     * `include ifexist : <file>`: a file read (and re-read on condor_reconfig) where the line stands;
     * absent, nothing (tools reading a rendered file alone, users.ts: then no user is allowed).
     */
    | { include: string }
    | { key: string; value: string | number | boolean | readonly string[] };

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** Serialises settings as `KEY = value` lines; lists are comma-separated. */
export function renderCondorConfig(entries: ConfigEntry[]): string {
    return entries.map((e) => {
        if ("comment" in e) return e.comment.split("\n").map((l) => `# ${l}`.trimEnd()).join("\n");
        if ("use" in e) return `use ${e.use}`;
        if ("include" in e) {
            if (!/^\/[A-Za-z0-9._/-]+$/.test(e.include)) throw new Error(`invalid include path ${JSON.stringify(e.include)}`);
            return `include ifexist : ${e.include}`;
        }
        if (!KEY_RE.test(e.key)) throw new Error(`invalid HTCondor configuration key "${e.key}"`);
        const value = Array.isArray(e.value) ? e.value.join(", ") : String(e.value);
        // A newline ends the value; a trailing backslash would continue it onto the next line.
        if (/[\r\n]/.test(value) || value.endsWith("\\")) throw new Error(`invalid value for ${e.key}: ${JSON.stringify(value)}`);
        return value === "" ? `${e.key} =` : `${e.key} = ${value}`;
    }).join("\n") + "\n";
}

/** Where the pods find what the program gives them (mounted by manifests.ts). */
export const PATHS = {
    /** The POOL signing key, copied there by the image's update-secrets from passwords-orig.d. */
    signingKey: "/etc/condor/passwords.d/POOL",
    /** TLS server certificate and key, mounted from a Secret (root-only key, like the POOL key). */
    tlsDir: "/etc/condor/incant-tls",
    hostCert: "/etc/condor/incant-tls/hostcert.pem",
    hostKey: "/etc/condor/incant-tls/hostkey.pem",
    /** The SciTokens map file (CERTIFICATE_MAPFILE). */
    mapfile: "/etc/condor/incant/mapfile",
    /** The pool CA on the submit host (AUTH_SSL_CLIENT_CAFILE). */
    submitHostCa: "/etc/condor/incant/pool-ca.pem",
} as const;

/** The shared port of a startd pod (HTCondor's default, not exposed outside the pod network). */
export const WORKER_PORT = 9618;

/** Where the images install images/common/setup-atlas.sh (install-atlas-clients.sh). */
export const ATLAS_SETUP_SCRIPT = "/etc/profile.d/setup-atlas.sh";

/** MB of a worker pod's memory request kept from the slot for HTCondor's own daemons (RESERVED_MEMORY). */
export const WORKER_RESERVED_MEMORY_MB = 512;

/**
 * The worker's execute directory is an emptyDir of this size (manifests.ts `sizeLimit`; the
 * kubelet evicts the whole pod, every job on it, once the directory grows past it).
 */
export const WORKER_EXECUTE_SIZE_LIMIT_GIB = 50;

/**
 * GiB the worker's slot offers jobs (DISK), below WORKER_EXECUTE_SIZE_LIMIT_GIB: the headroom is
 * what jobs may write past their request_disk before the hold policy acts on the starter's next
 * report (STARTER_UPDATE_SECONDS).
 */
export const WORKER_DISK_GIB = 40;

/** The least time between two negotiation cycles (NEGOTIATOR_CYCLE_DELAY; HTCondor's default 20 s). */
export const NEGOTIATOR_CYCLE_DELAY_SECONDS = 5;

/** How often a starter reports its job's memory and disk use (STARTER_UPDATE_INTERVAL, seconds). */
export const STARTER_UPDATE_SECONDS = 15;

/** How often the schedd sends its ads (and its submitters') to the collector (HTCondor's default: 300 s). */
export const SCHEDD_INTERVAL_SECONDS = 30;

/**
 * Scale-in without killing (issue #19, components/autoscaler): the autoscaler annotates a worker
 * pod it wants gone with `annotation: "true"`; the kubelet projects that annotation into `dir/file`
 * (a downward API volume, updated in place); a startd cron job publishes it as `attribute` every
 * `periodSeconds`, and START refuses new jobs while it is true. Running jobs go on; the autoscaler
 * removes the pod only once the startd advertises `attribute` and runs nothing.
 */
export const DRAIN = {
    annotation: "incant.cloud.infn.it/drain",
    dir: "/etc/incant/drain",
    file: "drain",
    attribute: "IncantDrain",
    periodSeconds: 10,
} as const;

/**
 * User names that would collide with the pool's own identities or with accounts the images
 * already have (pre-exec.sh would keep the image's account and its uid): the program's one list,
 * components/config/accounts.ts, which config validation also applies.
 */
export const RESERVED_USER_NAMES: readonly string[] = RESERVED_ACCOUNT_NAMES;
export { isReservedAccount };

/** Everything the configuration files depend on, resolved from the stack config and the cluster. */
export interface PoolSettings {
    /** TRUST_DOMAIN and UID_DOMAIN. */
    trustDomain: string;
    /** Collector Service DNS name (also its certificate name and HOST_ALIAS). */
    collectorHostName: string;
    /** Collector port: container port = Service port = NodePort. */
    collectorPort: number;
    /** Schedd certificate name (its HOST_ALIAS). */
    scheddHostName: string;
    /** SCHEDD_NAME. */
    scheddName: string;
    /** Schedd shared port: container port = Service port = NodePort. */
    schedulerPort: number;
    /** The node address the submit host uses for NodePorts (TCP_FORWARDING_HOST). */
    nodeAddress: string;
    /** PRIVATE_NETWORK_NAME shared by every pod of the pool. */
    privateNetworkName: string;
    /** IAM issuer of users' SciTokens (with its trailing slash). */
    issuer: string;
    /** SCITOKENS_SERVER_AUDIENCE. */
    audience: string;
    users: FacilityUser[];
    /** CVMFS repositories the workers mount (advertised in the startd ad). */
    cvmfsRepositories: string[];
    /** Accounting groups, quotas, priority half-life, claim worklife (fairshare.ts). */
    fairShare: FairShareSettings;
    /** FRONTIER_SERVER in jobs' environment: ATLAS's launchpads through the facility's squid (components/cache). */
    frontierServer: string;
    /** Job tokens (incant:iam.jobTokens): the schedd's credd and credmon; undefined: none. */
    jobTokens?: JobTokenSettings;
}

/** SCITOKENS_SERVER_AUDIENCE of the pool: `incant:iam.audience`, by default the trust domain. */
export function poolAudience(config: Pick<FacilityConfig, "iam" | "htcondor">): string {
    return config.iam.audience ?? config.htcondor.trustDomain;
}

/** The settings of a pool in namespace `namespace`, reachable at `nodeAddress`. */
export function poolSettings(config: FacilityConfig, namespace: string, nodeAddress: string): PoolSettings {
    const td = config.htcondor.trustDomain;
    return {
        trustDomain: td,
        // Resolvable in every pod through the resolv.conf search list, whatever the cluster domain.
        collectorHostName: `${COLLECTOR_SERVICE}.${namespace}.svc`,
        collectorPort: config.htcondor.collectorPort,
        scheddHostName: `${SCHEDD_SERVICE}.${namespace}.svc`,
        scheddName: `schedd@${td}`,
        schedulerPort: config.htcondor.schedulerPort,
        nodeAddress,
        privateNetworkName: `${namespace}-pods.${td}`,
        issuer: config.iam.issuer,
        audience: poolAudience(config),
        users: config.users,
        cvmfsRepositories: config.cvmfs.repositories,
        fairShare: {
            users: config.users,
            priorityHalfLifeHours: config.htcondor.priorityHalfLifeHours,
            claimWorklifeSeconds: config.htcondor.claimWorklifeSeconds,
        },
        frontierServer: frontierServer(config.cache.enabled ? squidUrl({ in: "cluster", serviceCidr: config.network.serviceCidr }) : undefined),
        jobTokens: jobTokenSettings(config.iam),
    };
}

/** The endpoints the submit host needs (types.ts). */
export function poolEndpoints(s: PoolSettings): PoolEndpoints {
    return {
        collectorAddress: `${s.nodeAddress}:${s.collectorPort}`,
        scheddAddress: `${s.nodeAddress}:${s.schedulerPort}`,
        scheddName: s.scheddName,
        trustDomain: s.trustDomain,
        collectorHostName: s.collectorHostName,
        scheddHostName: s.scheddHostName,
    };
}

/** PCRE2 escaping of a literal. */
export function regexLiteral(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * CERTIFICATE_MAPFILE: one anchored line per user, mapping "<iss>,<sub>" (the name SciTokens
 * authentication produces) to `<user>@<domain>`; nothing else maps to a user. The key field is a
 * regex (CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS is false, set explicitly below).
 */
export function renderMapfile(s: Pick<PoolSettings, "issuer" | "users" | "trustDomain">): string {
    const lines = s.users.map((u) => {
        if (/\s/.test(u.iamSubject) || /\s/.test(s.issuer)) throw new Error(`IAM subject of ${u.name} and the issuer may not contain whitespace`);
        return `SCITOKENS ^${regexLiteral(s.issuer)},${regexLiteral(u.iamSubject)}$ ${u.name}@${s.trustDomain}`;
    });
    // FS (kubectl exec in the pod) keeps HTCondor's default mapping; UID_DOMAIN is appended.
    return ["# INCANT: IAM subjects -> facility users (anchored; rendered by the Pulumi program)", ...lines, "FS ^(.*)$ \\1", ""].join("\n");
}

// The users' identities, defined in users.conf (users.ts): changed live, outside the checksum.
const userIds = (): string[] => [`$(${USERS_MACRO})`];

/** Settings every daemon of the pool shares. */
function common(s: PoolSettings, role: string, methods: string[],
    collectorHost = `${s.collectorHostName}:${s.collectorPort}`): ConfigEntry[] {
    return [
        { comment: `INCANT HTCondor pool: ${role}. Rendered by the Pulumi program (components/htcondor/config.ts);\nedits inside the pod are lost on restart.` },
        { use: "security:recommended_v24_0" },
        { key: "TRUST_DOMAIN", value: s.trustDomain },
        { key: "UID_DOMAIN", value: "$(TRUST_DOMAIN)" },
        // The metaknob relaxes READ; require authentication (and encryption, integrity) everywhere.
        { key: "SEC_DEFAULT_AUTHENTICATION", value: "REQUIRED" },
        { key: "SEC_DEFAULT_ENCRYPTION", value: "REQUIRED" },
        { key: "SEC_DEFAULT_INTEGRITY", value: "REQUIRED" },
        { key: "SEC_READ_AUTHENTICATION", value: "REQUIRED" },
        { key: "SEC_DEFAULT_AUTHENTICATION_METHODS", value: methods },
        { key: "COLLECTOR_HOST", value: collectorHost },
        // Pods reach each other directly on pod addresses; outsiders use the public ones.
        { key: "PRIVATE_NETWORK_NAME", value: s.privateNetworkName },
    ];
}

/** Settings of a daemon published through a NodePort (collector, schedd). */
function behindNodePort(s: PoolSettings, port: number, alias: string): ConfigEntry[] {
    return [
        { comment: "Published through a NodePort equal to the container port: advertise the node address,\nand the pod address to pods of the same PRIVATE_NETWORK_NAME." },
        { key: "SHARED_PORT_PORT", value: port },
        { key: "TCP_FORWARDING_HOST", value: s.nodeAddress },
        { key: "PRIVATE_NETWORK_INTERFACE", value: "$ENV(POD_IP)" },
        // The name clients verify in our certificate (SSL host check uses the address's alias).
        { key: "HOST_ALIAS", value: alias },
    ];
}

/** SciTokens (users from IAM) over TLS. */
function sciTokens(s: PoolSettings): ConfigEntry[] {
    return [
        { comment: "Users: SciTokens from INDIGO-IAM, over TLS, mapped by the anchored map file." },
        { key: "AUTH_SSL_SERVER_CERTFILE", value: PATHS.hostCert },
        { key: "AUTH_SSL_SERVER_KEYFILE", value: PATHS.hostKey },
        { key: "SCITOKENS_SERVER_AUDIENCE", value: s.audience },
        { key: "CERTIFICATE_MAPFILE", value: PATHS.mapfile },
        { key: "CERTIFICATE_MAPFILE_ASSUME_HASH_KEYS", value: false },
    ];
}

/** ALLOW_<level> lines; a level left out is denied to everyone but HTCondor's internal sessions. */
function allow(lists: Partial<Record<AuthorizationLevel, string[]>>): ConfigEntry[] {
    return [
        { comment: "Authorization, explicitly (the images' defaults and the metaknob allow READ and WRITE to *)." },
        ...Object.entries(lists).map(([level, who]): ConfigEntry => ({ key: `ALLOW_${level}`, value: who })),
    ];
}

/** Collector + negotiator: the only holder of the POOL key. */
export function centralManagerConfig(s: PoolSettings): ConfigEntry[] {
    const condor = tokenIdentity("condor", s.trustDomain);
    const root = tokenIdentity("root", s.trustDomain);
    const startd = tokenIdentity("startd", s.trustDomain);
    const schedd = tokenIdentity("schedd", s.trustDomain);
    return [
        // Its own daemons reach the collector on loopback (no hairpin through its Service).
        ...common(s, "central manager (collector, negotiator)", ["FS", "IDTOKENS", "SCITOKENS"], `127.0.0.1:${s.collectorPort}`),
        ...behindNodePort(s, s.collectorPort, s.collectorHostName),
        { key: "SEC_TOKEN_POOL_SIGNING_KEY_FILE", value: PATHS.signingKey },
        // A cycle may start 5 s after the last (default 20 s): a remote submit's job is released
        // from its spooling hold just after the cycle its RESCHEDULE triggered, and waited a whole
        // cycle delay for the next (docs/benchmarks.md). Cycles over a few dozen slots take well
        // under a second.
        { key: "NEGOTIATOR_CYCLE_DELAY", value: NEGOTIATOR_CYCLE_DELAY_SECONDS },
        ...negotiatorFairShare(s.fairShare),
        ...exporterDaemon("--pool"),
        ...sciTokens(s),
        ...allow({
            // Users query the pool (condor_status, condor_submit -remote locates the schedd); the
            // autoscaler reads startd and submitter ads (components/autoscaler).
            READ: [condor, startd, schedd, tokenIdentity("autoscaler", s.trustDomain), root, ...userIds()],
            WRITE: [condor, root],
            DAEMON: [condor],
            NEGOTIATOR: [condor],
            ADMINISTRATOR: [condor, root],
            ADVERTISE_MASTER: [condor, startd, schedd],
            ADVERTISE_STARTD: [startd],
            ADVERTISE_SCHEDD: [schedd],
        }),
        ...usersReload(true),
    ];
}

/** The access point: the schedd the submit host's condor_submit talks to. */
export function schedulerConfig(s: PoolSettings): ConfigEntry[] {
    const condor = tokenIdentity("condor", s.trustDomain);
    const root = tokenIdentity("root", s.trustDomain);
    const users = userIds();
    return [
        // As a server the schedd authenticates users only (it cannot verify IDTOKENS: no key);
        // as a client it presents its IDTOKEN to the collector.
        ...common(s, "scheduler (schedd)", ["FS", "SCITOKENS"]),
        { key: "SEC_CLIENT_AUTHENTICATION_METHODS", value: ["FS", "IDTOKENS"] },
        { key: "SCHEDD_NAME", value: s.scheddName },
        // The autoscaler reads the idle jobs from the ads the schedd sends the collector; by default
        // at most every 300 s, and the loopback pool showed them that stale (docs/elasticity.md).
        { key: "SCHEDD_INTERVAL", value: SCHEDD_INTERVAL_SECONDS },
        ...behindNodePort(s, s.schedulerPort, s.scheddHostName),
        ...scheddFairShare(),
        ...exporterDaemon("--queue"),
        ...sciTokens(s),
        ...allow({
            READ: [condor, root, ...users],
            WRITE: [root, ...users],
            DAEMON: [condor],
            NEGOTIATOR: [condor],
            ADMINISTRATOR: [root],
        }),
        ...usersReload(true),
        ...(s.jobTokens ? scheddCredentials(s.jobTokens) : []),
    ];
}

/** An execute point: one partitionable slot sized from the pod's requests. */
export function workerConfig(s: PoolSettings): ConfigEntry[] {
    const condor = tokenIdentity("condor", s.trustDomain);
    const root = tokenIdentity("root", s.trustDomain);
    return [
        ...common(s, "worker (startd)", ["FS", "IDTOKENS"]),
        { comment: "Behind the pod network's NAT: reverse connections through CCB at the collector." },
        { key: "CCB_ADDRESS", value: "$(COLLECTOR_HOST)" },
        { comment: "Slot size = the container's requests (downward API env), not the node's." },
        { key: "NUM_CPUS", value: "$ENV(NUM_CPUS)" },
        { key: "MEMORY", value: "$ENV(MEMORY)" },
        // An unprivileged pod has no cgroups for jobs (FACTS.md): HTCondor itself must keep jobs inside
        // the container's memory limit (= its request), or the kernel OOM-kills the pod and every job.
        { comment: "The slot's memory stays below the container's limit by what the master, startd and starters use,\nits disk below the execute emptyDir's size limit, and a job above its request_memory or request_disk\nis held (HTCondor 24.0 POLICY metaknobs)." },
        { key: "RESERVED_MEMORY", value: WORKER_RESERVED_MEMORY_MB },
        { use: "POLICY:HOLD_IF_MEMORY_EXCEEDED" },
        // The startd sees a job's usage when its starter reports it (default every 300 s, long
        // enough for a runaway job to reach the pod's limit first).
        { key: "STARTER_UPDATE_INTERVAL", value: STARTER_UPDATE_SECONDS },
        // Unset, DISK is the free space of the node's disk under EXECUTE (ResAttributes.cpp,
        // sysapi_disk_space), more than the emptyDir may hold: the kubelet, not HTCondor, would stop
        // a job that fills it, by evicting the pod. KiB, like the slot's Disk.
        { key: "DISK", value: WORKER_DISK_GIB * 1024 * 1024 },
        { use: "POLICY:HOLD_IF_DISK_EXCEEDED" },
        { comment: "setupATLAS in jobs' own scripts: bash reads the image's profile script through BASH_ENV." },
        // FRONTIER_SERVER: ATLAS conditions data (Frontier) through the facility's squid (components/cache);
        // single-quoted inside the environment string (its value has = and parentheses).
        { key: "STARTER_JOB_ENVIRONMENT", value: `"BASH_ENV=${ATLAS_SETUP_SCRIPT} FRONTIER_SERVER='${s.frontierServer}'"` },
        { comment: "Jobs run as their owners (accounts from the users list, kept live by pool-users.sh), not as slotN users." },
        { key: "STARTER_ALLOW_RUNAS_OWNER", value: true },
        // The shadow's host name is a pod name, outside UID_DOMAIN; the starter trusts the domain of
        // the schedd it reached through the negotiator's match (jic_shadow.cpp sameUidDomain).
        { key: "TRUST_UID_DOMAIN", value: true },
        ...startdFairShare(s.fairShare),
        ...drainPolicy(),
        ...startdHealth(s.cvmfsRepositories),
        // After the memory and disk metaknobs: it or-s its hold onto theirs (a job writing under /tmp).
        ...tmpGuard(),
        ...allow({
            READ: [condor, root],
            WRITE: [condor, root],
            DAEMON: [condor],
            NEGOTIATOR: [condor],
            ADMINISTRATOR: [root],
        }),
        // Accounts for new users' jobs (no configuration of users: jobs come through the schedd).
        ...usersReload(false),
        ...(s.jobTokens ? starterCredentials() : []),
    ];
}

/**
 * The autoscaler's drain (DRAIN): a startd cron job (HTCondor manual, "Startd Cron and Schedd Cron
 * Daemon ClassAd Hooks") prints the projected annotation as a ClassAd attribute into every slot ad,
 * and START refuses new claims while it is true. No `$` in ARGS: the configuration would expand it.
 */
export function drainPolicy(): ConfigEntry[] {
    const job = "INCANT_DRAIN";
    const file = `${DRAIN.dir}/${DRAIN.file}`;
    return [
        { comment: `Autoscaler drain: ${DRAIN.attribute} from the pod annotation ${DRAIN.annotation} (projected at ${file}).` },
        { key: "STARTD_CRON_JOBLIST", value: `$(STARTD_CRON_JOBLIST) ${job}` },
        { key: `STARTD_CRON_${job}_EXECUTABLE`, value: "/bin/sh" },
        { key: `STARTD_CRON_${job}_ARGS`, value: `"-c 'if grep -qsx true ${file}; then echo ${DRAIN.attribute} = true; else echo ${DRAIN.attribute} = false; fi'"` },
        { key: `STARTD_CRON_${job}_MODE`, value: "Periodic" },
        { key: `STARTD_CRON_${job}_PERIOD`, value: `${DRAIN.periodSeconds}s` },
        { key: "START", value: `($(START)) && (${DRAIN.attribute} =!= true)` },
    ];
}

/**
 * The submit host's HTCondor configuration (the submit container's config.d/50-incant-pool.conf).
 *
 * condor_submit talks to the pool's schedd, remotely (`condor_submit -remote <scheddName>`, or
 * SCHEDD_HOST below): it asks the collector where the schedd is, then spools the job to the
 * schedd's NodePort. The submit host runs no schedd of its own, because a schedd must accept
 * connections from the negotiator and from the execute pods, and a VM outside the pod network
 * would need inbound flows from NAT-ed pods that the port registry does not open; with the schedd
 * inside the pool, the submit host only ever connects out (collector and schedd NodePorts).
 *
 * Users authenticate with their IAM token (SciTokens, e.g. BEARER_TOKEN_FILE from oidc-agent)
 * to both; the container needs `collectorHostName` mapped to the node address in /etc/hosts and
 * the pool CA at PATHS.submitHostCa. The host holds no pool credential.
 */
export function renderSubmitHostConfig(endpoints: PoolEndpoints, config: Pick<FacilityConfig, "iam">): string {
    return renderCondorConfig([
        { comment: "INCANT submit host: remote submission to the pool's schedd (components/htcondor/config.ts)." },
        { use: "security:recommended_v24_0" },
        { key: "TRUST_DOMAIN", value: endpoints.trustDomain },
        { key: "UID_DOMAIN", value: "$(TRUST_DOMAIN)" },
        { key: "COLLECTOR_HOST", value: submitCollectorHost(endpoints) },
        { key: "SCHEDD_HOST", value: endpoints.scheddName },
        { comment: "No daemons here (the image's role would start a schedd): tools only. The idle master\nadvertises nowhere (it has no user token to authenticate with)." },
        { key: "DAEMON_LIST", value: "MASTER" },
        { key: "MASTER.COLLECTOR_HOST", value: "" },
        { comment: `Tools authenticate users with their IAM token (issuer ${config.iam.issuer}) and verify the pool's certificates.` },
        { key: "SEC_CLIENT_AUTHENTICATION", value: "REQUIRED" },
        { key: "SEC_CLIENT_ENCRYPTION", value: "REQUIRED" },
        { key: "SEC_CLIENT_INTEGRITY", value: "REQUIRED" },
        { key: "SEC_CLIENT_AUTHENTICATION_METHODS", value: ["SCITOKENS"] },
        { key: "AUTH_SSL_CLIENT_CAFILE", value: PATHS.submitHostCa },
        ...submitTokens(config, endpoints),
    ]);
}

/** The submit host's job-token settings (credentials.ts), with incant:iam.jobTokens only. */
function submitTokens(config: Pick<FacilityConfig, "iam">, endpoints: PoolEndpoints): ConfigEntry[] {
    const t = jobTokenSettings(config.iam);
    return t ? submitCredentials(t, endpoints.scheddHostName, scheddNode(endpoints).port) : [];
}

/**
 * COLLECTOR_HOST of the submit host: the collector's certificate name (mapped to the node address
 * by submitHostAliases) with the collector's NodePort.
 */
export function submitCollectorHost(endpoints: PoolEndpoints): string {
    return `${endpoints.collectorHostName}:${collectorNode(endpoints).port}`;
}

/** /etc/hosts entries the submit container needs (compose `extra_hosts`); with job tokens also the credd's (the schedd's name). */
export function submitHostAliases(endpoints: PoolEndpoints, credd = false): { host: string; ip: string }[] {
    return [{ host: endpoints.collectorHostName, ip: collectorNode(endpoints).ip },
        ...(credd ? [{ host: endpoints.scheddHostName, ip: scheddNode(endpoints).ip }] : [])];
}

/** The node address and NodePort of `scheddAddress` ("<ip>:<port>"). */
function scheddNode(endpoints: PoolEndpoints): { ip: string; port: string } {
    const colon = endpoints.scheddAddress.lastIndexOf(":");
    return { ip: endpoints.scheddAddress.slice(0, colon), port: endpoints.scheddAddress.slice(colon + 1) };
}

/** The node address and NodePort of `collectorAddress` ("<ip>:<port>"). */
function collectorNode(endpoints: PoolEndpoints): { ip: string; port: string } {
    const colon = endpoints.collectorAddress.lastIndexOf(":");
    return { ip: endpoints.collectorAddress.slice(0, colon), port: endpoints.collectorAddress.slice(colon + 1) };
}

/** The users file read by the pods' pre-exec.sh: "<name> <uid>" per line. */
export function renderUsersFile(users: FacilityUser[]): string {
    return users.map((u) => `${u.name} ${u.uid}`).join("\n") + (users.length ? "\n" : "");
}
