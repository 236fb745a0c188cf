/** Where the program runs: a real Pulumi engine, or the mock monitor of the offline engine and the tests. */
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { getMonitor } from "@pulumi/pulumi/runtime/settings";

/**
 * True under Pulumi's mock monitor (the offline engine and the tests): no API server to wait for,
 * no cloud id worth reporting. What is skipped there is tested on its own (the readiness gate
 * against real servers on 127.0.0.1).
 */
export function onMockMonitor(): boolean {
    return getMonitor() instanceof MockMonitor;
}

/**
 * The instant the program runs, for values counted from the deployment (a join token's expiry).
 * Offline (the mock monitor) it is fixed, so two renders of one stack are identical
 * (tests/render.test.ts) and tests can assert exact values.
 */
export const OFFLINE_DEPLOYMENT_TIME = new Date("2026-01-01T00:00:00Z");
export function deploymentTime(): Date {
    return onMockMonitor() ? OFFLINE_DEPLOYMENT_TIME : new Date();
}
