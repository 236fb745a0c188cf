/**
 * What the render writes besides plan.json: one extractor per area, each a pure function from the
 * recorded run to files (relative path -> text). Redaction is applied by the caller.
 */
import * as zlib from "zlib";
import YAML from "yaml";
import { CONFIG_KEY as HTCONDOR_CONFIG_KEY } from "../components/htcondor/manifests";
import { HOST as SUBMIT_HOST } from "../components/submit/services";
import { OfflineRun, RecordedResource } from "./engine";

export type Files = Record<string, string>;
export type Extractor = (run: OfflineRun) => Files;

/** The user-data text of an instance, inflated when it was gzip+base64 encoded. */
export function decodeUserData(userData: string): string {
    if (userData.startsWith("#cloud-config") || userData.startsWith("Content-Type")) return userData;
    const bytes = Buffer.from(userData, "base64");
    return bytes[0] === 0x1f && bytes[1] === 0x8b ? zlib.gunzipSync(bytes).toString() : userData;
}

export function instances(run: OfflineRun): RecordedResource[] {
    return run.resources.filter((r) => r.type === "openstack:compute/instance:Instance");
}

/** cloud-init/<vm-name>.yaml: the exact user-data of every VM. */
export const cloudInit: Extractor = (run) => Object.fromEntries(instances(run).map((r) => [
    `cloud-init/${r.revealedInputs.name}.yaml`, decodeUserData(String(r.revealedInputs.userData ?? "")),
]));

/** The cloud-config document of a VM, parsed. */
export function cloudConfigOf(run: OfflineRun, vmName: string): { write_files?: { path: string; content: string }[] } & Record<string, unknown> {
    const vm = instances(run).find((r) => r.revealedInputs.name === vmName);
    if (!vm) throw new Error(`no VM named ${vmName}`);
    return YAML.parse(decodeUserData(String(vm.revealedInputs.userData)));
}

/** Group (empty for the core API), version and kind of a `kubernetes:<group>/<version>:<Kind>` type. */
export function kindOf(type: string): { group: string; version: string; kind: string } | undefined {
    const m = /^kubernetes:([^:]+)\/([^:]+):(\w+)$/.exec(type);
    if (!m) return undefined;
    return { group: m[1] === "core" ? "" : m[1], version: m[2], kind: m[3] };
}

/** kubernetes/: every Kubernetes object as YAML; helm/: every Helm release with its values. */
export const kubernetesObjects: Extractor = (run) => {
    const files: Files = {};
    for (const r of run.resources) {
        if (r.type === "kubernetes:helm.sh/v3:Release") {
            const i = r.revealedInputs;
            files[`kubernetes/helm/${r.name}.yaml`] = YAML.stringify({
                release: i.name, chart: i.chart, version: i.version, repository: (i.repositoryOpts as Record<string, unknown> | undefined)?.repo,
                namespace: i.namespace, values: i.values ?? {},
            }, { lineWidth: 0 });
            continue;
        }
        const k = kindOf(r.type);
        if (!k || r.type.startsWith("pulumi:providers") || k.kind.endsWith("List") || k.kind === "ConfigFile" || k.kind === "ConfigGroup") continue;
        const i = r.revealedInputs;
        const metadata = (i.metadata ?? {}) as { name?: string; namespace?: string };
        const object = { apiVersion: k.group ? `${k.group}/${k.version}` : k.version, kind: k.kind, ...i };
        delete (object as Record<string, unknown>).__defaults;
        const ns = metadata.namespace ?? "_cluster";
        files[`kubernetes/${ns}/${k.kind.toLowerCase()}-${metadata.name ?? r.name}.yaml`] = YAML.stringify(object, { lineWidth: 0 });
    }
    return files;
};

/**
 * docker/: what the program installs on the submit host over SSH (components/submit/files.ts):
 * docker/compose.yaml, and every other file under docker/host/<path>. Secret files are left out.
 */
export const submitHostFiles: Extractor = (run) => {
    const files: Files = {};
    for (const r of run.resources) {
        const m = r.type === "command:remote:Command" ? /install -m \d+ \/dev\/stdin (\/\S+)$/.exec(String(r.inputs.create ?? "")) : null;
        if (!m || r.secretPaths.includes("stdin")) continue;
        const text = String(r.revealedInputs.stdin ?? "");
        files[m[1] === SUBMIT_HOST.compose ? "docker/compose.yaml" : `docker/host${m[1]}`] = text;
    }
    return files;
};

/**
 * htcondor/<role>.conf: the HTCondor configuration each daemon of the pool receives (its
 * ConfigMap's config.d file), and htcondor/mapfile (the SciTokens map of the collector and schedd);
 * htcondor/users/: the rest of the users ConfigMap (the users file, the users' part of the collector's
 * and schedd's configuration, included by their <role>.conf; components/htcondor/users.ts).
 */
export const htcondorConfigs: Extractor = (run) => {
    const files: Files = {};
    for (const r of run.resources.filter((x) => x.type === "kubernetes:core/v1:ConfigMap")) {
        const labels = ((r.revealedInputs.metadata ?? {}) as { labels?: Record<string, string> }).labels ?? {};
        const data = (r.revealedInputs.data ?? {}) as Record<string, string>;
        if (labels["app.kubernetes.io/name"] !== "htcondor") continue;
        if (data[HTCONDOR_CONFIG_KEY]) files[`htcondor/${labels["app.kubernetes.io/component"]}.conf`] = data[HTCONDOR_CONFIG_KEY];
        if (data.mapfile) files["htcondor/mapfile"] = data.mapfile;
        if (labels["app.kubernetes.io/component"] === "users") {
            for (const [key, content] of Object.entries(data)) if (key !== "mapfile") files[`htcondor/users/${key}`] = content;
        }
    }
    return files;
};

/**
 * storage/<path>: every file the storage controller receives, by cloud-init (exports, nfs.conf,
 * units, scripts, rclone.conf, fuse.conf...) or over SSH (the users list), at its path on the VM. Secrets are redacted by
 * the caller like everywhere else.
 */
export const storageControllerFiles: Extractor = (run) => {
    const files: Files = {};
    for (const vm of instances(run).filter((r) => (r.inputs.metadata as Record<string, string> | undefined)?.role === "storage")) {
        for (const f of cloudConfigOf(run, String(vm.revealedInputs.name)).write_files ?? []) files[`storage${f.path}`] = f.content;
    }
    // The users list arrives over SSH after boot (components/storage/controller.ts).
    const users = run.resources.find((r) => r.type === "command:remote:Command" && r.name.endsWith("-users")
        && r.parent?.includes("incant:storage:StorageController"));
    if (users) files["storage/etc/incant/storage-users.env"] = String(users.revealedInputs.stdin);
    return files;
};

/** Every extractor the render runs; areas add theirs here. */
export const EXTRACTORS: Extractor[] = [cloudInit, kubernetesObjects, submitHostFiles, htcondorConfigs, storageControllerFiles];
