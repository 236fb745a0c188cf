/**
 * Validation of the raw stack configuration into a typed `FacilityConfig`.
 *
 * Pure: takes the raw values of the `incant:*` keys (as Pulumi parses them from the stack file)
 * and returns either the typed config or every problem found, each naming its key and the stack
 * file. `pulumi.Config.requireObject` does not validate, so this is the only gate.
 */
import { DEFAULTS } from "./defaults";
import { cidrsOverlap, parseCidr } from "./cidr";
import { quotaProblems } from "./quota";
import { WORKER_OFFSET } from "../network/addressing";
import { unpinnedReason } from "../../policy/images";
import {
    FacilityConfig, FacilityUser, FlavorSize, NodeGroup, StorageNode, SubmitNode,
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

/** Reads one typed field at a config path, recording a problem instead of throwing. */
class Reader {
    constructor(private readonly problems: Problems) {}

    report(path: string, message: string): void {
        this.problems.push(`${NAMESPACE}:${path} ${message}`);
    }

    object(path: string, value: unknown): Record<string, unknown> | undefined {
        if (value === undefined) return undefined;
        if (typeof value === "object" && value !== null && !Array.isArray(value)) {
            return value as Record<string, unknown>;
        }
        this.report(path, `must be an object (got ${describe(value)})`);
        return undefined;
    }

    string(path: string, value: unknown, fallback?: string, pattern?: RegExp, hint?: string): string {
        if (value === undefined || value === null) {
            if (fallback === undefined) this.report(path, "is required");
            return fallback ?? "";
        }
        if (typeof value !== "string" || value.trim() === "") {
            this.report(path, `must be a non-empty string (got ${describe(value)})`);
            return fallback ?? "";
        }
        if (pattern && !pattern.test(value)) this.report(path, `${hint ?? `must match ${pattern}`} (got "${value}")`);
        return value;
    }

    optionalString(path: string, value: unknown): string | undefined {
        return value === undefined || value === null ? undefined : this.string(path, value);
    }

    /** Integer in [min, max]; numbers given as strings (`pulumi config set x 3`) are accepted. */
    int(path: string, value: unknown, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
        if (value === undefined || value === null) {
            if (fallback === undefined) this.report(path, "is required");
            return fallback ?? min;
        }
        const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
        if (typeof n !== "number" || !Number.isInteger(n)) {
            this.report(path, `must be an integer (got ${describe(value)})`);
            return fallback ?? min;
        }
        if (n < min || n > max) {
            const upTo = max === Number.MAX_SAFE_INTEGER ? "" : ` up to ${max}`;
            const range = min === 1 ? `a positive integer${upTo}` : upTo ? `between ${min} and ${max}` : `>= ${min}`;
            this.report(path, `must be ${range} (got ${n})`);
            return fallback ?? min;
        }
        return n;
    }

    bool(path: string, value: unknown, fallback: boolean): boolean {
        if (value === undefined || value === null) return fallback;
        if (typeof value === "boolean") return value;
        if (value === "true" || value === "false") return value === "true";
        this.report(path, `must be true or false (got ${describe(value)})`);
        return fallback;
    }

    oneOf<T extends string>(path: string, value: unknown, options: readonly T[], fallback: T): T {
        if (value === undefined || value === null) return fallback;
        if (typeof value === "string" && (options as readonly string[]).includes(value)) return value as T;
        this.report(path, `must be one of ${options.map((o) => `"${o}"`).join(", ")} (got ${describe(value)})`);
        return fallback;
    }

    stringList(path: string, value: unknown, fallback: string[]): string[] {
        if (value === undefined || value === null) return fallback;
        if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.trim() === "")) {
            this.report(path, `must be a list of non-empty strings (got ${describe(value)})`);
            return fallback;
        }
        return value as string[];
    }

    cidr(path: string, value: unknown, fallback?: string): string {
        const text = this.string(path, value, fallback);
        if (text && !parseCidr(text)) this.report(path, `must be an IPv4 CIDR like 10.0.0.0/24 with no host bits set (got "${text}")`);
        return text;
    }

    cidrList(path: string, value: unknown, fallback: string[]): string[] {
        const list = this.stringList(path, value, fallback);
        list.forEach((c, i) => {
            if (!parseCidr(c)) this.report(`${path}[${i}]`, `must be an IPv4 CIDR like 203.0.113.0/24 (got "${c}")`);
        });
        return list;
    }
}

