/**
 * The readiness gate: nothing is sent to the Kubernetes API before the API server answers
 * `GET /readyz` with 200 over TLS verified against the cluster CA the program made.
 *
 * /readyz needs no credentials (kubeadm binds system:public-info-viewer to unauthenticated
 * users), so the probe carries none. A server whose certificate our CA did not sign is not our
 * API server: waiting cannot fix that, and the gate fails at once instead of timing out.
 */
import * as https from "https";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { getMonitor } from "@pulumi/pulumi/runtime/settings";

export interface WaitForApiServerArgs {
    /** "https://host:port" of the API server. */
    endpoint: string;
    /** PEM of the CA the server certificate must chain to (and nothing else is trusted). */
    caPem: string;
    /** Give up after this long (incant:readinessTimeoutSeconds). */
    timeoutMs: number;
    /** Pause between probes. */
    intervalMs: number;
    /** Timeout of one probe; default min(10 s, interval). */
    requestTimeoutMs?: number;
    /** Progress messages (the program logs them to the Pulumi console). */
    log?: (message: string) => void;
}

/** Node's codes for a certificate that does not verify against the given CA or name. */
const UNTRUSTED = new Set([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_SIGNATURE_FAILURE",
    "ERR_TLS_CERT_ALTNAME_INVALID", "CERT_UNTRUSTED", "CERT_REJECTED", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID",
]);

type Probe = { ready: true } | { ready: false; untrusted: boolean; detail: string };

function probe(url: string, ca: string, timeoutMs: number): Promise<Probe> {
    return new Promise((resolve) => {
        const req = https.get(url, { ca, timeout: timeoutMs, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => { if (body.length < 2000) body += chunk; });
            res.on("end", () => resolve(res.statusCode === 200
                ? { ready: true }
                : { ready: false, untrusted: false, detail: `HTTP ${res.statusCode}: ${body.trim().split("\n").filter((l) => l.startsWith("[-]")).join(" ") || body.trim().slice(0, 200)}` }));
        });
        req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
        req.on("error", (e: NodeJS.ErrnoException) => resolve({ ready: false, untrusted: UNTRUSTED.has(e.code ?? ""), detail: `${e.code ?? "error"}: ${e.message}` }));
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once /readyz answers 200; rejects on an untrusted certificate or when the time is up. */
export async function waitForApiServer(args: WaitForApiServerArgs): Promise<void> {
    const url = `${args.endpoint.replace(/\/$/, "")}/readyz`;
    const started = Date.now();
    const deadline = started + args.timeoutMs;
    const requestTimeout = args.requestTimeoutMs ?? Math.min(10_000, args.intervalMs);
    let last = "";
    for (let attempt = 1; ; attempt++) {
        const result = await probe(url, args.caPem, Math.max(1, Math.min(requestTimeout, deadline - Date.now())));
        if (result.ready) {
            args.log?.(`Kubernetes API ${args.endpoint} is ready (after ${Math.round((Date.now() - started) / 1000)} s, ${attempt} probe(s))`);
            return;
        }
        if (result.untrusted) {
            throw new Error(`${url} presented a certificate the cluster CA does not vouch for (${result.detail}): ` +
                "this is not the cluster's API server, or its certificate lacks the floating IP; refusing to send anything there");
        }
        if (result.detail !== last) args.log?.(`waiting for ${url}: ${result.detail}`);
        last = result.detail;
        if (Date.now() + args.intervalMs >= deadline) {
            throw new Error(`the Kubernetes API server at ${args.endpoint} did not answer /readyz within ` +
                `${Math.round(args.timeoutMs / 1000)} s (incant:readinessTimeoutSeconds); last answer: ${last}. ` +
                "On the first control plane read /var/log/cloud-init-output.log (lines tagged incant-kubernetes) and `cloud-init status --long`.");
        }
        await sleep(args.intervalMs);
    }
}

/**
 * True under Pulumi's mock monitor (the offline engine and the tests): there is no API server
 * to wait for. The waiting logic itself is tested against real servers on 127.0.0.1.
 */
export function onMockMonitor(): boolean {
    return getMonitor() instanceof MockMonitor;
}

/** Whether the program should wait now: only during a real update (not a preview, not offline). */
export function shouldWaitForApiServer(): boolean {
    return !pulumi.runtime.isDryRun() && !onMockMonitor();
}
