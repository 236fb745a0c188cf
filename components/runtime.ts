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

