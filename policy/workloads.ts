/**
 * Where containers live in the resources the facility creates: the pod template of each
 * Kubernetes workload kind, and Docker containers on the submit host. Pure functions over the
 * plain property bags CrossGuard hands to a policy (secrets already unwrapped, as the engine does).
 */

/** A Kubernetes container as far as the policies read it. */
export interface K8sContainer {
    name?: string;
    image?: string;
    env?: { name?: string; value?: string; valueFrom?: unknown }[];
    resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
    securityContext?: { privileged?: boolean; capabilities?: { add?: string[] } };
}

/** The pod spec fields the policies read. */
export interface PodSpec {
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    containers?: K8sContainer[];
    initContainers?: K8sContainer[];
    ephemeralContainers?: K8sContainer[];
}

/** A workload's pod spec, its namespace and a readable name ("Deployment htcondor/cm"). */
export interface Workload {
    kind: string;
    namespace: string;
    name: string;
    spec: PodSpec;
}

type Props = Record<string, unknown>;

const get = (o: unknown, ...keys: string[]): unknown =>
    keys.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Props)[k] : undefined), o);

/** Path from a workload's props to its pod spec, by kind (Kubernetes API reference). */
const POD_SPEC_PATH: Record<string, string[]> = {
    Pod: ["spec"],
    Deployment: ["spec", "template", "spec"],
    StatefulSet: ["spec", "template", "spec"],
    DaemonSet: ["spec", "template", "spec"],
    ReplicaSet: ["spec", "template", "spec"],
    ReplicationController: ["spec", "template", "spec"],
    Job: ["spec", "template", "spec"],
    CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** `kubernetes:apps/v1:Deployment` -> "Deployment"; undefined for non-Kubernetes types. */
export function kubernetesKind(type: string): string | undefined {
    return /^kubernetes:[^:]+:(\w+)$/.exec(type)?.[1];
}

/** The workload behind a Kubernetes resource, or undefined when the type carries no pod spec. */
export function workloadOf(type: string, props: Props, fallbackName: string): Workload | undefined {
    const kind = kubernetesKind(type);
    const path = kind ? POD_SPEC_PATH[kind] : undefined;
    if (!kind || !path) return undefined;
    const spec = get(props, ...path);
    if (!spec || typeof spec !== "object") return undefined;
    const namespace = String(get(props, "metadata", "namespace") ?? "default");
    const name = String(get(props, "metadata", "name") ?? fallbackName);
    return { kind, namespace, name, spec: spec as PodSpec };
}

/** Every container of a pod spec, init and ephemeral ones included. */
export function containersOf(spec: PodSpec): K8sContainer[] {
    return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
}

/** "Deployment htcondor/cm" */
export function describe(w: Workload): string {
    return `${w.kind} ${w.namespace}/${w.name}`;
}

export const DOCKER_CONTAINER = "docker:index/container:Container";
export const DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
export const DOCKER_IMAGE = "docker:index/image:Image";

/** The fields of a docker.Container the policies read (@pulumi/docker 5.x inputs). */
export interface DockerContainer {
    name?: string;
    image?: string;
    privileged?: boolean;
    pidMode?: string;
    ipcMode?: string;
    /** "NAME=value" strings. */
    envs?: string[];
}
