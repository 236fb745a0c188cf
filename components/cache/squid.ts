/**
 * The facility's squid for CVMFS and Frontier (issue #17), as data: an ordered list of squid.conf
 * directives serialised by `renderSquidConf`.
 *
 *   workers' CVMFS (CSI node plugin) --\
 *   submit host's CVMFS container -----+--> squid (NodePort SQUID_NODE_PORT on the node address)
 *   jobs' Frontier clients (FRONTIER_SERVER proxyurl) --/        --> Stratum-1s, Frontier servers
 *
 * Why these settings (squid 5/6 directives, squid-cache.org/Doc/config/; the frontier-squid
 * defaults, twiki.cern.ch/twiki/bin/view/Frontier/InstallSquid; CVMFS docs "Setting up a Local Squid
 * Proxy", cvmfs.readthedocs.io/en/stable/cpt-squid.html):
 * - Only the facility's own networks may use it (its VMs' network, the pod network): an open proxy
 *   would be anyone's. Only the ports CVMFS and Frontier use (80, 8000, 8080), no CONNECT.
 * - A large disk cache (CVMFS and conditions data are read by every worker: the point of the
 *   cache), objects up to 1 GB, and collapsed_forwarding so that N workers asking for the same
 *   file at once cause one upstream fetch (the CVMFS documentation recommends it).
 * - The cache manager (for the metrics exporter) only from localhost.
 * - squid starts as root and opens its logs as its unprivileged user: /dev/stdout of a root-owned
 *   pipe is not writable by that user (seen with Debian's squid 5.7: "FATAL: Cannot open
 *   '/dev/stdout' for writing"), so its log goes to a file on a volume.
 */

/** The squid's port inside the cluster and its NodePort (the submit host and the nodes' CVMFS use the NodePort). */
export const SQUID_PORT = 3128;
export const SQUID_NODE_PORT = 30128;

/** Ports CVMFS Stratum-1s (80, 8000) and Frontier servers (8000, 8080) listen on. */
export const SAFE_PORTS = [80, 8000, 8080] as const;

/** Everything squid.conf depends on. */
export interface SquidSettings {
    /** Networks allowed to use the proxy: the facility's VM network and pod network. */
    clientCidrs: string[];
    /** Disk cache, MB (cache_dir). */
    diskCacheMb: number;
    /** Memory cache, MB (cache_mem). */
    memoryCacheMb: number;
    /** Where the disk cache lives (a volume of the pod). */
    cacheDir: string;
    /** PID file (a writable place in the container). */
    pidFile: string;
    /** squid's own log (cache_log), on a volume of the pod. */
    cacheLog: string;
    /** Port squid listens on. */
    port: number;
}

/** One line of squid.conf. */
export type SquidLine = { comment: string } | { directive: string; args: (string | number)[] };

