/**
 * `npm run render -- --stack dev [--config-file F] [--out DIR] [--show-secrets] [--debug]`
 *
 * Runs the real program on the offline engine and writes, under rendered/<stack>/:
 * plan.json (every resource), cloud-init/, kubernetes/ and each area's files, summary.md and
 * outputs.json. Secrets are replaced by "[secret]" unless --show-secrets. On invalid
 * configuration it prints every problem, writes nothing and exits 1; a command line mistake
 * exits 2 with the usage (offline/messages.ts). The output folder is only ever replaced whole,
 * and only when it is a previous render or empty (offline/outdir.ts).
 */
import * as path from "path";
import { validateConfig } from "../components/config/validate";
import { rawConfig } from "../components/config/load";
import { EXTRACTORS, instances } from "./artifacts";
import { checkPolicies, PolicyReport, policyVerdict, renderPolicyReport } from "./policy";
import { OfflineRun, runOffline, SECRET_MARKER } from "./engine";
import { failureReport, maskSecrets, quoted, UsageError } from "./messages";
import { installRender, inspectOutDir, resolveOutDir, writeStaging } from "./outdir";
import { makeRedactor, secretStrings } from "./redact";
import { readStack, readStackAt, StackConfig } from "./stackfile";
import { renderSummary } from "./summary";

export interface RenderOptions {
    stack?: string;
    configFile?: string;
    out?: string;
    showSecrets: boolean;
    /** Print stack traces of failures. */
    debug?: boolean;
}

const ROOT = path.resolve(__dirname, "..");

export const USAGE = "usage: npm run render -- [--stack NAME] [--config-file Pulumi.NAME.yaml] [--out DIR] [--show-secrets] [--debug]\n" +
    "  --stack NAME        render Pulumi.NAME.yaml of the checkout (default dev); with --config-file, the stack's name\n" +
    "  --config-file FILE  render this stack file (the stack is NAME of Pulumi.NAME.yaml unless --stack)\n" +
    "  --out DIR           write here (default rendered/<stack>); replaced only if empty or a previous render\n" +
    "  --show-secrets      write secrets in clear (files mode 0600)\n" +
    "  --debug             print stack traces of failures";

/** Parses the command line; throws UsageError (exit 2) on any mistake. `--opt=value` also works. */
export function parseArgs(argv: string[]): RenderOptions & { help?: boolean } {
    const opts: RenderOptions & { help?: boolean } = { showSecrets: false };
    const seen = new Set<string>();
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
        const name = eq > 0 ? arg.slice(0, eq) : arg;
        const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
        const value = (): string => {
            const v = inline ?? argv[++i];
            // A missing value, or the next option taken as one (`--out --show-secrets`).
            if (v === undefined || v === "" || (inline === undefined && v.startsWith("--"))) throw new UsageError(`${name} needs a value`);
            return v;
        };
        if (["--stack", "--config-file", "--out", "--show-secrets", "--debug"].includes(name)) {
            if (seen.has(name)) throw new UsageError(`${name} is given twice`);
            seen.add(name);
        }
        const flag = (): true => {
            if (inline !== undefined) throw new UsageError(`${name} takes no value`);
            return true;
        };
        if (name === "--stack") opts.stack = value();
        else if (name === "--config-file") opts.configFile = value();
        else if (name === "--out") opts.out = value();
        else if (name === "--show-secrets") opts.showSecrets = flag();
        else if (name === "--debug") opts.debug = flag();
        else if (name === "--help" || name === "-h") opts.help = true;
        else if (name.startsWith("-")) throw new UsageError(`unknown option ${quoted(name)}`);
        else throw new UsageError(`unexpected argument ${quoted(arg)}`);
    }
    return opts;
}

/** The stack to render: --config-file (named by --stack or its file name), else --stack (default dev). */
export function loadStack(opts: RenderOptions): StackConfig {
    return opts.configFile ? readStackAt(path.resolve(opts.configFile), undefined, opts.stack) : readStack(opts.stack ?? "dev");
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
    const shownAs = opts.out ?? path.join("rendered", stack.stack);
    const outDir = resolveOutDir(opts.out ?? path.join(ROOT, "rendered", stack.stack));
    // Refuse a folder that is not ours before any work; checked again at the swap.
    inspectOutDir(outDir, shownAs);
    const run = await runOffline({ project: stack.project, stack: stack.stack, config: stack.config, secretKeys: stack.secretKeys });
    const files = renderFiles(stack, run, opts.showSecrets);
    // The CrossGuard pack on the mocked resources (policy/): policy.md; mandatory violations fail main().
    const policy = await checkPolicies(run);
    files["policy.md"] = renderPolicyReport(policy);
    installRender(writeStaging(outDir, stack.stack, files, opts.showSecrets), outDir, shownAs);
    return { outDir, files, run, policy };
}

/** Runs the command line; returns the exit code (0, 1 on a configuration or policy failure, 2 on a usage error). */
export async function main(argv: string[]): Promise<number> {
    let opts: ReturnType<typeof parseArgs> = { showSecrets: false, debug: argv.includes("--debug") };
    try {
        opts = parseArgs(argv);
        if (opts.help) {
            console.log(USAGE);
            return 0;
        }
        const { outDir, files, run, policy } = await render(opts);
        const vms = instances(run).length;
        const where = path.relative(process.cwd(), outDir) || ".";
        // A folder name with a line break or a token in it is shown quoted or hidden, like in errors.
        const shown = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(where) ? quoted(where) : maskSecrets(where);
        console.log(`rendered ${run.resources.length} resources (${vms} VMs) and ${Object.keys(files).length} files to ${shown}`);
        if (opts.showSecrets) console.log("WARNING: --show-secrets: the files contain secrets in clear; do not commit or share them");
        const verdict = policyVerdict(policy);
        for (const line of verdict.lines) console.error(maskSecrets(line));
        return verdict.fail ? 1 : 0;
    } catch (e) {
        const { code, lines } = failureReport(e, USAGE, opts.debug ?? false);
        for (const line of lines) console.error(line);
        return code;
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
