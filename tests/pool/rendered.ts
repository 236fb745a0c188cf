/**
 * The dev stack rendered with its secrets (`npm run render -- --stack dev --show-secrets`) into a
 * temporary folder, and the parts of it the loopback pool runs: the pool's Kubernetes objects
 * (Deployments, ConfigMaps, Secrets), each daemon's htcondor/<role>.conf and the map file, and
 * the submit host's compose file and files.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { PoolRole } from "../../components/htcondor/manifests";

const ROOT = path.resolve(__dirname, "..", "..");

/* The Kubernetes objects as rendered (plain YAML documents). */
export interface K8sVolume {
    name: string;
    configMap?: { name: string; defaultMode?: number; items?: { key: string; path: string; mode?: number }[] };
    secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
    emptyDir?: { sizeLimit?: string };
    persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
}
export interface K8sMount { name: string; mountPath: string; readOnly?: boolean; subPath?: string }
export interface K8sEnv { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string; divisor?: string } } }
export interface K8sContainer {
    name: string;
    env?: K8sEnv[];
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    securityContext: { allowPrivilegeEscalation?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
    volumeMounts: K8sMount[];
}
export interface K8sPodSpec { containers: K8sContainer[]; volumes: K8sVolume[] }

export interface ComposeVolume { type: string; source: string; target: string; read_only?: boolean }
export interface ComposeService { environment?: Record<string, string>; extra_hosts?: string[]; volumes?: ComposeVolume[]; hostname?: string }

export interface RenderedStack {
    dir: string;
    /** htcondor/<role>.conf, as written by the render. */
    conf: Record<PoolRole, string>;
    mapfile: string;
    podSpec: Record<PoolRole, K8sPodSpec>;
    configMaps: Record<string, Record<string, string>>;
    /** Secret data by Secret name, decoded to bytes. */
    secrets: Record<string, Record<string, Buffer>>;
    /** The submit container in docker/compose.yaml. */
    submit: ComposeService;
    /** A file the program installs on the submit host (docker/host/<path>). */
    submitHostFile(hostPath: string): Buffer;
}

/**
 * Runs the render (about 4 s) into `out`, which must not exist yet. INCANT_POOL_RENDERED=<dir>
 * reads an earlier `--show-secrets` render of the dev stack instead (debugging the harness).
 */
export function renderDev(out: string, stackFile?: string): RenderedStack {
    if (process.env.INCANT_POOL_RENDERED && !stackFile) return readRendered(process.env.INCANT_POOL_RENDERED);
    // stackFile: a variant of Pulumi.dev.yaml (a test's own settings, e.g. tests/pool/fairshare.test.ts).
    const r = spawnSync("npm", ["run", "--silent", "render", "--", "--stack", "dev", ...(stackFile ? ["--config-file", stackFile] : []), "--show-secrets", "--out", out],
        { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`render failed (${r.status}): ${r.stdout}${r.stderr}`);
    return readRendered(out);
}

const readYaml = <T>(file: string): T => YAML.parse(fs.readFileSync(file, "utf8")) as T;

export function readRendered(dir: string): RenderedStack {
    const k8s = path.join(dir, "kubernetes", "htcondor");
    const roles: PoolRole[] = ["central-manager", "scheduler", "worker"];
    const configMaps: RenderedStack["configMaps"] = {};
    const secrets: RenderedStack["secrets"] = {};
    for (const f of fs.readdirSync(k8s)) {
        const doc = readYaml<{ metadata: { name: string }; data?: Record<string, string>; stringData?: Record<string, string> }>(path.join(k8s, f));
        if (f.startsWith("configmap-")) configMaps[doc.metadata.name] = doc.data ?? {};
        if (f.startsWith("secret-")) {
            const data: Record<string, Buffer> = {};
            for (const [k, v] of Object.entries(doc.data ?? {})) data[k] = Buffer.from(v, "base64");
            for (const [k, v] of Object.entries(doc.stringData ?? {})) data[k] = Buffer.from(v);
            secrets[doc.metadata.name] = data;
        }
    }
    const podSpec = Object.fromEntries(roles.map((role) => [role,
        readYaml<{ spec: { template: { spec: K8sPodSpec } } }>(path.join(k8s, `deployment-htcondor-${role}.yaml`)).spec.template.spec])) as Record<PoolRole, K8sPodSpec>;
    const compose = readYaml<{ services: Record<string, ComposeService> }>(path.join(dir, "docker", "compose.yaml"));
    return {
        dir,
        conf: Object.fromEntries(roles.map((role) => [role, fs.readFileSync(path.join(dir, "htcondor", `${role}.conf`), "utf8")])) as Record<PoolRole, string>,
        mapfile: fs.readFileSync(path.join(dir, "htcondor", "mapfile"), "utf8"),
        podSpec, configMaps, secrets,
        submit: compose.services.submit,
        submitHostFile: (hostPath) => fs.readFileSync(path.join(dir, "docker", "host", hostPath)),
    };
}

/**
 * The value the downward API gives `resourceFieldRef`: the quantity divided by the divisor,
 * rounded up (Kubernetes ExtractContainerResourceValue). CPU in cores or millicores, memory in
 * binary or decimal units.
 */
export function downwardResource(quantity: string, divisor = "1"): number {
    return Math.ceil(parseQuantity(quantity) / parseQuantity(divisor));
}

const UNITS: Record<string, number> = {
    "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
};

export function parseQuantity(q: string): number {
    const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
    if (!m || !(m[2] in UNITS)) throw new Error(`unsupported Kubernetes quantity "${q}"`);
    return Number(m[1]) * UNITS[m[2]];
}