function describe(value: unknown): string {
    if (Array.isArray(value)) return "a list";
    if (value === null) return "null";
    if (typeof value === "object") return "an object";
    return typeof value === "string" ? `"${value}"` : String(value);
}

const VERSION_RE = /^v?\d+\.\d+(\.\d+)?([-.][0-9A-Za-z.-]+)?$/;
const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const SSH_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/;

function readFlavors(r: Reader, raw: unknown): Record<string, FlavorSize> {
    const obj = r.object("flavors", raw);
    if (!obj) return DEFAULTS.flavors;
    const out: Record<string, FlavorSize> = {};
    for (const [name, size] of Object.entries(obj)) {
        const s = r.object(`flavors.${name}`, size) ?? {};
        out[name] = {
            vcpus: r.int(`flavors.${name}.vcpus`, s.vcpus, undefined, 1),
            ramGb: r.int(`flavors.${name}.ramGb`, s.ramGb, undefined, 1),
        };
    }
    return out;
}

function readGroup(r: Reader, path: string, raw: unknown, d: NodeGroup, flavors: Record<string, FlavorSize>,
    maxCount = 10_000): NodeGroup {
    const o = r.object(path, raw) ?? {};
    const g = {
        count: r.int(`${path}.count`, o.count, d.count, 1, maxCount),
        flavor: r.string(`${path}.flavor`, o.flavor, d.flavor),
        diskGb: r.int(`${path}.diskGb`, o.diskGb, d.diskGb, 10, 16_384),
    };
    checkFlavor(r, `${path}.flavor`, g.flavor, flavors);
    return g;
}

function checkFlavor(r: Reader, path: string, flavor: string, flavors: Record<string, FlavorSize>): void {
    if (flavor && !(flavor in flavors)) {
        r.report(path, `names unknown flavor "${flavor}"; known: ${Object.keys(flavors).join(", ")} ` +
            "(declare it under incant:flavors with its vcpus and ramGb)");
    }
}

function readUsers(r: Reader, raw: unknown): FacilityUser[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
        r.report("users", `must be a list of {name, uid, iamSubject} (got ${describe(raw)})`);
        return [];
    }
    const users = raw.map((u, i): FacilityUser => {
        const o = r.object(`users[${i}]`, u) ?? {};
        return {
            name: r.string(`users[${i}].name`, o.name, undefined, USER_RE, "must be a POSIX login name"),
            // Below 1000 are system accounts; 65534 is nobody.
            uid: r.int(`users[${i}].uid`, o.uid, undefined, 1000, 65533),
            iamSubject: r.string(`users[${i}].iamSubject`, o.iamSubject),
        };
    });
    for (const key of ["name", "uid", "iamSubject"] as const) {
        const seen = new Set<unknown>();
        users.forEach((u, i) => {
            if (seen.has(u[key])) r.report(`users[${i}].${key}`, `duplicates another user's ${key} (${u[key]})`);
            seen.add(u[key]);
        });
    }
    return users;
}

