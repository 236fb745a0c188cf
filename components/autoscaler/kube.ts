/**
 * The controller's Kubernetes backend: the worker Deployment's pods and its scale subresource,
 * through the API server with the pod's service account (in-cluster: the token and CA the kubelet
 * projects, https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/). Plain HTTPS,
 * no client library: six calls, each allowed by the Role in manifests.ts and nothing more.
 *
 * Scale-in removes exactly the drained idle pods: it gives them the lowest
 * `controller.kubernetes.io/pod-deletion-cost` and every other worker pod a high one, then lowers
 * the replicas by as many. The ReplicaSet controller honours the cost only after its earlier
 * criteria (unscheduled, pending, not ready pods go first:
 * https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#pod-deletion-cost), so the
 * scale-in is refused unless every other worker pod is scheduled, running and ready.
 */
import * as fs from "fs";
import * as https from "https";
import { DRAIN } from "../htcondor/config";
import { WorkerBackend, WorkerPod } from "./controller";

export const DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";
const SA = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeTarget {
    namespace: string;
    /** The worker Deployment's name. */
    deployment: string;
    /** Its pods' label selector, e.g. "app.kubernetes.io/name=htcondor,app.kubernetes.io/component=worker". */
    selector: string;
    /** This controller's name, for Events. */
    component: string;
}

export interface PodObject {
    metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
    spec: { nodeName?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
}

/** The worker VM index of a node name (incant-<stack>-worker-<i>), when it is one. */
export function nodeIndexOf(nodeName: string | undefined): number | undefined {
    const m = nodeName ? /-worker-(\d+)$/.exec(nodeName) : null;
    return m ? Number(m[1]) : undefined;
}

/** Pods of a list answer as the controller sees them (terminating ones left out). */
export function workerPods(items: PodObject[]): WorkerPod[] {
    return items.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({
        name: p.metadata.name, nodeIndex: nodeIndexOf(p.spec.nodeName), drainAnnotated: p.metadata.annotations?.[DRAIN.annotation] === "true",
    }));
}

/** Why a scale-in removing `remove` could take another pod instead; undefined when it cannot. */
export function scaleInHazard(items: PodObject[], remove: string[]): string | undefined {
    for (const p of items.filter((x) => !x.metadata.deletionTimestamp && !remove.includes(x.metadata.name))) {
        const ready = p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        if (!p.spec.nodeName || p.status.phase !== "Running" || !ready) return `${p.metadata.name} is not scheduled, running and ready: the ReplicaSet would remove it first`;
    }
    return undefined;
}

export class KubeBackend implements WorkerBackend {
    private readonly token = () => fs.readFileSync(`${SA}/token`, "utf8").trim();
    private readonly ca = fs.readFileSync(`${SA}/ca.crt`);

    constructor(readonly t: KubeTarget, private readonly host = process.env.KUBERNETES_SERVICE_HOST ?? "kubernetes.default.svc",
        private readonly port = Number(process.env.KUBERNETES_SERVICE_PORT ?? 443)) {}

    private request<T>(method: string, path: string, body?: object, contentType = "application/json"): Promise<T> {
        const data = body ? JSON.stringify(body) : undefined;
        return new Promise((resolve, reject) => {
            const req = https.request({
                host: this.host, port: this.port, method, path, ca: this.ca, timeout: 15_000,
                headers: { Authorization: `Bearer ${this.token()}`, Accept: "application/json", ...(data ? { "Content-Type": contentType } : {}) },
            }, (res) => {
                let text = "";
                res.on("data", (c: Buffer) => { text += c.toString(); });
                res.on("end", () => {
                    if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
                    else resolve(text ? JSON.parse(text) as T : (undefined as T));
                });
            });
            req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
            req.on("error", reject);
            req.end(data);
        });
    }

    private get ns(): string {
        return `/api/v1/namespaces/${encodeURIComponent(this.t.namespace)}`;
    }

    private get scalePath(): string {
        return `/apis/apps/v1/namespaces/${encodeURIComponent(this.t.namespace)}/deployments/${encodeURIComponent(this.t.deployment)}/scale`;
    }

    private async pods(): Promise<PodObject[]> {
        return (await this.request<{ items: PodObject[] }>("GET", `${this.ns}/pods?labelSelector=${encodeURIComponent(this.t.selector)}`)).items;
    }

    async list(): Promise<{ pods: WorkerPod[]; replicas: number }> {
        const [items, scale] = await Promise.all([this.pods(), this.request<{ spec: { replicas?: number } }>("GET", this.scalePath)]);
        return { pods: workerPods(items), replicas: scale.spec.replicas ?? 0 };
    }

    private annotate(pod: string, annotations: Record<string, string | null>): Promise<unknown> {
        return this.request("PATCH", `${this.ns}/pods/${encodeURIComponent(pod)}`, { metadata: { annotations } }, "application/merge-patch+json");
    }

    async setDrain(pod: string, drain: boolean): Promise<void> {
        await this.annotate(pod, { [DRAIN.annotation]: drain ? "true" : null });
    }

    async scaleIn(remove: string[], replicas: number): Promise<void> {
        const items = await this.pods();
        const hazard = scaleInHazard(items, remove);
        if (hazard) throw new Error(`scale-in held: ${hazard}`);
        for (const p of items) await this.annotate(p.metadata.name, { [DELETION_COST]: remove.includes(p.metadata.name) ? "-1000" : "1000" });
        await this.request("PATCH", this.scalePath, { spec: { replicas } }, "application/merge-patch+json");
    }

    async scaleOut(replicas: number): Promise<void> {
        await this.request("PATCH", this.scalePath, { spec: { replicas } }, "application/merge-patch+json");
    }

    async event(type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
        const now = new Date().toISOString();
        await this.request("POST", `${this.ns}/events`, {
            metadata: { generateName: `${this.t.deployment}.` },
            involvedObject: { apiVersion: "apps/v1", kind: "Deployment", name: this.t.deployment, namespace: this.t.namespace },
            type, reason, message: message.slice(0, 1000),
            source: { component: this.t.component }, firstTimestamp: now, lastTimestamp: now, count: 1,
        });
    }
}
