/**
 * The stack outputs as a versioned contract for the teams that consume them with a
 * StackReference (examples/consumer/). One source: the table below gives each output's type,
 * secrecy and meaning; `IncantOutputs` is computed from it for TypeScript consumers,
 * contracts/outputs.v1.json is the same table for everyone else, and docs/outputs.md explains it.
 * tests/outputs-contract.test.ts runs the program offline and fails when an output is missing,
 * renamed, of another type, not in the table, or has a different secrecy.
 *
 * Versioning: adding an output is compatible (record it here with the next `since`); renaming,
 * removing, changing a type or a secrecy breaks consumers: that is a new major version (v2),
 * announced in docs/outputs.md, with the old output kept alongside for one release.
 */

/** Exported by the program as `outputsContract`, so a consumer can check what it reads. */
export const OUTPUTS_CONTRACT = "incant-outputs/v1";
/** The contract's current minor version (the `since` of the newest output). */
export const OUTPUTS_CONTRACT_MINOR = "1.2";

/** The shape of a value: a JSON scalar, or an object of named fields. */
export type FieldType = "string" | "number" | "boolean" | { readonly [field: string]: FieldType };

export interface OutputSpec {
    readonly type: FieldType;
    /** Pulumi secret: `pulumi stack output --show-secrets`; a StackReference yields a secret Output. */
    readonly secret: boolean;
    /** What it is and what a consumer does with it. */
    readonly description: string;
    /** Contract version that introduced it. */
    readonly since: string;
}

const IMAGES = { worker: "string", scheduler: "string", centralManager: "string", submit: "string" } as const;

/** Every output of index.ts. */
export const OUTPUTS = {
    outputsContract: {
        type: "string", secret: false, since: "1.0",
        description: `The contract these outputs follow, "${OUTPUTS_CONTRACT}"; consumers check it before reading anything else.`,
    },
    environment: {
        type: "string", secret: false, since: "1.0",
        description: "Environment label (incant:environment, default the stack name), put on every resource.",
    },
    networkId: {
        type: "string", secret: false, since: "1.0",
        description: "Neutron id of the facility's private network, to attach more VMs or ports to it.",
    },
    kubernetesApiHost: {
        type: "string", secret: false, since: "1.0",
        description: "Floating IP of the Kubernetes API (on the API address keepalived moves between 3 control planes, else on the first control plane), reachable from incant:network.adminCidrs only.",
    },
    apiEndpoint: {
        type: "string", secret: false, since: "1.0",
        description: "https://<kubernetesApiHost>:6443, the API server URL in the kubeconfig.",
    },
    kubeconfig: {
        type: "string", secret: true, since: "1.0",
        description: "Admin kubeconfig of the program (client certificate in group kubeadm:cluster-admins, cluster CA inline). Full control of the cluster.",
    },
    grafanaAdminPassword: {
        type: "string", secret: true, since: "1.0",
        description: "Password of Grafana's admin user (kube-prometheus-stack), reached with kubectl port-forward.",
    },
    nfsServer: {
        type: "string", secret: false, since: "1.0",
        description: "Private address of the storage controller's NFSv4 server (TCP 2049 from workers and the submit host only).",
    },
    nfsExports: {
        type: { home: "string", scratch: "string", archive: "string", archiveReadOnly: "boolean" }, secret: false, since: "1.0",
        description: "Server paths of the NFSv4 exports: homes and scratch. Deprecated since 1.1, removed in v2: archive and archiveReadOnly (the storage controller no longer serves the S3 archive over NFS; read `archive`).",
    },
    storageDataVolumeId: {
        type: "string", secret: false, since: "1.0",
        description: "Cinder id of the protected data volume (homes, scratch, rclone cache): what re-attaches user data to a rebuilt storage VM.",
    },
    s3Archive: {
        type: { endpoint: "string", bucket: "string", region: "string" }, secret: false, since: "1.0",
        description: "The S3 bucket of the archive (incant:s3), which each client mounts with rclone; for teams that read it directly.",
    },
    archive: {
        type: { bucket: "string", readOnly: "boolean", submitPath: "string" }, secret: false, since: "1.1",
        description: "The S3 archive as physicists see it: mounted by rclone on the submit host, at submitPath inside the submit container; read-only unless incant:s3.exportReadWrite. Pool pods do not mount it.",
    },
    htcondorEndpoints: {
        type: { collectorAddress: "string", scheddAddress: "string", scheddName: "string", trustDomain: "string", collectorHostName: "string", scheddHostName: "string" },
        secret: false, since: "1.0",
        description: "How clients outside the pod network reach the pool: collector and schedd host:port (NodePorts on a node address), the schedd's name, the TRUST_DOMAIN, and the names in the daemons' TLS certificates.",
    },
    submitHostAddress: {
        type: "string", secret: false, since: "1.0",
        description: "Floating IP of the submit host, where physicists SSH (from incant:network.userCidrs) and submit jobs.",
    },
    imageRefs: {
        type: IMAGES, secret: false, since: "1.0",
        description: "Pinned references of the ATLAS-enabled images (worker, scheduler, central manager, submit): built digests when a registry is configured, else incant:images.",
    },
    vmCount: {
        type: "number", secret: false, since: "1.0",
        description: "Number of VMs of the stack (control planes, workers, storage controller, submit host).",
    },
    submitSsh: {
        type: { address: "string", port: "number", hostKey: "string" }, secret: false, since: "1.2",
        description: "The physicists' SSH endpoint: the sshd inside the submit container (each user logs in as themselves with incant:users[].sshPublicKey; from incant:network.userCidrs), at address:port, and its host key (`ssh-ed25519 <base64>`, kept across container re-creation) for clients to pin in known_hosts as `[address]:port hostKey`.",
    },
    jupyterhubUrl: {
        type: "string", secret: false, since: "1.2",
        description: "JupyterHub's URL, https://<kubernetesApiHost>:<incant:jupyterhub.nodePort>/ (TLS certificate from the pool CA; reachable from incant:network.userCidrs); the empty string when incant:jupyterhub.enabled is false.",
    },
} as const satisfies Record<string, OutputSpec>;

