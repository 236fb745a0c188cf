/**
 * Validation of the raw stack configuration into a typed `FacilityConfig`.
 *
 * Pure: takes the raw values of the `incant:*` keys (as Pulumi parses them from the stack file)
 * and returns either the typed config or every problem found, each naming its key and the stack
 * file. `pulumi.Config.requireObject` does not validate, so this is the only gate.
 */
import { DEFAULTS, JOB_TOKEN_DEFAULTS } from "./defaults";
import { CIDR_LIMITS, cidrsOverlap, cidrSize, cidrUnionSize, DOCKER_DEFAULT_BRIDGE, Ipv4Cidr, isPrivateCidr, parseCidr, PRIVATE_RANGES } from "./cidr";
import { quotaProblems, quotaWorkers } from "./quota";
import { isReservedAccount, USER_UID_MAX, USER_UID_MIN } from "./accounts";
import { Grammar, GRAMMARS, grammarProblem, looksSecret, nearestKey, showKey, showValue, unsafeTextProblem } from "./grammar";
import { platformLimitProblems } from "./limits";
import { defaultNamePrefix, isStackName, NAME_RE, STACK_NAME_RULE } from "./names";
import { WORKER_OFFSET } from "../network/addressing";
import { kubernetesMinor, unsupportedMinorReason } from "../kubernetes/versions";
import { unpinnedReason } from "../../policy/images";
import {
    AutoscalingConfig, CacheConfig, CvmfsConfig, FacilityConfig, JupyterHubConfig, FacilityUser, FlavorSize, HTCondorConfig, IamConfig, JobTokensConfig, ImagesConfig, NetworkConfig, NodeGroup,
    NodesConfig, OpenStackAccess, QuotaConfig, RegistryConfig, S3Config, StorageNode, SubmitNode, VersionsConfig, WideCidrsOverride,
} from "./schema";

export const NAMESPACE = "incant";

/** Raw stack values: key without namespace -> value parsed from YAML/JSON (strings stay strings). */
export type RawConfig = Record<string, unknown>;

export interface ValidationContext {
    stack: string;
    /** Secret keys that are set (their values are never read here). */
    secretKeys: ReadonlySet<string>;
}

export class ConfigValidationError extends Error {
    constructor(public readonly stackFile: string, public readonly problems: string[]) {
        super(`${stackFile} has ${problems.length} configuration problem(s):\n` +
            problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ConfigValidationError";
    }
}

type Problems = string[];

/**
 * The keys of each object of the stack file. Typed as `Record<keyof T, true>` so that a field
 * added to the schema without its key here (or the other way round) fails the type check; the
 * Pulumi.yaml descriptions are checked against these lists by tests/config.test.ts.
 */
const keysOf = <T>(keys: Record<keyof T, true>): readonly string[] => Object.keys(keys);
type TopLevel = Omit<FacilityConfig, "stack" | "stackFile">;
export const OBJECT_KEYS = {
    "": keysOf<TopLevel>({
        environment: true, namePrefix: true, openstack: true, flavors: true, network: true, nodes: true, quota: true,
        sshPublicKey: true, versions: true, iam: true, s3: true, registry: true, images: true, users: true, htcondor: true,
        cvmfs: true, cache: true, jupyterhub: true, autoscaling: true, readinessTimeoutSeconds: true,
    }),
    openstack: keysOf<OpenStackAccess>({
        cloud: true, authUrl: true, region: true, image: true, imageId: true, ubuntuRelease: true, externalNetwork: true, cloudProvider: true, octavia: true,
        availabilityZone: true, applicationCredentialId: true,
    }),
    "flavors.*": keysOf<FlavorSize>({ vcpus: true, ramGb: true }),
    network: keysOf<NetworkConfig>({
        cidr: true, dnsServers: true, podCidr: true, serviceCidr: true, adminCidrs: true, userCidrs: true, allowWideCidrs: true,
    }),
    "network.allowWideCidrs": keysOf<WideCidrsOverride>({ reason: true }),
    nodes: keysOf<NodesConfig>({ controlPlane: true, workers: true, storage: true, submit: true }),
    "nodes.controlPlane": keysOf<NodeGroup>({ count: true, flavor: true, diskGb: true }),
    "nodes.workers": keysOf<NodeGroup>({ count: true, flavor: true, diskGb: true }),
    "nodes.storage": keysOf<StorageNode>({ flavor: true, diskGb: true, dataVolumeGb: true, homeQuotaGb: true, scratchQuotaGb: true }),
    "nodes.submit": keysOf<SubmitNode>({ flavor: true, diskGb: true }),
    quota: keysOf<QuotaConfig>({ vcpus: true, ramGb: true, blockStorageGb: true }),
    versions: keysOf<VersionsConfig>({
        kubernetes: true, kubernetesPatch: true, htcondor: true, calico: true, monitoring: true, cvmfsCsi: true, cvmfsService: true,
    }),
    iam: keysOf<IamConfig>({ issuer: true, audience: true, kubernetesGroups: true, jobTokens: true }),
    "iam.jobTokens": keysOf<JobTokensConfig>({ clientId: true, service: true, scopes: true, audience: true, issuer: true }),
    s3: keysOf<S3Config>({
        endpoint: true, bucket: true, region: true, exportReadWrite: true, credentials: true, iamClientId: true, stsRoleArn: true,
    }),
    registry: keysOf<RegistryConfig>({ server: true, project: true, username: true }),
    images: keysOf<ImagesConfig>({ worker: true, scheduler: true, centralManager: true, submit: true }),
    "users[]": keysOf<FacilityUser>({ name: true, uid: true, iamSubject: true, share: true, sshPublicKey: true, homeQuotaGb: true, scratchQuotaGb: true }),
    htcondor: keysOf<HTCondorConfig>({
        trustDomain: true, collectorPort: true, schedulerPort: true, keyGeneration: true, tokenLifetimeDays: true, priorityHalfLifeHours: true, claimWorklifeSeconds: true,
    }),
    cvmfs: keysOf<CvmfsConfig>({ repositories: true, httpProxy: true }),
    cache: keysOf<CacheConfig>({ enabled: true, image: true, diskGb: true, memoryMb: true, directFallback: true }),
    autoscaling: keysOf<AutoscalingConfig>({
        enabled: true, min: true, max: true, scaleUpCooldownSeconds: true, scaleDownCooldownSeconds: true, idleSeconds: true, intervalSeconds: true,
    }),
    jupyterhub: keysOf<JupyterHubConfig>({
        enabled: true, iamClientId: true, nodePort: true, image: true, lcgView: true, cpuLimit: true, memoryLimitGb: true, cullIdleSeconds: true,
    }),
} as const;

/** Reads one typed field at a config path, recording a problem instead of throwing. */
class Reader {
    constructor(private readonly problems: Problems) {}

