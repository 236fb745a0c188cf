/**
 * What a configuration string may contain, decided by where it lands. Every string of the stack
 * file ends up in another language: an HTCondor config file (a `$(` starts a macro, commas and
 * spaces split lists), a shell-sourced environment file, a systemd unit (`%` starts a
 * specifier), NFS exports, the SciTokens map file, YAML, or an OpenStack/Kubernetes API call.
 * Rather than escape for each of them, validation admits per key only characters that mean
 * nothing special in any of the places that key lands (components named in each grammar), and
 * refuses everywhere what could end a line in one of them.
 *
 * Also here: how a rejected value is shown in a message (never a key or a token).
 */

/**
 * Characters that end a line or reorder text somewhere: C0 controls (\n, \r, \v, \f, \t, NUL...)
 * and DEL; C1 controls, among them U+0085 NEL (a line end for YAML 1.1 and Unicode); U+2028 and
 * U+2029 (line and paragraph separators: line ends for JavaScript and Unicode readers); and the
 * bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), which make a file read
 * differently from how it displays. Also U+FEFF (a BOM in the middle of a value).
 */
const UNSAFE_CHAR_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u;

/** A problem with a string that is unsafe in every language, or undefined. */
export function unsafeTextProblem(text: string): string | undefined {
    const m = UNSAFE_CHAR_RE.exec(text);
    if (m) {
        const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
        return `contains the control or line-separator character U+${code} at position ${m.index + 1}: ` +
            "it could end a line or hide text in the files this value is written to";
    }
    if (text !== text.trim()) return "has leading or trailing white space";
    return undefined;
}

/** A per-key grammar: what the value may be, and why (where it lands). */
export interface Grammar {
    re: RegExp;
    /** Completes "must be ..." */
    rule: string;
    maxLength: number;
    /** The value is key material by design (sshPublicKey): skip the looks-like-a-secret refusal. */
    keyMaterial?: true;
}

const g = (re: RegExp, rule: string, maxLength = 255): Grammar => ({ re, rule, maxLength });

/** RFC 1123 host name: labels of letters, digits and dashes, at most 63 each, 253 in all. */
const DNS_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const DNS_NAME = `${DNS_LABEL}(\\.${DNS_LABEL})*`;

