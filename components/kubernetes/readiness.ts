/**
 * The readiness gate: nothing is sent to the Kubernetes API before
 *   1. the API server answers `GET /readyz` with 200 over TLS verified against the cluster CA the
 *      program made (no credentials: kubeadm binds system:public-info-viewer to everyone), and
 *   2. with the program's admin client certificate, it lets the program read the ClusterRoleBinding
 *      `kubeadm:cluster-admins`: kubeadm creates that binding only after the API answers, and
 *      before it exists every request of the program's identity gets 403. Reading it needs the
 *      binding itself (only cluster admins may read ClusterRoleBindings), so a 200 proves both.
 *
 * A server whose certificate our CA did not sign is not our API server, and a 401 means it does
 * not accept our client certificate: waiting cannot fix either, and the gate fails at once.
 */
import * as https from "https";
import * as pulumi from "@pulumi/pulumi";
import { onMockMonitor } from "../runtime";

export interface WaitForApiServerArgs {
    /** "https://host:port" of the API server. */
    endpoint: string;
    /** PEM of the CA the server certificate must chain to (and nothing else is trusted). */
    caPem: string;
    /** The program's admin client certificate and key (PEM): the gate waits until they are authorized. */
    client?: { certPem: string; keyPem: string };
    /** Give up after this long (incant:readinessTimeoutSeconds). */
    timeoutMs: number;
    /** Pause between probes. */
    intervalMs: number;
    /** Timeout of one probe; default min(10 s, interval). */
    requestTimeoutMs?: number;
    /** Progress messages (the program logs them to the Pulumi console). */
    log?: (message: string) => void;
}

/** The binding kubeadm makes for the group of the program's admin certificate (kubeadm:cluster-admins). */
export const ADMIN_BINDING_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:cluster-admins";

/** Node's codes for a certificate that does not verify against the given CA or name. */
const UNTRUSTED = new Set([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_SIGNATURE_FAILURE",
    "ERR_TLS_CERT_ALTNAME_INVALID", "CERT_UNTRUSTED", "CERT_REJECTED", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID",
]);

type Probe = { ready: true } | { ready: false; fatal?: string; detail: string };

interface ProbeArgs {
    url: string;
    ca: string;
    timeoutMs: number;
    client?: { certPem: string; keyPem: string };
}

function probe(a: ProbeArgs): Promise<Probe> {
    return new Promise((resolve) => {
        const options = { ca: a.ca, timeout: a.timeoutMs, agent: false, ...(a.client ? { cert: a.client.certPem, key: a.client.keyPem } : {}) };
        const req = https.get(a.url, options, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => { if (body.length < 2000) body += chunk; });
            res.on("end", () => {
                if (res.statusCode === 200) return resolve({ ready: true });
                const detail = `HTTP ${res.statusCode}: ${body.trim().split("\n").filter((l) => l.startsWith("[-]")).join(" ") || body.trim().slice(0, 200)}`;
                resolve(res.statusCode === 401 && a.client
                    ? { ready: false, detail, fatal: "the API server does not accept the program's admin client certificate (HTTP 401): it was not signed by the cluster CA this program made" }
                    : { ready: false, detail });
            });
        });
        req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${a.timeoutMs} ms`), { code: "ETIMEDOUT" })));
        req.on("error", (e: NodeJS.ErrnoException) => {
            const detail = `${e.code ?? "error"}: ${e.message}`;
            resolve(UNTRUSTED.has(e.code ?? "")
                ? { ready: false, detail, fatal: `${a.url} presented a certificate the cluster CA does not vouch for (${detail}): ` +
                    "this is not the cluster's API server, or its certificate lacks the floating IP; refusing to send anything there" }
                : { ready: false, detail });
        });
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once /readyz answers 200 and, with `client`, the admin binding is readable with it;
 * rejects on an untrusted server certificate, a refused client certificate, or when the time is up.
 */
export async function waitForApiServer(args: WaitForApiServerArgs): Promise<void> {
    const base = args.endpoint.replace(/\/$/, "");
    const phases: { url: string; client?: ProbeArgs["client"]; what: string }[] = [
        { url: `${base}/readyz`, what: "answer /readyz" },
        ...(args.client ? [{ url: `${base}${ADMIN_BINDING_PATH}`, client: args.client, what: "authorize the program's admin certificate (kubeadm:cluster-admins)" }] : []),
    ];
    const started = Date.now();
    const deadline = started + args.timeoutMs;
    // Each request may take a TLS handshake on a busy machine: at least 2 s, at most 10 s.
    const requestTimeout = args.requestTimeoutMs ?? Math.min(10_000, Math.max(2_000, args.intervalMs));
    let attempt = 0;
    for (const phase of phases) {
        let last = "";
        for (;;) {
            attempt++;
            const result = await probe({ url: phase.url, ca: args.caPem, client: phase.client, timeoutMs: Math.min(requestTimeout, Math.max(1_000, deadline - Date.now())) });
            if (result.ready) break;
            if (result.fatal) throw new Error(result.fatal);
            if (result.detail !== last) args.log?.(`waiting for ${phase.url}: ${result.detail}`);
            last = result.detail;
            if (Date.now() + args.intervalMs >= deadline) {
                throw new Error(`the Kubernetes API server at ${args.endpoint} did not ${phase.what} within ` +
                    `${Math.round(args.timeoutMs / 1000)} s (incant:readinessTimeoutSeconds); last answer: ${last}. ` +
                    "On the first control plane read /var/log/cloud-init-output.log (lines tagged incant-kubernetes) and `cloud-init status --long`.");
            }
            await sleep(args.intervalMs);
        }
    }
    args.log?.(`Kubernetes API ${args.endpoint} is ready (after ${Math.round((Date.now() - started) / 1000)} s, ${attempt} probe(s))`);
}


/** Whether the program should wait now: only during a real update (not a preview, not offline). */
export function shouldWaitForApiServer(): boolean {
    return !pulumi.runtime.isDryRun() && !onMockMonitor();
}