    report(path: string, message: string): void {
        this.problems.push(`${NAMESPACE}:${path} ${message}`);
    }

    /**
     * An object whose keys must all be in `known` (an unknown key is reported with the nearest
     * known one). `null` is a problem, not "absent": JSON, which carries structured config,
     * turns `.inf`, `.nan` and numbers like 1e400 into null, and a default must not hide that.
     */
    object(path: string, value: unknown, known?: readonly string[]): Record<string, unknown> | undefined {
        if (value === undefined) return undefined;
        if (typeof value === "object" && value !== null && !Array.isArray(value)) {
            const obj = value as Record<string, unknown>;
            if (known) this.unknownKeys(path, obj, known);
            return obj;
        }
        this.report(path, `must be an object (got ${describe(value)})`);
        return undefined;
    }

    unknownKeys(path: string, obj: Record<string, unknown>, known: readonly string[]): void {
        const prefix = path ? `${path}.` : "";
        for (const key of Object.keys(obj)) {
            if (known.includes(key)) continue;
            const near = nearestKey(key, known);
            this.report(`${prefix}${showKey(key)}`, `is not a known key${near ? `; did you mean ${prefix}${near}?` : ""} ` +
                `(known: ${[...known].sort().join(", ")})`);
        }
    }

    /** Null where a value was expected: see `object`. Returns true when reported. */
    isNull(path: string, value: unknown): boolean {
        if (value !== null) return false;
        this.report(path, "is empty (null): remove the key to use the default, or give a value " +
            "(.inf, .nan and numbers beyond 1.8e308 also arrive as null)");
        return true;
    }

    /**
     * A string that is safe in every language (no line ends or controls, no outer white space)
     * and, when given, follows the grammar of the places it lands. Never prints a value that
     * looks like a key or token.
     */
    string(path: string, value: unknown, fallback?: string, grammar?: Grammar): string {
        if (value === undefined || this.isNull(path, value)) {
            if (fallback === undefined && value === undefined) this.report(path, "is required");
            return fallback ?? "";
        }
        if (typeof value !== "string" || value.trim() === "") {
            this.report(path, `must be a non-empty string (got ${describe(value)})`);
            return fallback ?? "";
        }
        if (!grammar?.keyMaterial && looksSecret(value)) {
            this.report(path, `holds ${describe(value)}: credentials go in secret keys (pulumi config set --secret), ` +
                "never in plain configuration; if it is one, rotate it (it is in the stack file)");
            return fallback ?? "";
        }
        const unsafe = unsafeTextProblem(value);
        if (unsafe) {
            this.report(path, unsafe);
            return fallback ?? "";
        }
        const bad = grammar && grammarProblem(value, grammar);
        if (bad) {
            this.report(path, `${bad} (got ${describe(value)})`);
            return fallback ?? "";
        }
        return value;
    }

    /** A string checked against a regex with its own message (versions, names). */
    matching(path: string, value: unknown, fallback: string | undefined, pattern: RegExp, hint: string, maxLength = 255,
        keyMaterial?: true): string {
        return this.string(path, value, fallback, { re: pattern, rule: hint.replace(/^must be /, ""), maxLength, keyMaterial });
    }

    optionalString(path: string, value: unknown, grammar?: Grammar): string | undefined {
        if (value === undefined) return undefined;
        const text = this.string(path, value, undefined, grammar);
        return text === "" ? undefined : text;
    }

    /**
     * Integer in [min, max]; numbers given as strings (`pulumi config set x 3`) are accepted.
     * Returns undefined after reporting, so that checks across fields (duplicates) skip it.
     */
    intOrUndefined(path: string, value: unknown, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
        if (value === undefined || this.isNull(path, value)) {
            if (fallback === undefined && value === undefined) this.report(path, "is required");
            return value === undefined ? fallback : undefined;
        }
        const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
        if (typeof n !== "number" || !Number.isInteger(n)) {
            const kind = typeof n === "number" && !Number.isFinite(n) ? "a finite integer" : "an integer";
            this.report(path, `must be ${kind} (got ${describe(value)})`);
            return undefined;
        }
        if (n < min || n > max) {
            const upTo = max === Number.MAX_SAFE_INTEGER ? "" : ` up to ${max}`;
            const range = min === 1 ? `a positive integer${upTo}` : upTo ? `between ${min} and ${max}` : `>= ${min}`;
            this.report(path, `must be ${range} (got ${n})`);
            return undefined;
        }
        return n;
    }

    int(path: string, value: unknown, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
        return this.intOrUndefined(path, value, fallback, min, max) ?? fallback ?? min;
    }

    bool(path: string, value: unknown, fallback: boolean): boolean {
        if (value === undefined || this.isNull(path, value)) return fallback;
        if (typeof value === "boolean") return value;
        if (value === "true" || value === "false") return value === "true";
        this.report(path, `must be true or false (got ${describe(value)})`);
        return fallback;
    }

    oneOf<T extends string>(path: string, value: unknown, options: readonly T[], fallback: T): T {
        if (value === undefined || this.isNull(path, value)) return fallback;
        if (typeof value === "string" && (options as readonly string[]).includes(value)) return value as T;
        this.report(path, `must be one of ${options.map((o) => `"${o}"`).join(", ")} (got ${describe(value)})`);
        return fallback;
    }

    /** A list of strings, each checked like `string` (and against `grammar`), at most `maxItems`. */
    stringList(path: string, value: unknown, fallback: string[], grammar?: Grammar, maxItems = 100): string[] {
        if (value === undefined || this.isNull(path, value)) return fallback;
        if (!Array.isArray(value)) {
            this.report(path, `must be a list of non-empty strings (got ${describe(value)})`);
            return fallback;
        }
        if (value.length > maxItems) {
            this.report(path, `lists ${value.length} entries, over the ${maxItems} allowed`);
            return fallback;
        }
        const before = this.problems.length;
        const list = value.map((v, i) => this.string(`${path}[${i}]`, v, undefined, grammar));
        return this.problems.length === before ? list : list.filter((v) => v !== "");
    }

    cidr(path: string, value: unknown, fallback?: string): string {
        const text = this.string(path, value, fallback);
        if (text && !parseCidr(text)) {
            this.report(path, `must be an IPv4 CIDR like 10.0.0.0/24 with no host bits set (got ${describe(text)})`);
            return fallback ?? "";
        }
        return text;
    }