export type OutputName = keyof typeof OUTPUTS;

/** The TypeScript type of a value of the given shape. */
export type ValueOf<T> = T extends "string" ? string : T extends "number" ? number : T extends "boolean" ? boolean
    : T extends { readonly [field: string]: FieldType } ? { -readonly [K in keyof T]: ValueOf<T[K]> } : never;

/** The stack outputs as a consumer reads them. */
export type IncantOutputs = { -readonly [K in OutputName]: ValueOf<(typeof OUTPUTS)[K]["type"]> };

function typeOf(v: unknown): string {
    return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** Problems of one value against its shape, with the path to each. */
function checkValue(type: FieldType, value: unknown, at: string): string[] {
    if (typeof type === "string") {
        return typeOf(value) === type ? [] : [`output ${at} is ${typeOf(value) === "undefined" ? "missing" : `a ${typeOf(value)}`}, the contract says ${type}`];
    }
    if (typeOf(value) !== "object") return [`output ${at} is a ${typeOf(value)}, the contract says an object`];
    const obj = value as Record<string, unknown>;
    return [
        ...Object.entries(type).flatMap(([k, t]) => checkValue(t, obj[k], `${at}.${k}`)),
        ...Object.keys(obj).filter((k) => !(k in type)).map((k) => `output ${at}.${k} is not in the contract`),
    ];
}

/**
 * Every difference between a stack's outputs and the contract: missing or renamed outputs,
 * outputs not in the contract, wrong types, and secrecy (`secretNames`: the outputs Pulumi holds
 * as secrets) other than the contract's. Empty when the stack honours the contract.
 */
export function checkOutputs(values: Record<string, unknown>, secretNames: readonly string[]): string[] {
    const problems: string[] = [];
    for (const [name, spec] of Object.entries(OUTPUTS)) {
        if (!(name in values)) {
            problems.push(`output ${name} is missing (renamed or removed: a breaking change of ${OUTPUTS_CONTRACT})`);
            continue;
        }
        // A secret's value is only the marker where it was redacted: check its type when present.
        problems.push(...checkValue(spec.type, values[name], name));
        const secret = secretNames.includes(name);
        if (spec.secret && !secret) problems.push(`output ${name} must be a secret`);
        if (!spec.secret && secret) problems.push(`output ${name} is a secret but the contract says plain`);
    }
    for (const name of Object.keys(values).filter((n) => !(n in OUTPUTS))) {
        problems.push(`output ${name} is not in the contract: add it to contracts/outputs.ts and docs/outputs.md`);
    }
    return problems;
}
