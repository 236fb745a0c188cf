/**
 * The worker VM runner (components/autoscaler/vm-runner.ts, docs/elasticity.md):
 *
 *   npm run vm-runner -- --stack prod --once                 one round, in this checkout
 *   npm run vm-runner -- --stack prod --sync                 set this checkout's worker count to the deployed one
 *   npm run vm-runner -- --stack prod --units --user incant  print its systemd service and timer
 *
 * Options: --workdir DIR (the checkout with Pulumi.yaml and Pulumi.<stack>.yaml; default this one),
 * --org ORG (the Pulumi Cloud organization: the stack is ORG/<stack>), --pulumi-root DIR (the CLI
 * at DIR/bin/pulumi; default: pulumi on the PATH), --interval-minutes N and --node PATH (units).
 * --sync is for every other `pulumi preview`/`up` of an autoscaled stack (CI's deploy and drift jobs,
 * an operator): it starts them from the deployed count instead of the committed one.
 * Exit codes: 0 done (changed, nothing to do, kill switch, or another round holds the lock),
 * 1 failed, 2 command line mistake, 3 refused (drift or a change in flight, a worker pod on a VM
 * to remove, a count the config refuses: see the log).
 */
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { rawConfig } from "../components/config/load";
import { FacilityConfig } from "../components/config/schema";
import { ConfigValidationError, RawConfig, validateConfig } from "../components/config/validate";
import { ClusterClient, parseKubeconfig } from "../components/autoscaler/vm-kube";
import { describeError, lockHolder, runRound, syncCount, takeLock } from "../components/autoscaler/vm-runner";
import { renderVmRunnerUnits } from "../components/autoscaler/vm-runner-units";
import { readStackAt } from "../offline/stackfile";

const ROOT = path.resolve(__dirname, "..");
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

export interface RunnerOptions {
    stack?: string;
    once?: boolean;
    sync?: boolean;
    units?: boolean;
    workDir: string;
    org?: string;
    pulumiRoot?: string;
    user?: string;
    intervalMinutes: number;
    node?: string;
}

class UsageError extends Error {}

export function parseArgs(argv: string[]): RunnerOptions {
    const o: RunnerOptions = { workDir: ROOT, intervalMinutes: 5 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
            return v;
        };
        if (a === "--stack") o.stack = value();
        else if (a === "--once") o.once = true;
        else if (a === "--sync") o.sync = true;
        else if (a === "--units") o.units = true;
        else if (a === "--workdir") o.workDir = path.resolve(value());
        else if (a === "--org") o.org = value();
        else if (a === "--pulumi-root") o.pulumiRoot = path.resolve(value());
        else if (a === "--user") o.user = value();
        else if (a === "--node") o.node = value();
        else if (a === "--interval-minutes") {
            const v = value();
            if (!/^\d{1,4}$/.test(v)) throw new UsageError("--interval-minutes must be a whole number of minutes");
            o.intervalMinutes = Number(v);
        } else throw new UsageError(`unknown argument ${JSON.stringify(a.slice(0, 40))}`);
    }
    if (!o.stack) throw new UsageError("--stack is required");
    if ([o.once, o.sync, o.units].filter(Boolean).length !== 1) throw new UsageError("give one of --once (one round; the timer repeats it), --sync or --units");
    if (o.units && !o.user) throw new UsageError("--units needs --user (the account the runner runs as)");
    if (o.org !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(o.org)) throw new UsageError("--org is not an organization name");
    return o;
}

/** The validated config of the workspace's stack file, and its problems with another worker count. */
export function workspaceConfig(workDir: string, stack: string): { read(): FacilityConfig; countProblems(count: number): string[] } {
    const file = path.join(workDir, `Pulumi.${stack}.yaml`);
    const load = () => {
        const sc = readStackAt(file, undefined, stack);
        return rawConfig(sc.config, (k) => sc.secretKeys.includes(k));
    };
    const validate = (raw: RawConfig, secretKeys: Set<string>) => validateConfig(raw, { stack, secretKeys });
    return {
        read() {
            const { raw, secretKeys } = load();
            return validate(raw, secretKeys);
        },
        countProblems(count) {
            const { raw, secretKeys } = load();
            const nodes = (raw.nodes ?? {}) as Record<string, Record<string, unknown>>;
            try {
                validate({ ...raw, nodes: { ...nodes, workers: { ...(nodes.workers ?? {}), count } } }, secretKeys);
                return [];
            } catch (e) {
                if (e instanceof ConfigValidationError) return e.problems;
                throw e;
            }
        },
    };
}

export interface Io {
    log(line: string): void;
}

export async function main(argv: string[], io: Io = { log: (l) => console.log(l) }, envVars?: Record<string, string>): Promise<number> {
    let o: RunnerOptions;
    try {
        o = parseArgs(argv);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        io.log(`vm-runner: ${e.message}\nusage: npm run vm-runner -- --stack NAME --once | --sync | --units --user ACCOUNT [--interval-minutes N]`);
        return EXIT.usage;
    }
    const stack = o.stack!;
    if (o.units) {
        try {
            for (const [name, text] of Object.entries(renderVmRunnerUnits({ stack, workDir: o.workDir, user: o.user!, intervalMinutes: o.intervalMinutes, node: o.node }))) {
                io.log(`# ${name}\n${text}`);
            }
            return EXIT.ok;
        } catch (e) {
            io.log(`vm-runner: ${(e as Error).message}`);
            return EXIT.usage;
        }
    }
    const log = (line: string) => io.log(`${new Date().toISOString()} incant-vm-runner ${line}`);
    const lockFile = path.join(o.workDir, `.incant-vm-runner-${stack}.lock`);
    const release = takeLock(lockFile);
    if (!release) {
        const h = lockHolder(lockFile);
        log(`${stack}: another round holds ${lockFile}${h ? ` (pid ${h.pid} on ${h.host} since ${h.since})` : " (unreadable: remove it if no round runs)"}; nothing done`);
        return EXIT.ok;
    }
    try {
        const cfg = workspaceConfig(o.workDir, stack);
        const pulumiCommand = await PulumiCommand.get(o.pulumiRoot ? { root: o.pulumiRoot } : undefined);
        const ws = await LocalWorkspace.create({ workDir: o.workDir, pulumiCommand, envVars });
        const s = await Stack.select(o.org ? `${o.org}/${stack}` : stack, ws);
        const outcome = o.sync ? await syncCount({ stack: s, readConfig: cfg.read, log }) : await runRound({
            stack: s, readConfig: cfg.read, countProblems: cfg.countProblems, log,
            cluster: (kubeconfig) => new ClusterClient(parseKubeconfig(kubeconfig)),
        });
        return outcome.action === "refused" ? EXIT.refused : outcome.action === "failed" ? EXIT.failed : EXIT.ok;
    } catch (e) {
        // One line: a CLI error carries its whole output.
        log(`${stack}: failed: ${describeError(e)}`);
        return EXIT.failed;
    } finally {
        release();
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
