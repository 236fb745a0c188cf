/**
 * The GitHub Actions workflows (.github/workflows/) and the shared setup action, checked as data:
 * valid YAML, every third-party action pinned by commit to a row of .github/pinned-actions.yaml
 * with only the inputs its action.yml declares, least permissions, and the delivery rules
 * (previews per environment with the policy pack, fork fallback to the offline render,
 * production behind its environment, a read-only drift check).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { ROOT } from "./harness/program";
import { requireTool, shellcheck } from "./harness/tools";

interface Step { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string; name?: string }
interface Job {
    if?: string; needs?: string | string[]; environment?: string; permissions?: Record<string, string>;
    strategy?: { matrix?: { stack?: string[] } }; steps: Step[]; concurrency?: { group: string; "cancel-in-progress": boolean };
}
interface Workflow { name: string; on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, Job> }
interface PinnedAction { version: string; commit: string; inputs: string[]; commands?: string[] }

const GITHUB = path.join(ROOT, ".github");
const read = (file: string) => fs.readFileSync(file, "utf8");
/** YAML.parse rejects duplicate keys and reports syntax errors with positions. */
const parse = <T>(file: string): T => YAML.parse(read(file), { prettyErrors: true, uniqueKeys: true }) as T;

const WORKFLOW_FILES = fs.readdirSync(path.join(GITHUB, "workflows")).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(GITHUB, "workflows", f));
const SETUP = path.join(GITHUB, "actions", "setup", "action.yml");
const PINNED = parse<{ actions: Record<string, PinnedAction> }>(path.join(GITHUB, "pinned-actions.yaml")).actions;
const wf = (name: string) => parse<Workflow>(path.join(GITHUB, "workflows", `${name}.yml`));

/** Every step of every workflow job and of the composite setup action, with its file. */
function allSteps(): { file: string; step: Step }[] {
    const steps = WORKFLOW_FILES.flatMap((file) => Object.values(parse<Workflow>(file).jobs).flatMap((j) => j.steps.map((step) => ({ file, step }))));
    const setup = parse<{ runs: { steps: Step[] } }>(SETUP).runs.steps.map((step) => ({ file: SETUP, step }));
    return [...steps, ...setup];
}