/** Validates raw stack values; throws `ConfigValidationError` listing every problem. */
export function validateConfig(raw: RawConfig, ctx: ValidationContext): FacilityConfig {
    const stackFile = `Pulumi.${ctx.stack}.yaml`;
    const problems: Problems = [];
    const r = new Reader(problems);
    // Every key with a default, the stack identity and the SSH key (no default), and the secrets.
    const known = new Set([...Object.keys(DEFAULTS), "environment", "namePrefix", "sshPublicKey", ...SECRET_KEYS]);
    for (const key of Object.keys(raw)) {
        if (!known.has(key)) r.report(key, `is not a known key (known: ${[...known].sort().join(", ")})`);
    }
    for (const key of SECRET_KEYS) {
        if (raw[key] !== undefined && !ctx.secretKeys.has(key)) {
            r.report(key, `must be set as a secret: ${setSecretCommand(key, ctx.stack)}`);
        }
    }

    const environment = r.string("environment", raw.environment, ctx.stack, NAME_RE, "must be a short lower-case name");
    const namePrefix = r.string("namePrefix", raw.namePrefix, `incant-${ctx.stack}`, NAME_RE,
        "must be lower-case letters, digits and dashes, at most 31 characters");

    const os = r.object("openstack", raw.openstack) ?? {};
    const d = DEFAULTS;
    const openstack = {
        cloud: r.optionalString("openstack.cloud", os.cloud),
        authUrl: r.optionalString("openstack.authUrl", os.authUrl),
        region: r.string("openstack.region", os.region, d.openstack.region),
        image: r.string("openstack.image", os.image, d.openstack.image),
        ubuntuRelease: r.oneOf("openstack.ubuntuRelease", os.ubuntuRelease, ["22.04", "24.04"] as const, d.openstack.ubuntuRelease),
        externalNetwork: r.string("openstack.externalNetwork", os.externalNetwork, d.openstack.externalNetwork),
        availabilityZone: r.optionalString("openstack.availabilityZone", os.availabilityZone),
        applicationCredentialId: r.optionalString("openstack.applicationCredentialId", os.applicationCredentialId),
    };
    if (openstack.authUrl && !/^https:\/\//.test(openstack.authUrl)) r.report("openstack.authUrl", `must be an https:// URL (got "${openstack.authUrl}")`);
    if (openstack.applicationCredentialId && !ctx.secretKeys.has("osApplicationCredentialSecret")) {
        r.report("osApplicationCredentialSecret", "is required when openstack.applicationCredentialId is set " +
            `(${setSecretCommand("osApplicationCredentialSecret", ctx.stack)})`);
    }

    const flavors = readFlavors(r, raw.flavors);

    const n = r.object("network", raw.network) ?? {};
    const adminCidrs = r.cidrList("network.adminCidrs", n.adminCidrs, d.network.adminCidrs);
    const network = {
        cidr: r.cidr("network.cidr", n.cidr, d.network.cidr),
        dnsServers: r.stringList("network.dnsServers", n.dnsServers, d.network.dnsServers),
        podCidr: r.cidr("network.podCidr", n.podCidr, d.network.podCidr),
        serviceCidr: r.cidr("network.serviceCidr", n.serviceCidr, d.network.serviceCidr),
        adminCidrs,
        userCidrs: r.cidrList("network.userCidrs", n.userCidrs, adminCidrs),
    };
    if (adminCidrs.length === 0) {
        r.report("network.adminCidrs", "must list at least one CIDR allowed to reach SSH and the Kubernetes API");
    }
    for (const [path, list] of [["network.adminCidrs", network.adminCidrs], ["network.userCidrs", network.userCidrs]] as const) {
        list.forEach((c, i) => {
            if (parseCidr(c)?.prefix === 0) r.report(`${path}[${i}]`, "must not be 0.0.0.0/0: name the networks that may connect");
        });
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
    const subnet = parseCidr(network.cidr);

    const nodesRaw = r.object("nodes", raw.nodes) ?? {};
    const controlPlane = readGroup(r, "nodes.controlPlane", nodesRaw.controlPlane, d.nodes.controlPlane, flavors, 3);
    if (controlPlane.count === 2) r.report("nodes.controlPlane.count", "must be 1 or 3 (etcd needs an odd number of members)");
    const workers = readGroup(r, "nodes.workers", nodesRaw.workers, d.nodes.workers, flavors);
    const st = r.object("nodes.storage", nodesRaw.storage) ?? {};
    const storage: StorageNode = {
        flavor: r.string("nodes.storage.flavor", st.flavor, d.nodes.storage.flavor),
        diskGb: r.int("nodes.storage.diskGb", st.diskGb, d.nodes.storage.diskGb, 10, 16_384),
        dataVolumeGb: r.int("nodes.storage.dataVolumeGb", st.dataVolumeGb, d.nodes.storage.dataVolumeGb, 1, 65_536),
    };
    checkFlavor(r, "nodes.storage.flavor", storage.flavor, flavors);
    const sb = r.object("nodes.submit", nodesRaw.submit) ?? {};
    const submit: SubmitNode = {
        flavor: r.string("nodes.submit.flavor", sb.flavor, d.nodes.submit.flavor),
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

    const q = r.object("quota", raw.quota) ?? {};
    const quota = {
        vcpus: r.int("quota.vcpus", q.vcpus, d.quota.vcpus, 1),
        ramGb: r.int("quota.ramGb", q.ramGb, d.quota.ramGb, 1),
        blockStorageGb: r.int("quota.blockStorageGb", q.blockStorageGb, d.quota.blockStorageGb, 1),
    };

    const sshPublicKey = r.string("sshPublicKey", raw.sshPublicKey, undefined, SSH_KEY_RE,
        "must be one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)");
    // The program reaches the submit host's Docker daemon over SSH with it (components/submit/host.ts).
    if (!ctx.secretKeys.has("sshPrivateKey")) {
        r.report("sshPrivateKey", "is required: the program reaches the submit host over SSH with the private key of sshPublicKey " +
            `(${setSecretCommand("sshPrivateKey", ctx.stack)} < <key file>)`);
    }

    const v = r.object("versions", raw.versions) ?? {};
    const versions = {
        kubernetes: r.string("versions.kubernetes", v.kubernetes, d.versions.kubernetes, /^1\.(3[0-9]|[4-9][0-9])$/, "must be a Kubernetes minor version from 1.30 on, like \"1.31\""),
        kubernetesPatch: r.string("versions.kubernetesPatch", v.kubernetesPatch, d.versions.kubernetesPatch, /^1\.\d+\.\d+$/, "must be an exact version like \"1.31.4\""),
        htcondor: r.string("versions.htcondor", v.htcondor, d.versions.htcondor, VERSION_RE, "must be a pinned version"),
        calico: r.string("versions.calico", v.calico, d.versions.calico, VERSION_RE, "must be a pinned version"),
        monitoring: r.string("versions.monitoring", v.monitoring, d.versions.monitoring, VERSION_RE, "must be a pinned version"),
        cvmfsCsi: r.string("versions.cvmfsCsi", v.cvmfsCsi, d.versions.cvmfsCsi, VERSION_RE, "must be a pinned version"),
        cvmfsService: r.string("versions.cvmfsService", v.cvmfsService, d.versions.cvmfsService, VERSION_RE, "must be a pinned version"),
    };
    if (versions.kubernetesPatch && versions.kubernetes && !versions.kubernetesPatch.startsWith(`${versions.kubernetes}.`)) {
        r.report("versions.kubernetesPatch", `(${versions.kubernetesPatch}) is not inside versions.kubernetes (${versions.kubernetes})`);
    }
    const htcondorProblem = htcondorAdvisoryProblem(versions.htcondor);
    if (htcondorProblem) r.report("versions.htcondor", htcondorProblem);

    const i = r.object("iam", raw.iam) ?? {};
    const iam = {
        issuer: r.string("iam.issuer", i.issuer, d.iam.issuer, /^https:\/\/[^\s]+\/$/, "must be an https:// URL ending with /"),
        audience: r.optionalString("iam.audience", i.audience),
        kubernetesGroups: r.stringList("iam.kubernetesGroups", i.kubernetesGroups, d.iam.kubernetesGroups),
    };

    const s = r.object("s3", raw.s3) ?? {};
    const s3 = {
        endpoint: r.string("s3.endpoint", s.endpoint, d.s3.endpoint, /^https?:\/\/[^\s/]+(:\d+)?\/?$/, "must be an http(s):// endpoint URL"),
        bucket: r.string("s3.bucket", s.bucket, d.s3.bucket, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name"),
        region: r.string("s3.region", s.region, d.s3.region),
        exportReadWrite: r.bool("s3.exportReadWrite", s.exportReadWrite, d.s3.exportReadWrite),
        credentials: r.oneOf("s3.credentials", s.credentials, ["static", "sts"] as const, d.s3.credentials),
        iamClientId: r.optionalString("s3.iamClientId", s.iamClientId),
        stsRoleArn: r.string("s3.stsRoleArn", s.stsRoleArn, d.s3.stsRoleArn, /^arn:aws:iam::[^:\s]*:role\/\S+$/, "must be a role ARN like arn:aws:iam:::role/IAMaccess"),
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

    const g = r.object("registry", raw.registry) ?? {};
    const registry = {
        server: r.optionalString("registry.server", g.server),
        project: r.string("registry.project", g.project, d.registry.project),
        username: r.optionalString("registry.username", g.username),
    };
    if (registry.server && registry.username && !ctx.secretKeys.has("registryPassword")) {
        r.report("registryPassword", `is required when registry.username is set (${setSecretCommand("registryPassword", ctx.stack)})`);
    }

    const im = r.object("images", raw.images) ?? {};
    const imageRef = (key: keyof typeof d.images): string => {
        const ref = r.string(`images.${key}`, im[key], d.images[key]);
        // The policy pack's rule (policy/images.ts), checked before any resource exists.
        if (unpinnedReason(ref) !== undefined) {
            r.report(`images.${key}`, `must carry a pinned tag, never latest or none (got "${ref}")`);
        }
        return ref;
    };
    const images = {
        worker: imageRef("worker"), scheduler: imageRef("scheduler"),
        centralManager: imageRef("centralManager"), submit: imageRef("submit"),
    };

    const users = readUsers(r, raw.users);

    const h = r.object("htcondor", raw.htcondor) ?? {};
    const htcondor = {
        trustDomain: r.string("htcondor.trustDomain", h.trustDomain, d.htcondor.trustDomain, /^[a-z0-9.-]+$/, "must be a DNS-like name"),
        collectorPort: r.int("htcondor.collectorPort", h.collectorPort, d.htcondor.collectorPort, 30000, 32767),
        schedulerPort: r.int("htcondor.schedulerPort", h.schedulerPort, d.htcondor.schedulerPort, 30000, 32767),
        keyGeneration: r.int("htcondor.keyGeneration", h.keyGeneration, d.htcondor.keyGeneration, 1),
    };
    if (htcondor.collectorPort === htcondor.schedulerPort) r.report("htcondor.schedulerPort", "must differ from htcondor.collectorPort");

    const c = r.object("cvmfs", raw.cvmfs) ?? {};
    const cvmfs = {
        repositories: r.stringList("cvmfs.repositories", c.repositories, d.cvmfs.repositories),
        httpProxy: r.string("cvmfs.httpProxy", c.httpProxy, d.cvmfs.httpProxy),
    };
    if (cvmfs.repositories.length === 0) r.report("cvmfs.repositories", "must list at least one repository (atlas.cern.ch)");
    cvmfs.repositories.forEach((repo, i) => {
        if (!/^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(repo)) r.report(`cvmfs.repositories[${i}]`, `must be a repository name like atlas.cern.ch (got "${repo}")`);
    });

    const readinessTimeoutSeconds = r.int("readinessTimeoutSeconds", raw.readinessTimeoutSeconds, d.readinessTimeoutSeconds, 30, 7200);

    const config: FacilityConfig = {
        stack: ctx.stack, stackFile, environment, namePrefix, openstack, flavors, network, nodes, quota, sshPublicKey,
        versions, iam, s3, registry, images, users, htcondor, cvmfs, readinessTimeoutSeconds,
    };
    if (problems.length === 0) problems.push(...quotaProblems(config).map((p) => `${NAMESPACE}:${p}`));
    if (problems.length > 0) throw new ConfigValidationError(stackFile, problems.map((p) => `${p} [${stackFile}]`));
    return config;
}

/** Secret keys of the `incant:` namespace. */
export const SECRET_KEYS = ["osApplicationCredentialSecret", "s3AccessKeyId", "s3SecretAccessKey",
    "s3IamClientSecret", "registryPassword", "sshPrivateKey"] as const;

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
    return undefined;
}
