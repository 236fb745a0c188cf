/**
 * The CrossGuard pack (policy/policies.ts) run offline: every recorded resource becomes the
 * args the Pulumi engine would pass a policy (type, name, URN, inputs with secrets unwrapped,
 * options, provider), plus the facts only this engine has (secret paths, retainOnDelete, values
 * derived from secrets). The render writes the result as policy.md and fails on a mandatory
 * violation, like `pulumi preview --policy-pack policy` would.
 */
import { EnforcementLevel, PolicyResourceOptions, ResourceValidationPolicy } from "@pulumi/policy";
import { IncantValidationArgs, PACK_ENFORCEMENT, PACK_NAME, POLICIES } from "../policy/policies";
import { OfflineRun, RecordedResource, UNKNOWN_MARKER } from "./engine";
import { providerUrn } from "./graph";

export interface PolicyViolation {
    policy: string;
    enforcementLevel: EnforcementLevel;
    type: string;
    name: string;
    urn: string;
    message: string;
}

export interface PolicyReport {
    /** Names of the policies that ran. */
    policies: string[];
    /** Custom resources checked. */
    checked: number;
    violations: PolicyViolation[];
    /** Policy/resource pairs that could not run (unknown values in a preview). */
    skipped: { policy: string; urn: string; reason: string }[];
}

/** Per-policy configuration, as `--policy-pack-config` would give it. */
export type PackConfig = Record<string, Record<string, unknown>>;

class UnknownValue extends Error {}

/** Like CrossGuard's unknownCheckingProxy: reading a value unknown until deploy throws. */
function unknownChecking<T>(value: T, at = "props"): T {
    if (!value || typeof value !== "object") return value;
    return new Proxy(value as unknown as object, {
        get(target, key, receiver) {
            const v = Reflect.get(target, key, receiver);
            if (typeof key !== "string") return v;
            if (v === UNKNOWN_MARKER) throw new UnknownValue(`${at}.${key} is unknown until deploy`);
            return unknownChecking(v, `${at}.${key}`);
        },
    }) as T;
}

class NotApplicable extends Error {}

/** The args the engine would build for one resource (@pulumi/policy server.ts `analyze`). */
export function policyArgs(r: RecordedResource, run: OfflineRun, config: Record<string, unknown> = {}): IncantValidationArgs {
    const opts: PolicyResourceOptions = {
        protect: r.protect,
        ignoreChanges: r.ignoreChanges,
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: r.additionalSecretOutputs,
        parent: r.parent,
    };
    const providerAt = r.provider && providerUrn(r.provider);
    const provider = run.resources.find((p) => p.urn === providerAt);
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: unknownChecking(r.revealedInputs),
        opts,
        provider: provider && { type: provider.type, name: provider.name, urn: provider.urn, props: provider.revealedInputs },
        stackTags: new Map(),
        isType: () => { throw new Error("isType is not available offline: compare args.type"); },
        asType: () => { throw new Error("asType is not available offline: compare args.type"); },
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => { throw new NotApplicable(reason); },
        offline: { secretPaths: r.secretPaths, retainOnDelete: r.retainOnDelete, sensitive: run.sensitive },
    };
}

/** Runs every policy on every custom resource of the run. */
export async function checkPolicies(run: OfflineRun, policies: ResourceValidationPolicy[] = POLICIES, config: PackConfig = {}): Promise<PolicyReport> {
    const report: PolicyReport = { policies: policies.map((p) => p.name), checked: 0, violations: [], skipped: [] };
    for (const r of run.resources.filter((x) => x.custom)) {
        report.checked++;
        for (const policy of policies) {
            const level = (config[policy.name]?.enforcementLevel as EnforcementLevel | undefined) ?? policy.enforcementLevel ?? PACK_ENFORCEMENT;
            if (level === "disabled" || !policy.validateResource) continue;
            const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const validate of validations) {
                const args = policyArgs(r, run, config[policy.name]);
                try {
                    await validate(args, (message) => report.violations.push({
                        policy: policy.name, enforcementLevel: level, type: r.type, name: r.name, urn: r.urn, message,
                    }));
                } catch (e) {
                    if (e instanceof NotApplicable) continue;
                    if (e instanceof UnknownValue) report.skipped.push({ policy: policy.name, urn: r.urn, reason: e.message });
                    else throw e;
                }
            }
        }
    }
    return report;
}

export const mandatoryViolations = (report: PolicyReport): PolicyViolation[] =>
    report.violations.filter((v) => v.enforcementLevel === "mandatory");

/** What the render prints on stderr for a report, and whether it must exit 1 (none: passes). */
export function policyVerdict(report: PolicyReport): { lines: string[]; fail: boolean } {
    const blocking = mandatoryViolations(report);
    const lines = blocking.map((v) => `policy ${v.policy}: ${v.type} ${v.name}: ${v.message}`);
    if (blocking.length) lines.push(`render failed: ${blocking.length} mandatory policy violation(s), see policy.md`);
    return { lines, fail: blocking.length > 0 };
}

/** policy.md: the verdict first, then every violation by policy. */
export function renderPolicyReport(report: PolicyReport): string {
    const mandatory = mandatoryViolations(report).length;
    const cell = (s: string) => s.replace(/\|/g, "\\|");
    const lines = [
        `# Policy pack \`${PACK_NAME}\` (offline)`,
        "",
        `${report.checked} resources checked against ${report.policies.length} policies (policy/policies.ts): ` +
        `${mandatory} mandatory and ${report.violations.length - mandatory} advisory violations.`,
        "",
    ];
    if (report.violations.length) {
        lines.push("| policy | level | resource | message |", "|---|---|---|---|");
        for (const v of report.violations) lines.push(`| ${v.policy} | ${v.enforcementLevel} | \`${v.type}\` ${cell(v.name)} | ${cell(v.message)} |`);
        lines.push("");
    }
    if (report.skipped.length) {
        lines.push("Not run (values unknown until deploy):", "", ...report.skipped.map((s) => `- ${s.policy} on ${s.urn}: ${s.reason}`), "");
    }
    return lines.join("\n");
}
