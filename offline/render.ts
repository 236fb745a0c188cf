/**
 * `npm run render -- --stack dev [--config-file F] [--out DIR] [--show-secrets]`
 *
 * Runs the real program on the offline engine and writes, under rendered/<stack>/:
 * plan.json (every resource), cloud-init/, kubernetes/ and each area's files, summary.md and
 * outputs.json. Secrets are replaced by "[secret]" unless --show-secrets. On invalid
 * configuration it prints every problem, writes nothing and exits 1.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { validateConfig } from "../components/config/validate";
import { rawConfig } from "../components/config/load";
import { EXTRACTORS, instances } from "./artifacts";
import { checkPolicies, PolicyReport, policyVerdict, renderPolicyReport } from "./policy";
import { OfflineRun, runOffline, SECRET_MARKER } from "./engine";
import { makeRedactor, secretStrings } from "./redact";
import { readStack, readStackAt, StackConfig } from "./stackfile";
import { renderSummary } from "./summary";

export interface RenderOptions {
    stack?: string;
    configFile?: string;
    out?: string;
    showSecrets: boolean;
}

const ROOT = path.resolve(__dirname, "..");

export function parseArgs(argv: string[]): RenderOptions {
    const opts: RenderOptions = { showSecrets: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (!v) throw new Error(`${a} needs a value`);
            return v;
        };
        if (a === "--stack") opts.stack = value();
        else if (a === "--config-file") opts.configFile = value();
        else if (a === "--out") opts.out = value();
        else if (a === "--show-secrets") opts.showSecrets = true;
        else throw new Error(`unknown argument ${a} (use --stack, --config-file, --out, --show-secrets)`);
    }
    if (!opts.stack && !opts.configFile) opts.stack = "dev";
    return opts;
}

export function loadStack(opts: RenderOptions): StackConfig {
    return opts.configFile ? readStackAt(path.resolve(opts.configFile)) : readStack(opts.stack ?? "dev");
}

/** Every file of the render, relative path -> content, redacted unless showSecrets. */
export function renderFiles(stack: StackConfig, run: OfflineRun, showSecrets: boolean): Record<string, string> {
    const configSecrets = stack.secretKeys.map((k) => stack.config[k]);
    const redact = makeRedactor(secretStrings(run, configSecrets), showSecrets);
    // Sorted by URN: registration order depends on timing, and two renders must diff cleanly.
    const plan = [...run.resources].sort((a, b) => a.urn.localeCompare(b.urn)).map((r) => ({
        type: r.type, name: r.name, urn: r.urn, parent: r.parent ?? null, provider: r.provider ?? null,
        dependencies: r.dependencies, protect: r.protect, retainOnDelete: r.retainOnDelete,
        inputs: showSecrets ? r.revealedInputs : r.inputs,
    }));
    const outputs = Object.fromEntries(Object.entries(run.outputs).map(([k, v]) =>
        [k, run.secretOutputs.includes(k) && !showSecrets ? SECRET_MARKER : v]));
    const files: Record<string, string> = {
        "plan.json": redact(JSON.stringify(plan, null, 2) + "\n"),
        "outputs.json": redact(JSON.stringify(outputs, null, 2) + "\n"),
    };
    for (const extract of EXTRACTORS) {
        for (const [name, text] of Object.entries(extract(run))) files[name] = redact(text);
    }
    const { raw, secretKeys } = rawConfig(stack.config, (k) => stack.secretKeys.includes(k));
    const config = validateConfig(raw, { stack: stack.stack, secretKeys });
    files["summary.md"] = renderSummary(config, run, stack.placeholders);
    return files;
}

export async function render(opts: RenderOptions): Promise<{ outDir: string; files: Record<string, string>; run: OfflineRun; policy: PolicyReport }> {
    const stack = loadStack(opts);
    const outDir = path.resolve(opts.out ?? path.join(ROOT, "rendered", stack.stack));
    // A failed render must not leave an older plan behind that looks current.
    fs.rmSync(outDir, { recursive: true, force: true });
    const run = await runOffline({ project: stack.project, stack: stack.stack, config: stack.config, secretKeys: stack.secretKeys });
    const files = renderFiles(stack, run, opts.showSecrets);
    // The CrossGuard pack on the mocked resources (policy/): policy.md; mandatory violations fail main().
    const policy = await checkPolicies(run);
    files["policy.md"] = renderPolicyReport(policy);
    for (const [name, text] of Object.entries(files)) {
        const file = path.join(outDir, name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text, { mode: opts.showSecrets ? 0o600 : 0o644 });
    }
    return { outDir, files, run, policy };
}

async function main(): Promise<void> {
    const opts = parseArgs(process.argv.slice(2));
    try {
        const { outDir, files, run, policy } = await render(opts);
        const vms = instances(run).length;
        console.log(`rendered ${run.resources.length} resources (${vms} VMs) and ${Object.keys(files).length} files to ${path.relative(process.cwd(), outDir) || "."}`);
        if (opts.showSecrets) console.log("WARNING: --show-secrets: the files contain secrets in clear; do not commit or share them");
        const verdict = policyVerdict(policy);
        for (const line of verdict.lines) console.error(line);
        if (verdict.fail) process.exitCode = 1;
    } catch (e) {
        const message = e instanceof pulumi.RunError || (e instanceof Error && e.name === "ConfigValidationError") ? e.message : e instanceof Error ? e.stack ?? e.message : String(e);
        console.error(`render failed: ${message}`);
        process.exitCode = 1;
    }
}

if (require.main === module) void main();