export const GRAMMARS = {
    /**
     * htcondor.trustDomain: HTCondor config (TRUST_DOMAIN, UID_DOMAIN, the map file's
     * `user@domain`), IDTOKEN issuer, a DNS suffix (PRIVATE_NETWORK_NAME).
     */
    dnsName: g(new RegExp(`^${DNS_NAME}$`), "a lower-case DNS name like incant.cloud.infn.it (labels of letters, digits and dashes, at most 63 each)", 253),
    /** cvmfs.repositories: CVMFS_REPOSITORIES (comma list in env files), paths /cvmfs/<repo>, Helm values. */
    cvmfsRepository: g(new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})+$`), "a repository name like atlas.cern.ch", 253),
    /**
     * iam.issuer and openstack.authUrl: HTCondor config (SCITOKENS issuer, a comment), the map
     * file (regex-escaped), kube-apiserver `--oidc-issuer-url`, shell env files, curl. No `$`,
     * `,`, `%`, `#`, quotes, spaces, query or fragment.
     */
    httpsUrl: g(/^https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~\/-]*)?$/, "an https:// URL of letters, digits and . _ ~ / - (no query, no $, comma, % or space)", 2048),
    /**
     * iam.audience: HTCondor SCITOKENS_SERVER_AUDIENCE, a list split at commas and spaces in
     * which `$(...)` expands: one token only.
     */
    audience: g(/^[A-Za-z0-9._:\/-]+$/, "one audience: letters, digits and . _ : / - (HTCondor splits SCITOKENS_SERVER_AUDIENCE at commas and spaces and expands $(...))"),
    /**
     * iam.kubernetesGroups: RBAC subject names (YAML by a library) and, slugged, resource
     * names (components/kubernetes/cluster.ts).
     */
    iamGroup: g(/^[A-Za-z0-9._\/@+-]+$/, "an IAM group name of letters, digits and . _ / @ + -", 128),
    /**
     * cvmfs.httpProxy: CVMFS_HTTP_PROXY, CVMFS's proxy syntax (load-balanced groups joined by `|`,
     * fail-over groups by `;`, DIRECT), written double-quoted in the CSI driver's default.local,
     * single-quoted in env files, as a Helm value and a Docker build argument: so no `$`, quotes,
     * backquotes, backslashes or spaces, which would expand or split there.
     */
    httpProxy: g(/^(DIRECT|https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?)([|;](DIRECT|https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?))*$/,
        "DIRECT or http://host:port proxies joined by | (load-balanced) and ; (fail-over), as CVMFS_HTTP_PROXY takes them", 1024),
    /** s3.endpoint: rclone.conf (INI), env files, curl. */
    endpoint: g(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/, "an http(s):// endpoint URL"),
    /** s3.bucket: rclone remote path, the rclone unit's Description (where % is a specifier). */
    bucket: g(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "a valid S3 bucket name", 63),
    /** s3.region: rclone.conf, env files. */
    region: g(/^[A-Za-z0-9_-]+$/, "a region name of letters, digits, _ and -", 64),
    /** s3.iamClientId: env file of the STS helper, curl form data. */
    clientId: g(/^[A-Za-z0-9._-]+$/, "a client id of letters, digits and . _ -", 255),
    /**
     * iam.jobTokens.service: a file name in the credd's directory and the sandbox (`<service>.use`),
     * `use_oauth_services`, and the HTCondor keys `<SERVICE>_CLIENT_ID`, `<SERVICE>_TOKEN_URL`.
     */
    jobTokenService: g(/^[a-z][a-z0-9_]*$/, "a service name of lower-case letters, digits and _ starting with a letter (a file name and an HTCondor key prefix)", 64),
    /** iam.jobTokens.scopes: one OAuth scope each (joined with spaces in the request, commas on the credmon's command line). */
    scope: g(/^[A-Za-z0-9._:\/-]+$/, "one OAuth scope of letters, digits and . _ : / - (like storage.read:/)", 255),
    /** s3.stsRoleArn: env file of the STS helper (quoted), STS form data. */
    roleArn: g(/^arn:aws:iam::[0-9]*:role\/[A-Za-z0-9+=,.@_\/-]+$/, "a role ARN like arn:aws:iam:::role/IAMaccess", 2048),
    /** registry.server: Docker provider address, image references. */
    registryServer: g(new RegExp(`^${DNS_NAME}(:[0-9]{1,5})?$`, "i"), "a registry host like harbor.cloud.infn.it (optionally :port)", 253),
    /** registry.project: image references. */
    registryProject: g(/^[a-z0-9]+([._-][a-z0-9]+)*$/, "a lower-case project name", 255),
    /** registry.username: Docker provider credentials (API); Harbor robots look like robot$project+name. */
    registryUser: g(/^[A-Za-z0-9._@$+-]+$/, "a user name of letters, digits and . _ @ $ + -", 255),
    /** users[].iamSubject: the SciTokens map file (regex-escaped), HTCondor identities. */
    iamSubject: g(/^[A-Za-z0-9._@+:=-]+$/, "an IAM subject of letters, digits and . _ @ + : = -", 255),
    /** openstack.applicationCredentialId: provider argument. */
    openstackId: g(/^[A-Za-z0-9_-]+$/, "an OpenStack id of letters, digits, _ and -", 64),
    /**
     * openstack.cloud, region, image, externalNetwork, availabilityZone: OpenStack API and
     * provider arguments only (Glance names may have spaces).
     */
    openstackName: g(/^[^"'`$\\]+$/, "an OpenStack name without quotes, $ or backslash", 255),
    /** flavors.<name>: a Nova flavor name (API), named in messages. */
    flavorName: g(/^[A-Za-z0-9._-]+$/, "a flavor name of letters, digits and . _ -", 64),
} as const satisfies Record<string, Grammar>;

export type GrammarName = keyof typeof GRAMMARS;

/** The problem of `text` against a grammar (without the value), or undefined. */
export function grammarProblem(text: string, grammar: Grammar): string | undefined {
    if (text.length > grammar.maxLength) return `is ${text.length} characters long, over the ${grammar.maxLength} allowed`;
    if (!grammar.re.test(text)) return `must be ${grammar.rule}`;
    return undefined;
}

/**
 * Strings that look like a credential: a PEM block, an OpenSSH private key, a JWT, an AWS-style
 * access key, a GitHub/GitLab/Slack token, or a long unbroken run of base64 mixing upper case,
 * lower case and digits (an AWS secret key, a password; not a lower-case hex digest). Such a
 * value is never printed, and never accepted outside a secret key.
 */
const SECRET_LIKE = [
    /-----BEGIN/, /PRIVATE KEY/i, /\beyJ[A-Za-z0-9_-]{8,}\./, /\b(AKIA|ASIA)[A-Z0-9]{12,}/,
    /\b(ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr])_[A-Za-z0-9_]{10,}/,
];
const LONG_RUN_RE = /[A-Za-z0-9+\/=_-]{32,}/g;

export function looksSecret(text: string): boolean {
    if (SECRET_LIKE.some((re) => re.test(text))) return true;
    return [...text.matchAll(LONG_RUN_RE)].some(([run]) => /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run));
}

/**
 * A value as a message may show it: JSON-quoted (so control characters are visible and cannot
 * break the line), at most 60 characters; a value that looks like a credential is not shown.
 */
export function showValue(value: unknown): string {
    if (Array.isArray(value)) return "a list";
    if (value === null) return "null";
    if (typeof value === "object") return "an object";
    if (typeof value !== "string") return String(value);
    if (looksSecret(value)) return `a ${value.length}-character value that looks like a key or token (not shown)`;
    const quoted = JSON.stringify(value).replace(/[\u2028\u2029\u0085]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    return quoted.length > 62 ? `${quoted.slice(0, 57)}..." (${value.length} characters)` : quoted;
}

/**
 * A config key as a message shows it: as is when it is an identifier, JSON-quoted otherwise (an
 * unknown key of the stack file is input too).
 */
export function showKey(key: string): string {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : showValue(key);
}

/** Damerau-Levenshtein distance (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** The known key closest to `key` (case-insensitive), when it is a plausible typo. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const k of known) {
        const dist = editDistance(key.toLowerCase(), k.toLowerCase());
        if (dist < bestDistance) [best, bestDistance] = [k, dist];
    }
    return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}
