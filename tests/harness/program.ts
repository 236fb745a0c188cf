/**
 * The shared mock harness: runs the real program (index.ts) on the offline engine with a stack
 * file plus overrides, and gives tests typed access to what was registered. Every resource is
 * recorded; any invoke the offline engine does not know throws (offline/mocks.ts).
 */
import * as path from "path";
import { NAMESPACE } from "../../components/config/validate";
import { OfflineRun, RecordedResource, runOffline } from "../../offline/engine";
import { readStack, StackConfig } from "../../offline/stackfile";
import { offlineId } from "../../offline/placeholders";

export const ROOT = path.resolve(__dirname, "..", "..");

export interface ProgramRun extends OfflineRun {
    stack: StackConfig;
    /** Resources of one type (e.g. "openstack:compute/instance:Instance"). */
    ofType(type: string): RecordedResource[];
    /** The one resource with that type and name; throws when absent. */
    get(type: string, name: string): RecordedResource;
    /** A server's fixed address: on its network, or on the port the program made for it (control planes). */
    addressOf(instance: RecordedResource): string;
}

/**
 * Loads `Pulumi.<stack>.yaml`, applies `overrides` (keys without namespace, values as they would
 * be written in YAML; `undefined` deletes a key), and runs the program: index.ts, or `program`
 * (a fixture under tests/fixtures/).
 */
export async function runProgram(stackName = "dev", overrides: Record<string, unknown> = {},
    opts: { secrets?: string[]; preview?: boolean; program?: string } = {}): Promise<ProgramRun> {
    const stack = stackConfig(stackName, overrides, opts.secrets);
    const run = await runOffline({
        project: stack.project, stack: stack.stack, config: stack.config, secretKeys: stack.secretKeys, preview: opts.preview, program: opts.program,
    });
    return withHelpers(run, stack);
}

/** The config map the engine would receive, with overrides. Secret keys default to all known ones. */
function stackConfig(stackName: string, overrides: Record<string, unknown> = {}, secrets?: string[]): StackConfig {
    const stack = readStack(stackName, secrets);
    for (const [key, value] of Object.entries(overrides)) {
        const full = `${NAMESPACE}:${key}`;
        if (value === undefined) delete stack.config[full];
        else stack.config[full] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return stack;
}

export const PORT = "openstack:networking/port:Port";

function withHelpers(run: OfflineRun, stack: StackConfig): ProgramRun {
    const ports = new Map(run.resources.filter((r) => r.type === PORT).map((r) => [offlineId("port", r.name), r]));
    return {
        ...run,
        stack,
        ofType: (type) => run.resources.filter((r) => r.type === type),
        get: (type, name) => {
            const found = run.resources.find((r) => r.type === type && r.name === name);
            if (!found) throw new Error(`no ${type} named ${name}; have: ${run.resources.filter((r) => r.type === type).map((r) => r.name).join(", ")}`);
            return found;
        },
        addressOf: (instance) => {
            const [net] = instance.inputs.networks as { fixedIpV4?: string; port?: string }[];
            if (net.fixedIpV4) return net.fixedIpV4;
            const port = ports.get(String(net.port));
            if (!port) throw new Error(`${instance.name} has neither a fixed address nor a known port`);
            return (port.inputs.fixedIps as { ipAddress: string }[])[0].ipAddress;
        },
    };
}

/** A YAML-ish deep merge for overrides of structured keys. */
export function merged(base: unknown, patch: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) {
        out[k] = v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object"
            ? merged(out[k], v as Record<string, unknown>) : v;
    }
    return out;
}

export const INSTANCE = "openstack:compute/instance:Instance";