    cidrList(path: string, value: unknown, fallback: string[]): string[] {
        const list = this.stringList(path, value, fallback);
        return list.filter((c, i) => {
            if (parseCidr(c)) return true;
            this.report(`${path}[${i}]`, `must be an IPv4 CIDR like 203.0.113.0/24 (got ${describe(c)})`);
            return false;
        });
    }
}

/** A value as messages show it (grammar.ts showValue: quoted, short, never a key or token). */
function describe(value: unknown): string {
    return showValue(value);
}

const VERSION_RE = /^v?\d+\.\d+(\.\d+)?([-.][0-9A-Za-z.-]+)?$/;
/** POSIX portable login name as useradd takes it (shadow-utils), at most 32 characters. */
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
/** One OpenSSH public key line; the comment is printable ASCII (it lands in cloud-init YAML and authorized_keys). */
const SSH_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [\x20-\x7e]*)?$/;
/** An image reference (distribution/reference grammar): [host[:port]/]path[:tag][@sha256:digest]. */
const IMAGE_RE = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?\/)?[a-z0-9]+([._-]+[a-z0-9]+)*(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;
const IPV4_RE = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** How many list entries the VMs' user-data and the pool's objects are sized for (limits.ts). */
export const LIST_LIMITS = {
    /** Neutron's default max_dns_nameservers (neutron.conf). */
    dnsServers: 5,
    cvmfsRepositories: 32,
    kubernetesGroups: 64,
    /** Scopes of job tokens (one IAM request, one credmon argument). */
    jobTokenScopes: 16,
    adminCidrs: 64,
    userCidrs: 256,
    flavors: 64,
} as const;

function readFlavors(r: Reader, raw: unknown): Record<string, FlavorSize> {
    const obj = r.object("flavors", raw);
    if (!obj) return DEFAULTS.flavors;
    if (Object.keys(obj).length > LIST_LIMITS.flavors) {
        r.report("flavors", `declares ${Object.keys(obj).length} flavors, over the ${LIST_LIMITS.flavors} allowed`);
        return DEFAULTS.flavors;
    }
    const out: Record<string, FlavorSize> = {};
    for (const [name, size] of Object.entries(obj)) {
        const shown = showKey(name);
        const bad = unsafeTextProblem(name) ?? grammarProblem(name, GRAMMARS.flavorName);
        if (bad) {
            r.report(`flavors.${shown}`, `is not a usable flavor name: its name ${bad}`);
            continue;
        }
        const s = r.object(`flavors.${name}`, size, OBJECT_KEYS["flavors.*"]) ?? {};
        out[name] = {
            vcpus: r.int(`flavors.${name}.vcpus`, s.vcpus, undefined, 1, 4096),
            ramGb: r.int(`flavors.${name}.ramGb`, s.ramGb, undefined, 1, 65_536),
        };
    }
    return out;
}

function readGroup(r: Reader, path: "nodes.controlPlane" | "nodes.workers", raw: unknown, d: NodeGroup,
    flavors: Record<string, FlavorSize>, maxCount = 10_000): NodeGroup {
    const o = r.object(path, raw, OBJECT_KEYS[path]) ?? {};
    const g = {
        count: r.int(`${path}.count`, o.count, d.count, 1, maxCount),
        flavor: r.string(`${path}.flavor`, o.flavor, d.flavor, GRAMMARS.flavorName),
        diskGb: r.int(`${path}.diskGb`, o.diskGb, d.diskGb, 10, 16_384),
    };
    checkFlavor(r, `${path}.flavor`, g.flavor, flavors);
    return g;
}

function checkFlavor(r: Reader, path: string, flavor: string, flavors: Record<string, FlavorSize>): void {
    if (flavor && !Object.prototype.hasOwnProperty.call(flavors, flavor)) {
        r.report(path, `names unknown flavor "${flavor}"; known: ${Object.keys(flavors).join(", ")} ` +
            "(declare it under incant:flavors with its vcpus and ramGb)");
    }
}

function readUsers(r: Reader, raw: unknown): FacilityUser[] {
    if (raw === undefined || r.isNull("users", raw)) return [];
    if (!Array.isArray(raw)) {
        r.report("users", `must be a list of {name, uid, iamSubject} (got ${describe(raw)})`);
        return [];
    }
    const read = raw.map((u, i) => {
        const o = r.object(`users[${i}]`, u, OBJECT_KEYS["users[]"]) ?? {};
        const name = r.matching(`users[${i}].name`, o.name, undefined, USER_RE,
            "must be a POSIX login name (lower-case letters, digits, _ and -, starting with a letter or _, at most 32 characters)");
        if (name && isReservedAccount(name)) {
            r.report(`users[${i}].name`, `("${name}") is an account the VMs or the facility's images already have ` +
                "(components/config/accounts.ts): its uid and home would not be the configured ones; choose another name");
        }
        return {
            name,
            uid: r.intOrUndefined(`users[${i}].uid`, o.uid, undefined, USER_UID_MIN, USER_UID_MAX),
            iamSubject: r.string(`users[${i}].iamSubject`, o.iamSubject, undefined, GRAMMARS.iamSubject),
            share: o.share === undefined ? undefined : r.intOrUndefined(`users[${i}].share`, o.share, undefined, 1, 100),
            // Lands in the submit container's authorized_keys (components/submit/access.ts).
            sshPublicKey: o.sshPublicKey === undefined ? undefined : r.matching(`users[${i}].sshPublicKey`, o.sshPublicKey, undefined, SSH_KEY_RE,
                "must be one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)", 16_384, true) || undefined,
            homeQuotaGb: o.homeQuotaGb === undefined ? undefined : r.intOrUndefined(`users[${i}].homeQuotaGb`, o.homeQuotaGb, undefined, 0, 65_536),
            scratchQuotaGb: o.scratchQuotaGb === undefined ? undefined : r.intOrUndefined(`users[${i}].scratchQuotaGb`, o.scratchQuotaGb, undefined, 0, 65_536),
        };
    });
    // Duplicates among the values that were valid: a refused value is already reported.
    for (const key of ["name", "uid", "iamSubject"] as const) {
        const first = new Map<unknown, number>();
        read.forEach((u, i) => {
            const value = u[key];
            if (value === undefined || value === "") return;
            const j = first.get(value);
            if (j !== undefined) r.report(`users[${i}].${key}`, `duplicates users[${j}].${key} (${typeof value === "string" ? describe(value) : value})`);
            else first.set(value, i);
        });
    }
    return read.map((u) => ({ name: u.name, uid: u.uid ?? USER_UID_MIN, iamSubject: u.iamSubject, ...(u.share === undefined ? {} : { share: u.share }),
        ...(u.sshPublicKey ? { sshPublicKey: u.sshPublicKey } : {}),
        ...(u.homeQuotaGb === undefined ? {} : { homeQuotaGb: u.homeQuotaGb }),
        ...(u.scratchQuotaGb === undefined ? {} : { scratchQuotaGb: u.scratchQuotaGb }) }));
}

/** Checks one of adminCidrs/userCidrs for width, alone and together (docs/security.md). */
function checkCidrWidth(r: Reader, path: string, list: string[], override: WideCidrsOverride | undefined): void {
    const parsed = list.map((c) => parseCidr(c)).filter((c): c is Ipv4Cidr => c !== undefined);
    const union = cidrUnionSize(parsed);
    const count = (n: number) => n.toLocaleString("en-US");
    const internet = "half of the IPv4 internet or more: name the networks that may connect (not even network.allowWideCidrs admits this)";
    const world = parsed.findIndex((c) => cidrSize(c) >= CIDR_LIMITS.internet);
    if (world >= 0) {
        r.report(`${path}[${world}]`, `(${list[world]}) covers ${count(cidrSize(parsed[world]))} addresses, ${internet}`);
        return;
    }
    if (union >= CIDR_LIMITS.internet) {
        r.report(path, `together cover ${count(union)} addresses, ${internet}`);
        return;
    }
    if (override) return;
    const hint = "name narrower networks, or set network.allowWideCidrs: {reason: \"...\"} (docs/security.md)";
    parsed.forEach((c, i) => {
        if (c.prefix < CIDR_LIMITS.maxPrefixWidth) {
            r.report(`${path}[${i}]`, `(${list[i]}) is wider than a /${CIDR_LIMITS.maxPrefixWidth} ` +
                `(${count(2 ** (32 - c.prefix))} addresses, the limit is ${count(CIDR_LIMITS.maxAddressesPerEntry)}): ${hint}`);
        }
    });
    if (union > CIDR_LIMITS.maxAddressesPerList) {
        r.report(path, `together cover ${count(union)} addresses, over the ${count(CIDR_LIMITS.maxAddressesPerList)} allowed: ${hint}`);
    }
}

/** The ClusterRoleBinding name suffix of an IAM group (components/kubernetes/cluster.ts). */
export function groupSlug(group: string): string {
    return group.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
}

/** Validates raw stack values; throws `ConfigValidationError` listing every problem. */
export function validateConfig(raw: RawConfig, ctx: ValidationContext): FacilityConfig {
    const stackFile = `Pulumi.${ctx.stack}.yaml`;
    const problems: Problems = [];
    const r = new Reader(problems);
    // Every key of the schema, and the secrets.
    r.unknownKeys("", raw, [...OBJECT_KEYS[""], ...SECRET_KEYS]);
    for (const key of SECRET_KEYS) {
        if (raw[key] !== undefined && !ctx.secretKeys.has(key)) {
            r.report(key, `must be set as a secret: ${setSecretCommand(key, ctx.stack)}`);
        }
    }

    const environment = r.matching("environment", raw.environment, ctx.stack, NAME_RE, "must be a short lower-case name");
    const namePrefix = r.matching("namePrefix", raw.namePrefix, defaultNamePrefix(ctx.stack), NAME_RE,
        "must be lower-case letters, digits and dashes, at most 31 characters");
    // The defaults come from the stack name, which `pulumi stack init` allows to be almost anything.
    for (const key of ["environment", "namePrefix"] as const) {
        if (raw[key] === undefined && !isStackName(ctx.stack)) {
            r.report(key, `is not set, and its default from the stack name is not a valid name: a stack name must be ${STACK_NAME_RULE}; ` +
                `set incant:${key} or use another stack name`);
        }
    }

    const os = r.object("openstack", raw.openstack, OBJECT_KEYS.openstack) ?? {};
    const d = DEFAULTS;
    const on = GRAMMARS.openstackName;
    const openstack = {
        cloud: r.optionalString("openstack.cloud", os.cloud, on),
        authUrl: r.optionalString("openstack.authUrl", os.authUrl, GRAMMARS.httpsUrl),
        region: r.string("openstack.region", os.region, d.openstack.region, on),
        image: r.string("openstack.image", os.image, d.openstack.image, on),
        imageId: r.optionalString("openstack.imageId", os.imageId, GRAMMARS.openstackId),
        ubuntuRelease: r.oneOf("openstack.ubuntuRelease", os.ubuntuRelease, ["22.04", "24.04"] as const, d.openstack.ubuntuRelease),
        externalNetwork: r.string("openstack.externalNetwork", os.externalNetwork, d.openstack.externalNetwork, on),
        availabilityZone: r.optionalString("openstack.availabilityZone", os.availabilityZone, on),
        applicationCredentialId: r.optionalString("openstack.applicationCredentialId", os.applicationCredentialId, GRAMMARS.openstackId),
        cloudProvider: r.bool("openstack.cloudProvider", os.cloudProvider, d.openstack.cloudProvider),
        octavia: r.bool("openstack.octavia", os.octavia, d.openstack.octavia),
    };
    if (openstack.cloudProvider && !openstack.authUrl) {
        r.report("openstack.authUrl", "is required with openstack.cloudProvider: the cluster's cloud controller and Cinder CSI driver " +
            "authenticate there (INFN CLOUD Bari: https://keystone.recas.ba.infn.it/v3), or set openstack.cloudProvider: false");
    }
    if (openstack.octavia && !openstack.cloudProvider) r.report("openstack.octavia", "needs openstack.cloudProvider (its controller makes the load balancers)");
    if (openstack.applicationCredentialId && !ctx.secretKeys.has("osApplicationCredentialSecret")) {
        r.report("osApplicationCredentialSecret", "is required when openstack.applicationCredentialId is set " +
            `(${setSecretCommand("osApplicationCredentialSecret", ctx.stack)})`);
    }

    const flavors = readFlavors(r, raw.flavors);

    const n = r.object("network", raw.network, OBJECT_KEYS.network) ?? {};
    const adminCidrs = r.cidrList("network.adminCidrs", n.adminCidrs, d.network.adminCidrs);
    const wide = r.object("network.allowWideCidrs", n.allowWideCidrs, OBJECT_KEYS["network.allowWideCidrs"]);
    let allowWideCidrs: WideCidrsOverride | undefined;
    if (wide) {
        const reason = r.string("network.allowWideCidrs.reason", wide.reason, undefined, { re: /^.{20,}$/su, rule: "a sentence of at least 20 characters saying who connects from these networks and why they cannot be narrower", maxLength: 500 });
        if (reason) allowWideCidrs = { reason };
    }
    const network: NetworkConfig = {
        cidr: r.cidr("network.cidr", n.cidr, d.network.cidr),
        dnsServers: r.stringList("network.dnsServers", n.dnsServers, d.network.dnsServers,
            { re: IPV4_RE, rule: "an IPv4 address like 131.154.1.1", maxLength: 15 }, LIST_LIMITS.dnsServers),
        podCidr: r.cidr("network.podCidr", n.podCidr, d.network.podCidr),
        serviceCidr: r.cidr("network.serviceCidr", n.serviceCidr, d.network.serviceCidr),
        adminCidrs,
        userCidrs: r.cidrList("network.userCidrs", n.userCidrs, adminCidrs),
        ...(allowWideCidrs ? { allowWideCidrs } : {}),
    };
    if (Array.isArray(n.adminCidrs) && n.adminCidrs.length === 0 || n.adminCidrs === undefined) {
        r.report("network.adminCidrs", "must list at least one CIDR allowed to reach SSH and the Kubernetes API");
    }
    // userCidrs defaults to adminCidrs: checked once, under adminCidrs, unless set.
    const cidrLists = [["network.adminCidrs", network.adminCidrs, LIST_LIMITS.adminCidrs],
        ...(n.userCidrs === undefined ? [] : [["network.userCidrs", network.userCidrs, LIST_LIMITS.userCidrs] as const])] as const;
    for (const [path, list, max] of cidrLists) {
        if (list.length > max) r.report(path, `lists ${list.length} entries, over the ${max} allowed (one security group rule each)`);
        checkCidrWidth(r, path, list, allowWideCidrs);
    }
    const ranges = [["network.cidr", network.cidr], ["network.podCidr", network.podCidr],
        ["network.serviceCidr", network.serviceCidr]] as const;
    for (let i = 0; i < ranges.length; i++) {
        for (let j = i + 1; j < ranges.length; j++) {
            const a = parseCidr(ranges[i][1]);
            const b = parseCidr(ranges[j][1]);
            if (a && b && cidrsOverlap(a, b)) {
                r.report(ranges[j][0], `(${ranges[j][1]}) overlaps ${NAMESPACE}:${ranges[i][0]} (${ranges[i][1]})`);
            }
        }
    }
    for (const [path, text] of ranges) {
        const range = parseCidr(text);
        if (range && !isPrivateCidr(range)) {
            r.report(path, `(${text}) is not a private range: the facility's own addresses must lie in ${PRIVATE_RANGES.join(", ")} (RFC 1918, RFC 6598), or they shadow the real hosts of that range`);
        }
    }
    const subnet = parseCidr(network.cidr);
    if (subnet && cidrsOverlap(subnet, parseCidr(DOCKER_DEFAULT_BRIDGE)!)) {
        r.report("network.cidr", `(${network.cidr}) overlaps ${DOCKER_DEFAULT_BRIDGE}, Docker's default bridge (docker0) on the submit host: its containers could not reach the pool; choose another range`);
    }

    const nodesRaw = r.object("nodes", raw.nodes, OBJECT_KEYS.nodes) ?? {};
    const controlPlane = readGroup(r, "nodes.controlPlane", nodesRaw.controlPlane, d.nodes.controlPlane, flavors, 3);
    if (controlPlane.count === 2) r.report("nodes.controlPlane.count", "must be 1 or 3 (etcd needs an odd number of members)");
    const workers = readGroup(r, "nodes.workers", nodesRaw.workers, d.nodes.workers, flavors);
    const st = r.object("nodes.storage", nodesRaw.storage, OBJECT_KEYS["nodes.storage"]) ?? {};
    const storage: StorageNode = {
        flavor: r.string("nodes.storage.flavor", st.flavor, d.nodes.storage.flavor, GRAMMARS.flavorName),
        diskGb: r.int("nodes.storage.diskGb", st.diskGb, d.nodes.storage.diskGb, 10, 16_384),
        dataVolumeGb: r.int("nodes.storage.dataVolumeGb", st.dataVolumeGb, d.nodes.storage.dataVolumeGb, 1, 65_536),
        homeQuotaGb: r.int("nodes.storage.homeQuotaGb", st.homeQuotaGb, d.nodes.storage.homeQuotaGb, 0, 65_536),
        scratchQuotaGb: r.int("nodes.storage.scratchQuotaGb", st.scratchQuotaGb, d.nodes.storage.scratchQuotaGb, 0, 65_536),
    };
    checkFlavor(r, "nodes.storage.flavor", storage.flavor, flavors);
    const sb = r.object("nodes.submit", nodesRaw.submit, OBJECT_KEYS["nodes.submit"]) ?? {};
    const submit: SubmitNode = {
        flavor: r.string("nodes.submit.flavor", sb.flavor, d.nodes.submit.flavor, GRAMMARS.flavorName),
        diskGb: r.int("nodes.submit.diskGb", sb.diskGb, d.nodes.submit.diskGb, 10, 16_384),
    };
    checkFlavor(r, "nodes.submit.flavor", submit.flavor, flavors);
    const nodes = { controlPlane, workers, storage, submit };
    if (subnet) {
        // Workers start at WORKER_OFFSET; keep the broadcast address free.
        const needed = WORKER_OFFSET + workers.count + 1;
        if (2 ** (32 - subnet.prefix) < needed) {
            r.report("network.cidr", `(${network.cidr}) has too few addresses for ${controlPlane.count + workers.count + 2} VMs`);
        }
    }

    const q = r.object("quota", raw.quota, OBJECT_KEYS.quota) ?? {};
    const quota = {
        vcpus: r.int("quota.vcpus", q.vcpus, d.quota.vcpus, 1),
        ramGb: r.int("quota.ramGb", q.ramGb, d.quota.ramGb, 1),
        blockStorageGb: r.int("quota.blockStorageGb", q.blockStorageGb, d.quota.blockStorageGb, 1),
    };

    // A private key or token pasted here must not be echoed: say what it is, not what it says.
    let sshPublicKey = "";
    if (typeof raw.sshPublicKey === "string" && /PRIVATE KEY|^-----BEGIN/.test(raw.sshPublicKey)) {
        r.report("sshPublicKey", "holds a private key, not a public key: set the .pub line here and rotate that private key " +
            `(it is now in the stack file); the private key goes in ${setSecretCommand("sshPrivateKey", ctx.stack)}`);
    } else {
        sshPublicKey = r.matching("sshPublicKey", raw.sshPublicKey, undefined, SSH_KEY_RE,
            "must be one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)", 16_384, true);
    }
    // The program reaches the submit host's Docker daemon over SSH with it (components/submit/host.ts).
    if (!ctx.secretKeys.has("sshPrivateKey")) {
        r.report("sshPrivateKey", "is required: the program reaches the submit host over SSH with the private key of sshPublicKey " +
            `(${setSecretCommand("sshPrivateKey", ctx.stack)} < <key file>)`);
    }

    const v = r.object("versions", raw.versions, OBJECT_KEYS.versions) ?? {};
    const pinned = (key: keyof VersionsConfig) => r.matching(`versions.${key}`, v[key], d.versions[key], VERSION_RE, "must be a pinned version", 64);
    const versions = {
        kubernetes: r.matching("versions.kubernetes", v.kubernetes, d.versions.kubernetes, /^1\.(3[0-9]|[4-9][0-9])$/, "must be a Kubernetes minor version from 1.30 on, like \"1.35\""),
        kubernetesPatch: r.matching("versions.kubernetesPatch", v.kubernetesPatch, d.versions.kubernetesPatch, /^1\.\d+\.\d+$/, "must be an exact version like \"1.35.9\""),
        htcondor: pinned("htcondor"), calico: pinned("calico"), monitoring: pinned("monitoring"),
        cvmfsCsi: pinned("cvmfsCsi"), cvmfsService: pinned("cvmfsService"),
    };
    const minorProblem = versions.kubernetes ? unsupportedMinorReason(versions.kubernetes) : undefined;
    if (minorProblem) r.report("versions.kubernetes", `(${versions.kubernetes}) ${minorProblem}`);
    else if (openstack.cloudProvider && versions.kubernetes && !kubernetesMinor(versions.kubernetes)?.cloudProviderCharts) {
        r.report("openstack.cloudProvider", `has no cloud-provider-openstack chart listed for Kubernetes ${versions.kubernetes} ` +
            "(components/kubernetes/versions.ts): use a minor that has one, or set openstack.cloudProvider: false");
    }
    if (versions.kubernetesPatch && versions.kubernetes && !versions.kubernetesPatch.startsWith(`${versions.kubernetes}.`)) {
        r.report("versions.kubernetesPatch", `(${versions.kubernetesPatch}) is not inside versions.kubernetes (${versions.kubernetes})`);
    }
    const htcondorProblem = htcondorAdvisoryProblem(versions.htcondor);
    if (htcondorProblem) r.report("versions.htcondor", htcondorProblem);

    const i = r.object("iam", raw.iam, OBJECT_KEYS.iam) ?? {};
    const iam = {
        issuer: r.string("iam.issuer", i.issuer, d.iam.issuer, GRAMMARS.httpsUrl),
        audience: r.optionalString("iam.audience", i.audience, GRAMMARS.audience),
        kubernetesGroups: r.stringList("iam.kubernetesGroups", i.kubernetesGroups, d.iam.kubernetesGroups, GRAMMARS.iamGroup, LIST_LIMITS.kubernetesGroups),
        ...readJobTokens(r, i.jobTokens),
    };
    if (iam.issuer && !iam.issuer.endsWith("/")) r.report("iam.issuer", `must end with / as IAM prints it (got ${describe(iam.issuer)})`);
    // The SciTokens libraries read the audience "ANY" as "accept any audience".
    if (iam.audience?.toUpperCase() === "ANY") r.report("iam.audience", "must name this pool, not ANY (the SciTokens wildcard that accepts tokens meant for any service)");
    // Each group becomes the ClusterRoleBinding incant-iam-<slug>: two groups with one slug would be one resource.
    const slugs = new Map<string, number>();
    iam.kubernetesGroups.forEach((group, k) => {
        const slug = groupSlug(group);
        const j = slugs.get(slug);
        if (j !== undefined) {
            r.report(`iam.kubernetesGroups[${k}]`, `(${describe(group)}) and iam.kubernetesGroups[${j}] (${describe(iam.kubernetesGroups[j])}) ` +
                `both become the resource name incant-iam-${slug}: keep one of them`);
        } else slugs.set(slug, k);
    });

    const s = r.object("s3", raw.s3, OBJECT_KEYS.s3) ?? {};
    const s3 = {
        endpoint: r.string("s3.endpoint", s.endpoint, d.s3.endpoint, GRAMMARS.endpoint),
        bucket: r.string("s3.bucket", s.bucket, d.s3.bucket, GRAMMARS.bucket),
        region: r.string("s3.region", s.region, d.s3.region, GRAMMARS.region),
        exportReadWrite: r.bool("s3.exportReadWrite", s.exportReadWrite, d.s3.exportReadWrite),
        credentials: r.oneOf("s3.credentials", s.credentials, ["static", "sts"] as const, d.s3.credentials),
        iamClientId: r.optionalString("s3.iamClientId", s.iamClientId, GRAMMARS.clientId),
        stsRoleArn: r.string("s3.stsRoleArn", s.stsRoleArn, d.s3.stsRoleArn, GRAMMARS.roleArn),
    };
    if (s3.credentials === "static") {
        for (const key of ["s3AccessKeyId", "s3SecretAccessKey"] as const) {
            if (!ctx.secretKeys.has(key)) {
                r.report(key, `is required when s3.credentials is "static" (${setSecretCommand(key, ctx.stack)})`);
            }
        }
    } else {
        if (!s3.iamClientId) r.report("s3.iamClientId", "is required when s3.credentials is \"sts\" (the IAM client whose tokens the gateway's STS accepts)");
        if (!ctx.secretKeys.has("s3IamClientSecret")) {
            r.report("s3IamClientSecret", `is required when s3.credentials is "sts" (${setSecretCommand("s3IamClientSecret", ctx.stack)})`);
        }
    }

    const g = r.object("registry", raw.registry, OBJECT_KEYS.registry) ?? {};
    const registry = {
        server: r.optionalString("registry.server", g.server, GRAMMARS.registryServer),
        project: r.string("registry.project", g.project, d.registry.project, GRAMMARS.registryProject),
        username: r.optionalString("registry.username", g.username, GRAMMARS.registryUser),
    };
    if (registry.server && registry.username && !ctx.secretKeys.has("registryPassword")) {
        r.report("registryPassword", `is required when registry.username is set (${setSecretCommand("registryPassword", ctx.stack)})`);
    }

    const im = r.object("images", raw.images, OBJECT_KEYS.images) ?? {};
    const imageRef = (key: keyof typeof d.images): string => {
        const ref = r.matching(`images.${key}`, im[key], d.images[key], IMAGE_RE, "must be an image reference like registry/project/name:tag", 512);
        // The policy pack's rule (policy/images.ts), checked before any resource exists.
        if (ref && unpinnedReason(ref) !== undefined) {
            r.report(`images.${key}`, `must carry a pinned tag, never latest or none (got ${describe(ref)})`);
        }
        return ref;
    };
    const images = {
        worker: imageRef("worker"), scheduler: imageRef("scheduler"),
        centralManager: imageRef("centralManager"), submit: imageRef("submit"),
    };

    const users = readUsers(r, raw.users);

    const h = r.object("htcondor", raw.htcondor, OBJECT_KEYS.htcondor) ?? {};
    const htcondor = {
        trustDomain: r.string("htcondor.trustDomain", h.trustDomain, d.htcondor.trustDomain, GRAMMARS.dnsName),
        collectorPort: r.int("htcondor.collectorPort", h.collectorPort, d.htcondor.collectorPort, 30000, 32767),
        schedulerPort: r.int("htcondor.schedulerPort", h.schedulerPort, d.htcondor.schedulerPort, 30000, 32767),
        keyGeneration: r.int("htcondor.keyGeneration", h.keyGeneration, d.htcondor.keyGeneration, 1, 1_000_000),
        // At least a week (renewal in its last third: two days of margin), at most ten years.
        tokenLifetimeDays: r.int("htcondor.tokenLifetimeDays", h.tokenLifetimeDays, d.htcondor.tokenLifetimeDays, 7, 3650),
        priorityHalfLifeHours: r.int("htcondor.priorityHalfLifeHours", h.priorityHalfLifeHours, d.htcondor.priorityHalfLifeHours, 1, 24 * 365),
        claimWorklifeSeconds: r.int("htcondor.claimWorklifeSeconds", h.claimWorklifeSeconds, d.htcondor.claimWorklifeSeconds, 0, 86_400),
    };
    if (htcondor.collectorPort === htcondor.schedulerPort) r.report("htcondor.schedulerPort", "must differ from htcondor.collectorPort");

    const c = r.object("cvmfs", raw.cvmfs, OBJECT_KEYS.cvmfs) ?? {};
    const cvmfs = {
        repositories: r.stringList("cvmfs.repositories", c.repositories, d.cvmfs.repositories, GRAMMARS.cvmfsRepository, LIST_LIMITS.cvmfsRepositories),
        httpProxy: r.optionalString("cvmfs.httpProxy", c.httpProxy, GRAMMARS.httpProxy),
    };
    if (Array.isArray(c.repositories) && c.repositories.length === 0) r.report("cvmfs.repositories", "must list at least one repository (atlas.cern.ch)");

    const ca = r.object("cache", raw.cache, OBJECT_KEYS.cache) ?? {};
    const cache = {
        enabled: r.bool("cache.enabled", ca.enabled, d.cache.enabled),
        image: r.matching("cache.image", ca.image, d.cache.image, IMAGE_RE, "must be an image reference like registry/project/name:tag", 512),
        diskGb: r.int("cache.diskGb", ca.diskGb, d.cache.diskGb, 1, 80),
        memoryMb: r.int("cache.memoryMb", ca.memoryMb, d.cache.memoryMb, 64, 4096),
        directFallback: r.bool("cache.directFallback", ca.directFallback, d.cache.directFallback),
    };
    if (cache.image && unpinnedReason(cache.image) !== undefined) r.report("cache.image", `must carry a pinned tag, never latest or none (got ${describe(cache.image)})`);
    if (!cache.enabled && cvmfs.httpProxy === undefined) {
        r.report("cvmfs.httpProxy", "must be set when cache.enabled is false: DIRECT (every client goes to the Stratum-1s) or your site's squid, http://host:port");
    }

    const jupyterhub = readJupyterHub(r, raw.jupyterhub, { htcondor, cvmfs, stack: ctx.stack, secretKeys: ctx.secretKeys });

    const autoscaling = readAutoscaling(r, raw.autoscaling, workerVmsAllowed({ namePrefix, nodes, flavors, quota }));

    const readinessTimeoutSeconds = r.int("readinessTimeoutSeconds", raw.readinessTimeoutSeconds, d.readinessTimeoutSeconds, 30, 7200);

    const config: FacilityConfig = {
        stack: ctx.stack, stackFile, environment, namePrefix, openstack, flavors, network, nodes, quota, sshPublicKey,
        versions, iam, s3, registry, images, users, htcondor, cvmfs, cache, jupyterhub, autoscaling, readinessTimeoutSeconds,
    };
    // Always, with the values that were valid: a quota overrun is news even beside other problems.
    problems.push(...quotaProblems(config).map((p) => `${NAMESPACE}:${p}`));
    problems.push(...platformLimitProblems(config).map((p) => `${NAMESPACE}:${p}`));
    if (problems.length > 0) throw new ConfigValidationError(stackFile, problems.map((p) => `${p} [${stackFile}]`));
    return config;
}

/**
 * The worker VMs incant:quota leaves (quotaWorkers), or the configured count when the flavors are
 * not known well enough to say (their own problems are reported).
 */
function workerVmsAllowed(c: Pick<FacilityConfig, "namePrefix" | "nodes" | "flavors" | "quota">): number {
    const n = quotaWorkers(c);
    return Number.isFinite(n) ? Math.max(n, c.nodes.workers.count) : c.nodes.workers.count;
}

/**
 * `incant:autoscaling` (components/autoscaler): at most the worker VMs the quota allows, not the
 * VMs the stack has now: worker pods beyond the VMs stay Pending, which is what the VM runner reads
 * to add VMs (docs/elasticity.md), and the autoscaler's settings do not follow
 * nodes.workers.count (a count change would otherwise restart the controller).
 */
function readAutoscaling(r: Reader, raw: unknown, workerVms: number): AutoscalingConfig {
    const d = DEFAULTS.autoscaling;
    const a = r.object("autoscaling", raw, OBJECT_KEYS.autoscaling) ?? {};
    const out: AutoscalingConfig = {
        enabled: r.bool("autoscaling.enabled", a.enabled, d.enabled),
        min: r.int("autoscaling.min", a.min, d.min, 0, 10_000),
        max: r.int("autoscaling.max", a.max, workerVms, 0, 10_000),
        scaleUpCooldownSeconds: r.int("autoscaling.scaleUpCooldownSeconds", a.scaleUpCooldownSeconds, d.scaleUpCooldownSeconds, 0, 86_400),
        scaleDownCooldownSeconds: r.int("autoscaling.scaleDownCooldownSeconds", a.scaleDownCooldownSeconds, d.scaleDownCooldownSeconds, 0, 86_400),
        idleSeconds: r.int("autoscaling.idleSeconds", a.idleSeconds, d.idleSeconds, 0, 7 * 86_400),
        intervalSeconds: r.int("autoscaling.intervalSeconds", a.intervalSeconds, d.intervalSeconds, 5, 3600),
    };
    if (out.max > workerVms) r.report("autoscaling.max", `must be at most ${workerVms}, the worker VMs incant:quota allows beside the other VMs (one worker pod per worker VM) (got ${out.max})`);
    if (out.min > out.max) r.report("autoscaling.min", `must be at most autoscaling.max (${out.max}) (got ${out.min})`);
    return out;
}

/** An LCG view on sft.cern.ch: /cvmfs/sft.cern.ch/lcg/views/<release>/<platform>. */
const LCG_VIEW_RE = /^\/cvmfs\/sft\.cern\.ch\/lcg\/views\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** `incant:jupyterhub` (components/jupyterhub). */
function readJupyterHub(r: Reader, raw: unknown,
    ctx: { htcondor: HTCondorConfig; cvmfs: CvmfsConfig; stack: string; secretKeys: ReadonlySet<string> }): JupyterHubConfig {
    const d = DEFAULTS.jupyterhub;
    const j = r.object("jupyterhub", raw, OBJECT_KEYS.jupyterhub) ?? {};
    const hub: JupyterHubConfig = {
        enabled: r.bool("jupyterhub.enabled", j.enabled, d.enabled),
        iamClientId: r.optionalString("jupyterhub.iamClientId", j.iamClientId, GRAMMARS.clientId),
        nodePort: r.int("jupyterhub.nodePort", j.nodePort, d.nodePort, 30000, 32767),
        image: r.matching("jupyterhub.image", j.image, d.image, IMAGE_RE, "must be an image reference like registry/project/name:tag", 512),
        // Every view path trips the looks-like-a-token heuristic (a long run of mixed case, digits and
        // slashes); the grammar admits nothing but a path under /cvmfs/sft.cern.ch/lcg/views, so skip it.
        lcgView: r.matching("jupyterhub.lcgView", j.lcgView, d.lcgView, LCG_VIEW_RE, "must be an LCG view like /cvmfs/sft.cern.ch/lcg/views/LCG_107/x86_64-el9-gcc13-opt", 255, true),
        cpuLimit: r.int("jupyterhub.cpuLimit", j.cpuLimit, d.cpuLimit, 1, 64),
        memoryLimitGb: r.int("jupyterhub.memoryLimitGb", j.memoryLimitGb, d.memoryLimitGb, 1, 512),
        cullIdleSeconds: r.int("jupyterhub.cullIdleSeconds", j.cullIdleSeconds, d.cullIdleSeconds, 300, 30 * 86400),
    };
    if (hub.image && unpinnedReason(hub.image) !== undefined) r.report("jupyterhub.image", `must carry a pinned tag, never latest or none (got ${describe(hub.image)})`);
    // One NodePort, one Service: the pool's two are taken.
    for (const key of ["collectorPort", "schedulerPort"] as const) {
        if (hub.nodePort === ctx.htcondor[key]) r.report("jupyterhub.nodePort", `must differ from htcondor.${key} (${hub.nodePort})`);
    }
    if (!hub.enabled) return hub;
    if (!hub.iamClientId) r.report("jupyterhub.iamClientId", "is required when jupyterhub.enabled is true (the IAM client the hub logs users in with)");
    if (!ctx.secretKeys.has("jupyterhubIamClientSecret")) {
        r.report("jupyterhubIamClientSecret", `is required when jupyterhub.enabled is true (${setSecretCommand("jupyterhubIamClientSecret", ctx.stack)})`);
    }
    // The kernel and the terminals' setupATLAS read these repositories.
    for (const repo of ["sft.cern.ch", "atlas.cern.ch"]) {
        if (!ctx.cvmfs.repositories.includes(repo)) r.report("jupyterhub.enabled", `needs ${repo} in cvmfs.repositories (the hub's kernel and setupATLAS read it)`);
    }
    return hub;
}

/** Secret keys of the `incant:` namespace. */
export const SECRET_KEYS = ["osApplicationCredentialSecret", "s3AccessKeyId", "s3SecretAccessKey",
    "s3IamClientSecret", "registryPassword", "sshPrivateKey", "jupyterhubIamClientSecret"] as const;

/** The command that sets a secret key, as every message that asks for one spells it. */
export function setSecretCommand(key: typeof SECRET_KEYS[number], stack: string): string {
    return `pulumi config set --secret ${NAMESPACE}:${key} --stack ${stack}`;
}

/**
 * HTCondor security advisories (FACTS.md): HTCONDOR-2026-0001 fixed in 24.0.22 and 25.11.1,
 * HTCONDOR-2026-0002 fixed in 25.13.3. Returns a message for a vulnerable version.
 */
export function htcondorAdvisoryProblem(version: string): string | undefined {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
    if (!m) return "must be an exact HTCondor version like 24.0.22";
    const [major, minor, patch] = m.slice(1).map(Number);
    const below = (a: number, b: number, c: number) => major === a && (minor < b || (minor === b && patch < c));
    if (major < 24 || below(24, 0, 22)) return `(${version}) is affected by HTCONDOR-2026-0001: use 24.0.22 or later`;
    if (major === 25 && below(25, 13, 3)) return `(${version}) is affected by HTCONDOR-2026-0002: use 25.13.3 or later`;
    // Not an advisory, but the pool depends on it: FS authentication broke with TCP_FORWARDING_HOST,
    // which every pool daemon behind a NodePort sets (fixed in 24.0.23, HTCONDOR-3860).
    if (below(24, 0, 23)) return `(${version}) lacks the fix of HTCONDOR-3860 (FS authentication with TCP_FORWARDING_HOST, which the pool sets): use 24.0.23 or later`;
    return undefined;
}

/** incant:iam.jobTokens: unset, or the IAM client of job tokens with service, scopes and audience (defaults.ts JOB_TOKEN_DEFAULTS). */
function readJobTokens(r: Reader, raw: unknown): { jobTokens?: JobTokensConfig } {
    const t = r.object("iam.jobTokens", raw, OBJECT_KEYS["iam.jobTokens"]);
    if (!t) return {};
    const clientId = r.optionalString("iam.jobTokens.clientId", t.clientId, GRAMMARS.clientId);
    if (!clientId) {
        r.report("iam.jobTokens.clientId", "is required with iam.jobTokens (the IAM client registered for job tokens: docs/security.md)");
        return {};
    }
    const d = JOB_TOKEN_DEFAULTS;
    const issuer = r.optionalString("iam.jobTokens.issuer", t.issuer, GRAMMARS.httpsUrl);
    if (issuer && !issuer.endsWith("/")) r.report("iam.jobTokens.issuer", `must end with / as IAM prints it (got ${describe(issuer)})`);
    return {
        jobTokens: {
            clientId,
            service: r.string("iam.jobTokens.service", t.service, d.service, GRAMMARS.jobTokenService),
            scopes: r.stringList("iam.jobTokens.scopes", t.scopes, [...d.scopes], GRAMMARS.scope, LIST_LIMITS.jobTokenScopes),
            audience: r.string("iam.jobTokens.audience", t.audience, d.audience, GRAMMARS.audience),
            ...(issuer ? { issuer } : {}),
        },
    };
}
