/**
 * The VM runner's Kubernetes client (vm-runner.ts): the stack's admin kubeconfig (the `kubeconfig`
 * stack output: a client certificate in `kubeadm:cluster-admins`, components/kubernetes/kubeconfig.ts),
 * plain HTTPS, no client library. The calls are the ones `kubectl cordon` and `kubectl drain`
 * make: a merge patch of `spec.unschedulable`, and the Eviction subresource for each pod that is
 * not a DaemonSet's or a mirror pod (https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/),
 * so PodDisruptionBudgets are honoured.
 */
import * as https from "https";
import YAML from "yaml";
import { nodeIndexOf, PodObject } from "./kube";

/** The parts of a kubeconfig the client uses (its current context's cluster and user). */
export interface KubeAccess {
    server: string;
    caPem: string;
    certPem?: string;
    keyPem?: string;
    token?: string;
}

interface KubeconfigDoc {
    "current-context"?: string;
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    clusters?: { name: string; cluster: { server: string; "certificate-authority-data"?: string } }[];
    users?: { name: string; user: { "client-certificate-data"?: string; "client-key-data"?: string; token?: string } }[];
}

const b64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, "base64").toString("utf8"));

/** Reads a kubeconfig's current context (or its only cluster and user). Throws naming the part missing, never quoting the file. */
export function parseKubeconfig(text: string): KubeAccess {
    const doc = YAML.parse(text) as KubeconfigDoc;
    const ctx = doc.contexts?.find((c) => c.name === doc["current-context"])?.context;
    const cluster = (ctx ? doc.clusters?.find((c) => c.name === ctx.cluster) : doc.clusters?.[0])?.cluster;
    const user = (ctx ? doc.users?.find((u) => u.name === ctx.user) : doc.users?.[0])?.user;
    if (!cluster?.server || !cluster["certificate-authority-data"]) throw new Error("the kubeconfig has no cluster with a server and certificate-authority-data");
    if (!user || (!user.token && !(user["client-certificate-data"] && user["client-key-data"]))) throw new Error("the kubeconfig's user has neither a client certificate and key nor a token");
    return {
        server: cluster.server, caPem: b64(cluster["certificate-authority-data"])!,
        certPem: b64(user["client-certificate-data"]), keyPem: b64(user["client-key-data"]), token: user.token,
    };
}

export interface NodePod {
    namespace: string;
    name: string;
    /** Owned by a DaemonSet (drain leaves it, as `kubectl drain --ignore-daemonsets`). */
    daemonSet: boolean;
    /** A static pod's mirror (cannot be evicted). */
    mirror: boolean;
    terminating: boolean;
    labels: Record<string, string>;
}

interface FullPod extends PodObject {
    metadata: PodObject["metadata"] & { namespace: string; labels?: Record<string, string>; ownerReferences?: { kind: string }[] };
}

export class ClusterClient {
    private readonly url: URL;

    constructor(private readonly access: KubeAccess, private readonly timeoutMs = 15_000) {
        this.url = new URL(access.server);
    }

    request<T>(method: string, path: string, body?: object, contentType = "application/json"): Promise<T> {
        const data = body ? JSON.stringify(body) : undefined;
        return new Promise((resolve, reject) => {
            const req = https.request({
                host: this.url.hostname, port: this.url.port || 443, method, path, timeout: this.timeoutMs,
                ca: this.access.caPem, cert: this.access.certPem, key: this.access.keyPem,
                headers: {
                    Accept: "application/json", ...(this.access.token ? { Authorization: `Bearer ${this.access.token}` } : {}),
                    ...(data ? { "Content-Type": contentType } : {}),
                },
            }, (res) => {
                let text = "";
                res.on("data", (c: Buffer) => { text += c.toString(); });
                res.on("end", () => {
                    if ((res.statusCode ?? 500) >= 300) reject(Object.assign(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`), { status: res.statusCode }));
                    else resolve(text ? JSON.parse(text) as T : (undefined as T));
                });
            });
            req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
            req.on("error", reject);
            req.end(data);
        });
    }

    /** The worker Deployment's replicas (what the pod autoscaler wants). */
    async replicas(namespace: string, deployment: string): Promise<number> {
        const scale = await this.request<{ spec: { replicas?: number } }>("GET",
            `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(deployment)}/scale`);
        return scale.spec.replicas ?? 0;
    }

    /**
     * Worker VM indexes with a worker pod on them. A terminating pod counts: its startd may still
     * be finishing a job (the grace period), and the VM must outlive it.
     */
    async busyIndexes(namespace: string, selector: string): Promise<number[]> {
        const list = await this.request<{ items: PodObject[] }>("GET",
            `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`);
        const idx = list.items.map((p) => nodeIndexOf(p.spec.nodeName)).filter((i): i is number => i !== undefined);
        return [...new Set(idx)].sort((a, b) => a - b);
    }

    /** Every pod bound to a node. */
    async podsOn(node: string): Promise<NodePod[]> {
        const list = await this.request<{ items: FullPod[] }>("GET", `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`);
        return list.items.map((p) => ({
            namespace: p.metadata.namespace, name: p.metadata.name, labels: p.metadata.labels ?? {},
            daemonSet: (p.metadata.ownerReferences ?? []).some((o) => o.kind === "DaemonSet"),
            mirror: p.metadata.annotations?.["kubernetes.io/config.mirror"] !== undefined,
            terminating: p.metadata.deletionTimestamp !== undefined,
        }));
    }

    async setUnschedulable(node: string, unschedulable: boolean): Promise<void> {
        await this.request("PATCH", `/api/v1/nodes/${encodeURIComponent(node)}`, { spec: { unschedulable: unschedulable || null } }, "application/merge-patch+json");
    }

    /** Asks the API server to evict a pod (PodDisruptionBudgets apply: HTTP 429 when one forbids it now). */
    async evict(pod: NodePod): Promise<void> {
        const ns = encodeURIComponent(pod.namespace);
        await this.request("POST", `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod.name)}/eviction`, {
            apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod.name, namespace: pod.namespace },
        });
    }

    async event(namespace: string, deployment: string, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
        const now = new Date().toISOString();
        await this.request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
            metadata: { generateName: `${deployment}.` },
            involvedObject: { apiVersion: "apps/v1", kind: "Deployment", name: deployment, namespace },
            type, reason, message: message.slice(0, 1000),
            source: { component: "incant-vm-runner" }, firstTimestamp: now, lastTimestamp: now, count: 1,
        });
    }
}

/** True when a label selector of `k=v,k=v` terms matches a pod's labels. */
export function selectorMatches(selector: string, labels: Record<string, string>): boolean {
    return selector.split(",").filter(Boolean).every((term) => {
        const [k, v] = term.split("=");
        return labels[k] === v;
    });
}
