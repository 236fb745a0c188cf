/**
 * `npm run bench [-- --sizes 7,100,500,1000 --runs 3]`
 *
 * Runs the real program on the offline engine for the dev layout and for larger worker counts
 * (same code, generated configs), in one child process per size: a warm-up run, then `runs`
 * measured runs. Reports median wall time, peak memory (max RSS of the child), resource count,
 * the critical path length and the ratio to the dev layout. Results go to docs/benchmarks.md by
 * hand; the last line printed is a one-line summary. A benchmark, never a test.
 *
 * `npm run bench -- --pool [--trials 3 --jobs 200]`: the loopback HTCondor pool instead
 * (tests/pool/bench.ts): submit -> first job running, and many short jobs to completion.
 *
 * `npm run bench -- --autoscale`: the autoscaler's decisions (components/autoscaler/decide.ts) on
 * the simulated pool of tests/autoscaler-sim.ts: a burst of 100 idle jobs to all running, and the
 * core-hours an elastic pool holds over a day against a fixed pool of its maximum size.
 */
import { spawnSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { runOffline } from "../offline/engine";
import { criticalPath } from "../offline/graph";
import { readStack, StackConfig } from "../offline/stackfile";
import { WORKER_OFFSET } from "../components/network/addressing";
import { benchPool } from "../tests/pool/bench";
import { burst, day, SimOptions } from "../tests/autoscaler-sim";
import { DEFAULTS } from "../components/config/defaults";

const ROOT = path.resolve(__dirname, "..");

interface SizeResult {
    workers: number;
    medianMs: number;
    runsMs: number[];
    maxRssMb: number;
    resources: number;
    criticalPath: number;
    chain: string[];
}

/** The dev stack file with `workers` workers, a subnet and a quota large enough for them. */
export function benchConfig(workers: number): StackConfig {
    const stack = readStack("dev");
    if (workers !== 7) {
        const prefix = 32 - Math.ceil(Math.log2(WORKER_OFFSET + workers + 1));
        stack.config["incant:network"] = JSON.stringify({ ...JSON.parse(stack.config["incant:network"]), cidr: `172.20.0.0/${Math.min(prefix, 24)}` });
        stack.config["incant:nodes"] = JSON.stringify({ workers: { count: workers } });
        stack.config["incant:quota"] = JSON.stringify({ vcpus: 100_000, ramGb: 1_000_000, blockStorageGb: 10_000_000 });
    }
    return stack;
}

async function child(workers: number, runs: number): Promise<void> {
    const stack = benchConfig(workers);
    const once = async () => {
        const start = process.hrtime.bigint();
        const run = await runOffline({ project: stack.project, stack: stack.stack, config: stack.config, secretKeys: stack.secretKeys });
        return { ms: Number(process.hrtime.bigint() - start) / 1e6, run };
    };
    await once(); // warm-up: module loading and JIT
    const times: number[] = [];
    let last = await once();
    times.push(last.ms);
    for (let i = 1; i < runs; i++) {
        last = await once();
        times.push(last.ms);
    }
    const cp = criticalPath(last.run.resources);
    const sorted = [...times].sort((a, b) => a - b);
    const result: SizeResult = {
        workers, medianMs: sorted[Math.floor(sorted.length / 2)], runsMs: times,
        maxRssMb: process.resourceUsage().maxRSS / 1024, resources: last.run.resources.length,
        criticalPath: cp.length, chain: cp.chain,
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

function parent(sizes: number[], runs: number): void {
    const results: SizeResult[] = [];
    for (const workers of sizes) {
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", __filename, "--child", String(workers), "--runs", String(runs)],
            { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
        const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
        if (r.status !== 0 || !line) throw new Error(`size ${workers} failed:\n${r.stderr.slice(-4000)}`);
        results.push(JSON.parse(line.slice(7)) as SizeResult);
        const x = results[results.length - 1];
        console.log(`workers=${x.workers}: median ${x.medianMs.toFixed(0)} ms (runs ${x.runsMs.map((t) => t.toFixed(0)).join(", ")}), ` +
            `peak RSS ${x.maxRssMb.toFixed(0)} MB, ${x.resources} resources, critical path ${x.criticalPath}`);
    }
    const base = results[0];
    // Time per resource stays flat when no step grows faster than the number of workers.
    console.log("\n| workers | resources | median wall (ms) | ratio to dev | ms per resource | peak RSS (MB) | critical path |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|");
    for (const x of results) {
        console.log(`| ${x.workers} | ${x.resources} | ${x.medianMs.toFixed(0)} | ${(x.medianMs / base.medianMs).toFixed(2)} | ` +
            `${(x.medianMs / x.resources).toFixed(2)} | ${x.maxRssMb.toFixed(0)} | ${x.criticalPath} |`);
    }
    console.log(`\nCritical path at ${results[results.length - 1].workers} workers:\n  ${results[results.length - 1].chain.join("\n  ")}`);
    console.log(`\nmachine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
    const last = results[results.length - 1];
    console.log(`bench: ${results.map((x) => `${x.workers}w ${x.medianMs.toFixed(0)}ms`).join(", ")}; ` +
        `${last.workers} workers cost ${(last.medianMs / base.medianMs).toFixed(1)}x dev; critical path ${results.map((x) => x.criticalPath).join("/")}`);
}

function argValue(flag: string): string | undefined {
    const i = process.argv.indexOf(flag);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(argValue("--runs") ?? 3);
if (argValue("--child")) {
    child(Number(argValue("--child")), runs).catch((e) => { console.error(e); process.exit(1); });
} else if (require.main === module && process.argv.includes("--autoscale")) {
    benchAutoscale(Number(argValue("--start") ?? 60));
} else if (require.main === module && process.argv.includes("--pool")) {
    // The loopback HTCondor pool (tests/pool/bench.ts): root and HTCondor needed.
    benchPool(Number(argValue("--trials") ?? 3), Number(argValue("--jobs") ?? 200)).catch((e) => { console.error(e); process.exit(1); });
} else if (require.main === module) {
    parent((argValue("--sizes") ?? "7,100,500,1000").split(",").map(Number), runs);
    console.log("\nThe loopback HTCondor pool's latency and throughput: npm run bench -- --pool");
    console.log("The autoscaler on a simulated pool: npm run bench -- --autoscale");
}

/** The dev stack's workers (3-CPU slots, 7 VMs) with the default autoscaling policy; `startS`: pod start to startd advertised. */
function benchAutoscale(startS: number): void {
    const a = DEFAULTS.autoscaling;
    const base: SimOptions = {
        policy: { enabled: true, min: a.min, max: 7, scaleUpCooldownSeconds: a.scaleUpCooldownSeconds, scaleDownCooldownSeconds: a.scaleDownCooldownSeconds, idleSeconds: a.idleSeconds },
        shape: { cpus: 3, memoryMb: 5120 }, quotaWorkers: 7, startS, cycleS: a.intervalSeconds, negotiateEveryS: 60,
    };
    const dev = burst(base, 100, 3600);
    const wide = burst({ ...base, policy: { ...base.policy, max: 34 }, quotaWorkers: 34 }, 100, 3600);
    const d = day(base);
    console.log(`\n| measure (simulated, pod start ${startS} s, cycle ${base.cycleS} s, negotiator every 60 s, default cooldowns) | result |\n|---|---|`);
    console.log(`| burst of 100 one-core jobs, pool at min 1 of max 7 (21 slots): until every slot is busy | ${dev.toFullS} s (peak ${dev.peakWorkers} workers) |`);
    console.log(`| the same burst, max 34 workers (102 slots): until all 100 run | ${wide.toAllRunningS ?? "not within the hour"} s (peak ${wide.peakWorkers} workers) |`);
    console.log(`| a day of 5 users x 3 bursts (${d.jobs} jobs): core-hours held, elastic vs fixed 7 workers | ${d.elasticCoreHours.toFixed(0)} vs ${d.fixedCoreHours.toFixed(0)} (saves ${(d.fixedCoreHours - d.elasticCoreHours).toFixed(0)}, ${(100 * (1 - d.elasticCoreHours / d.fixedCoreHours)).toFixed(0)} %; peak ${d.peakWorkers}) |`);
    console.log(`| the same day: mean wait from submit to start, elastic vs fixed | ${(d.meanWaitElasticS / 60).toFixed(1)} min vs ${(d.meanWaitFixedS / 60).toFixed(1)} min |`);
}