/** The job's pulumi/actions steps that run a command (not the CLI-only install). */
const pulumiSteps = (w: Workflow, job: string) => w.jobs[job].steps.filter((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command !== undefined);

describe("GitHub workflows", () => {
    it("are the four expected workflows, each valid YAML with a name and jobs", () => {
        assert.deepEqual(WORKFLOW_FILES.map((f) => path.basename(f)).sort(), ["deploy.yml", "drift.yml", "preview.yml", "test.yml"]);
        for (const file of WORKFLOW_FILES) {
            const w = parse<Workflow>(file);
            assert.ok(w.name && w.on && Object.keys(w.jobs).length, file);
        }
    });

    it("pin every third-party action by full commit SHA, with the version in a comment, as in pinned-actions.yaml", () => {
        const used = new Set<string>();
        for (const { file, step } of allSteps()) {
            if (!step.uses || step.uses.startsWith("./")) continue;
            const m = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40})$/.exec(step.uses);
            assert.ok(m, `${path.basename(file)}: ${step.uses} is not pinned to a 40-hex commit`);
            const pin = PINNED[m[1]];
            assert.ok(pin, `${m[1]} has no row in .github/pinned-actions.yaml`);
            assert.equal(m[2], pin.commit, `${m[1]} pinned to another commit than the verified ${pin.version}`);
            // The raw line carries `# <version>` for humans and Dependabot.
            const line = read(file).split("\n").find((l) => l.includes(step.uses!));
            assert.match(line!, new RegExp(`@${pin.commit} # ${pin.version.replace(/\./g, "\\.")}$`), line);
            used.add(m[1]);
        }
        assert.deepEqual([...used].sort(), Object.keys(PINNED).sort(), "every pinned action is used, and only those");
    });

    it("pass only inputs the action declares (its action.yml at that commit)", () => {
        for (const { file, step } of allSteps()) {
            const name = step.uses?.split("@")[0];
            if (!name || name.startsWith("./")) continue;
            for (const key of Object.keys(step.with ?? {})) {
                assert.ok(PINNED[name].inputs.includes(key), `${path.basename(file)}: ${name} has no input "${key}"`);
            }
        }
        // The local composite action: its callers pass only what it declares.
        const setupInputs = Object.keys(parse<{ inputs: Record<string, unknown> }>(SETUP).inputs);
        for (const { step } of allSteps().filter(({ step }) => step.uses === "./.github/actions/setup")) {
            for (const key of Object.keys(step.with ?? {})) assert.ok(setupInputs.includes(key), key);
        }
    });

    it("run pulumi/actions with a known command, a stack per environment, the pinned CLI and the policy pack", () => {
        const stacks = fs.readdirSync(ROOT).map((f) => /^Pulumi\.(\w+)\.yaml$/.exec(f)?.[1]).filter(Boolean).sort();
        assert.deepEqual(stacks, ["dev", "prod"]);
        let count = 0;
        for (const file of WORKFLOW_FILES) {
            for (const job of Object.values(parse<Workflow>(file).jobs)) {
                for (const step of job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"))) {
                    const w = step.with!;
                    // Without a command the action only installs the pinned CLI (for the VM runner's --sync).
                    if (w.command === undefined) {
                        assert.deepEqual(w, { "pulumi-version-file": ".pulumi-version" });
                        continue;
                    }
                    count++;
                    assert.ok(PINNED["pulumi/actions"].commands!.includes(String(w.command)), String(w.command));
                    assert.equal(w["pulumi-version-file"], ".pulumi-version");
                    assert.equal(w.policyPacks, "policy");
                    assert.match(String(w["stack-name"]), /matrix\.stack|'dev'|'prod'/);
                    assert.equal(step.env?.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
                    // test.yml type-checks (npm test runs tsc); the engine need not type-check again.
                    assert.equal(step.env?.PULUMI_NODEJS_TRANSPILE_ONLY, "true");
                }
            }
        }
        assert.equal(count, 4, "preview, deploy dev and prod, drift");
        assert.ok(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml")));
        // The CLI version is the SDK's: both are released together from pulumi/pulumi.
        assert.equal(read(path.join(ROOT, ".pulumi-version")).trim(), require("@pulumi/pulumi/package.json").version);
    });

    it("grant least permissions: contents read everywhere, pull-requests write only to the preview job", () => {
        for (const file of WORKFLOW_FILES) {
            const w = parse<Workflow>(file);
            assert.deepEqual(w.permissions, { contents: "read" }, file);
            for (const [name, job] of Object.entries(w.jobs)) {
                const expected = path.basename(file) === "preview.yml" && name === "preview" ? { contents: "read", "pull-requests": "write" } : undefined;
                assert.deepEqual(job.permissions, expected, `${file} ${name}`);
            }
            assert.ok(!("pull_request_target" in w.on), "pull_request_target would run fork code with secrets");
        }
        for (const { file, step } of allSteps().filter(({ step }) => step.uses?.startsWith("actions/checkout@"))) {
            assert.equal(step.with?.["persist-credentials"], false, `${file}: checkout leaves no token in .git/config`);
        }
    });

    it("read secrets only from the repository's PULUMI_ACCESS_TOKEN, OPENSTACK_CLOUDS_YAML and SSH_PRIVATE_KEY", () => {
        const secrets = new Set(WORKFLOW_FILES.flatMap((f) => [...read(f).matchAll(/secrets\.(\w+)/g)].map((m) => m[1])));
        assert.deepEqual([...secrets].sort(), ["OPENSTACK_CLOUDS_YAML", "PULUMI_ACCESS_TOKEN", "SSH_PRIVATE_KEY"]);
        // Nothing echoes a credential: clouds.yaml goes through an env var into a 0600 file, the
        // key from an env var into the agent.
        const setup = read(SETUP);
        assert.match(setup, /umask 077/);
        assert.match(setup, /ssh-add - <<< "\$SSH_PRIVATE_KEY"/);
        assert.ok(!/echo .*(CLOUDS_YAML|SSH_PRIVATE_KEY)/.test(setup));
    });

    it("run every job that reaches the cloud on the configurable runner, and only those", () => {
        const RUNNER = `\${{ fromJSON(vars.PULUMI_RUNS_ON || '"ubuntu-24.04"') }}`;
        for (const file of WORKFLOW_FILES) {
            for (const [name, job] of Object.entries(parse<Workflow & { jobs: Record<string, Job & { "runs-on": string }> }>(file).jobs)) {
                const cloud = JSON.stringify(job).includes("secrets.OPENSTACK_CLOUDS_YAML");
                assert.equal(job["runs-on"], cloud ? RUNNER : "ubuntu-24.04", `${path.basename(file)} ${name}`);
                if (cloud) assert.ok(JSON.stringify(job).includes("secrets.SSH_PRIVATE_KEY"), `${name}: the Docker provider needs the agent`);
            }
        }
    });

    it("have run steps that pass shellcheck (GitHub runs them with bash -e)", function () {
        requireTool(this, "shellcheck");
        for (const { file, step } of allSteps().filter(({ step }) => step.run)) {
            // Expressions are substituted before the shell runs: stand in a plain word.
            const script = `#!/usr/bin/env bash\nset -e\n${step.run!.replace(/\$\{\{[^}]*\}\}/g, "EXPR")}`;
            const r = shellcheck(script, "step.sh");
            assert.ok(r.ok, `${path.basename(file)} ${step.name ?? step.run}: ${r.output}`);
        }
    });

    it("test.yml installs .ci/run's packages and runs .ci/run", () => {
        const ci = read(path.join(ROOT, ".ci", "run"));
        const steps = wf("test").jobs.test.steps;
        const apt = steps.find((s) => s.run?.includes("apt-get install"))!.run!;
        // The step reads the list from .ci/run with this sed: run it and compare with the line.
        const sed = /sed -n '([^']+)' \.ci\/run/.exec(apt)![1];
        const extracted = spawnSync("sed", ["-n", sed, path.join(ROOT, ".ci", "run")], { encoding: "utf8" }).stdout.trim().split(/\s+/);
        assert.deepEqual(extracted, /^packages=\(([^)]*)\)$/m.exec(ci)![1].trim().split(/\s+/));
        assert.ok(extracted.includes("cloud-init") && extracted.length >= 6, extracted.join(" "));
        assert.match(apt, /apt-get install -y -qq --no-install-recommends "\$\{packages\[@\]\}"/);
        assert.ok(steps.some((s) => s.run === "bash .ci/run"));
        assert.deepEqual(Object.keys(wf("test").on).sort(), ["pull_request", "push"]);
    });

    it("preview.yml: per environment, commented on the pull request; forks get the offline render as an artifact", () => {
        const w = wf("preview");
        const preview = w.jobs.preview;
        assert.deepEqual(preview.strategy!.matrix!.stack, ["dev", "prod"]);
        const [step] = pulumiSteps(w, "preview");
        assert.equal(step.with!.command, "preview");
        assert.equal(step.with!["comment-on-pr"], true);
        assert.equal(preview.environment, undefined, "a preview never waits for the production approval");
        // The two jobs run on exactly complementary conditions.
        const offline = w.jobs["offline-render"];
        assert.equal(offline.if, `!(${preview.if})`);
        assert.match(preview.if!, /head\.repo\.full_name == github\.repository/);
        assert.deepEqual(offline.strategy!.matrix!.stack, ["dev", "prod"]);
        assert.ok(!JSON.stringify(offline).includes("secrets."), "the fork job uses no secret");
        assert.ok(offline.steps.some((s) => s.run === "npm run render -- --stack ${{ matrix.stack }}"));
        const upload = offline.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
        assert.equal(upload.if, "always()");
        assert.equal(upload.with!.path, "rendered/${{ matrix.stack }}/");
    });

    it("deploy.yml: up on main, dev first, prod behind the production environment", () => {
        const w = wf("deploy");
        assert.deepEqual(w.on, { push: { branches: ["main"] } });
        assert.equal(w.jobs.dev.environment, "dev");
        assert.equal(w.jobs.prod.environment, "production");
        assert.equal(w.jobs.prod.needs, "dev");
        for (const job of ["dev", "prod"]) {
            assert.equal(pulumiSteps(w, job)[0].with!.command, "up");
            assert.equal(w.jobs[job].concurrency!["cancel-in-progress"], false, "an update is never cancelled half-way");
        }
    });

    it("every preview and up of a stack first sets the worker count to the deployed one (the VM runner's --sync), with the pinned CLI", () => {
        const jobs: [string, string][] = [["preview", "preview"], ["deploy", "dev"], ["deploy", "prod"], ["drift", "drift"]];
        for (const [file, job] of jobs) {
            const steps = wf(file).jobs[job].steps;
            const command = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command !== undefined);
            const install = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === undefined);
            const sync = steps.findIndex((s) => s.run?.includes("npm run -s vm-runner --") && s.run.includes("--sync"));
            assert.ok(install >= 0 && install < sync && sync < command, `${file}/${job}: CLI, then --sync, then the command`);
            const env = steps[sync].env!;
            assert.equal(env.PULUMI_ACCESS_TOKEN, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
            assert.equal(env.PULUMI_ORG, "${{ vars.PULUMI_ORG }}");
            assert.equal(env.STACK, job === "dev" || job === "prod" ? job : "${{ matrix.stack }}");
        }
    });

    it("drift.yml: scheduled refresh-preview that fails on any change, serialised with deploys", () => {
        const w = wf("drift");
        const cron = (w.on.schedule as { cron: string }[])[0].cron;
        assert.equal(cron.split(" ").length, 5);
        const [step] = pulumiSteps(w, "drift");
        assert.equal(step.with!.command, "preview");
        assert.equal(step.with!.refresh, true);
        assert.equal(step.with!["expect-no-changes"], true);
        assert.equal(w.jobs.drift.concurrency!.group, "pulumi-${{ matrix.stack }}");
        assert.deepEqual(["dev", "prod"].map((s) => `pulumi-${s}`), [wf("deploy").jobs.dev.concurrency!.group, wf("deploy").jobs.prod.concurrency!.group]);
    });
});