const DIRECTIVE_RE = /^[a-z_]+$/;
/** A word squid reads as one token: no whitespace, no quotes, no comment sign, no line ends. */
const WORD_RE = /^[^\s"'#\\]+$/;

/** Serialises directives, refusing anything that would be read as more than the intended tokens. */
export function renderSquidConf(lines: SquidLine[]): string {
    return lines.map((l) => {
        if ("comment" in l) return l.comment.split("\n").map((c) => `# ${c}`.trimEnd()).join("\n");
        if (!DIRECTIVE_RE.test(l.directive)) throw new Error(`invalid squid directive ${JSON.stringify(l.directive)}`);
        for (const a of l.args) if (!WORD_RE.test(String(a))) throw new Error(`invalid argument of ${l.directive}: ${JSON.stringify(a)}`);
        return [l.directive, ...l.args].join(" ");
    }).join("\n") + "\n";
}

const CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** The facility's squid.conf. */
export function squidConf(s: SquidSettings): SquidLine[] {
    if (s.clientCidrs.length === 0) throw new Error("squid needs at least one client network");
    for (const c of s.clientCidrs) if (!CIDR_RE.test(c)) throw new Error(`not an IPv4 CIDR: ${JSON.stringify(c)}`);
    const d = (directive: string, ...args: (string | number)[]): SquidLine => ({ directive, args });
    return [
        { comment: "INCANT site squid for CVMFS and Frontier. Rendered by the Pulumi program (components/cache/squid.ts)." },
        d("http_port", s.port),
        { comment: "Who may use it: the facility's own networks only (VMs, pods)." },
        d("acl", "facility", "src", ...s.clientCidrs),
        d("acl", "cvmfs_frontier_ports", "port", ...SAFE_PORTS),
        d("acl", "CONNECT", "method", "CONNECT"),
        d("http_access", "allow", "localhost", "manager"),
        d("http_access", "deny", "manager"),
        d("http_access", "deny", "!cvmfs_frontier_ports"),
        d("http_access", "deny", "CONNECT"),
        d("http_access", "allow", "facility"),
        d("http_access", "deny", "all"),
        { comment: "Caching: CVMFS objects and Frontier payloads, many workers reading the same ones." },
        d("cache_mem", s.memoryCacheMb, "MB"),
        d("maximum_object_size_in_memory", 256, "KB"),
        d("maximum_object_size", 1, "GB"),
        d("cache_dir", "ufs", s.cacheDir, s.diskCacheMb, 16, 256),
        d("collapsed_forwarding", "on"),
        // Objects carry their own expiry (CVMFS catalogs short, content-addressed data long).
        d("refresh_pattern", ".", 0, "20%", 4320),
        { comment: "Container: no access log (a line per CVMFS object would fill the volume; the hit ratio comes from the\ncache manager's counters), squid's own log and PID file in writable places." },
        d("access_log", "none"),
        d("cache_log", s.cacheLog),
        d("cache_store_log", "none"),
        d("pid_filename", s.pidFile),
        d("coredump_dir", s.cacheDir),
        d("visible_hostname", "incant-squid"),
    ];
}

/** The squid's Service address inside the cluster: fixed, so that the CSI node plugin (which may not use cluster DNS) reaches it by address. */
export function squidClusterIp(serviceCidr: string): string {
    // The 20th address: in the lower band Kubernetes keeps for addresses chosen by hand (KEP-3070),
    // next to the DNS Service's 10th (kubeadm's default).
    const [base, bits] = serviceCidr.split("/");
    const n = base.split(".").reduce((a, o) => a * 256 + Number(o), 0) + 20;
    if (Number(bits) > 27) throw new Error(`service CIDR ${serviceCidr} is too small for the squid's fixed address`);
    return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** Where a client is: in the cluster (pods, the nodes' CVMFS) or on the submit host (outside the pod network). */
export type ProxyClient = { in: "cluster"; serviceCidr: string } | { in: "submit"; nodeAddress: string };

/** The squid's URL for a client: its Service address in the cluster, its NodePort on a node address outside. */
export function squidUrl(client: ProxyClient): string {
    return client.in === "cluster" ? `http://${squidClusterIp(client.serviceCidr)}:${SQUID_PORT}` : `http://${client.nodeAddress}:${SQUID_NODE_PORT}`;
}

/**
 * CVMFS_HTTP_PROXY of a client: `incant:cvmfs.httpProxy` when set (the explicit opt-out: DIRECT or
 * a site's proxies), else the facility's squid, followed by DIRECT only with `cache.directFallback`
 * (CVMFS tries `;`-separated groups in order: cvmfs.readthedocs.io, "Proxy Lists").
 */
export function cvmfsHttpProxy(config: { cvmfs: { httpProxy?: string }; cache: { enabled: boolean; directFallback: boolean } }, client: ProxyClient): string {
    if (config.cvmfs.httpProxy !== undefined) return config.cvmfs.httpProxy;
    if (!config.cache.enabled) throw new Error("incant:cvmfs.httpProxy is required when incant:cache.enabled is false");
    return config.cache.directFallback ? `${squidUrl(client)};DIRECT` : squidUrl(client);
}

/**
 * ATLAS's Frontier launchpads at CERN (conditions data), as ATLAS sites list them in FRONTIER_SERVER
 * (ATLAS CRIC, the site's "frontier" settings); check them against CRIC when they change.
 */
export const ATLAS_FRONTIER_SERVERS = [
    "http://atlasfrontier-ai.cern.ch:8000/atlr",
    "http://atlasfrontier2-ai.cern.ch:8000/atlr",
    "http://atlasfrontier1-ai.cern.ch:8000/atlr",
] as const;

/**
 * FRONTIER_SERVER for jobs: the launchpads, then the facility's squid as the proxy (the Frontier
 * client's `(serverurl=...)(proxyurl=...)` syntax, frontier client documentation), or no proxy when
 * CVMFS is configured to go DIRECT without the squid.
 */
export function frontierServer(proxyUrl: string | undefined): string {
    const servers = ATLAS_FRONTIER_SERVERS.map((s) => `(serverurl=${s})`).join("");
    return proxyUrl ? `${servers}(proxyurl=${proxyUrl})` : servers;
}
