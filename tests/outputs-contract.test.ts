/**
 * The stack outputs are a contract (contracts/outputs.ts): the program's exports, run offline for
 * each environment, must match it name for name, type for type and secret for secret; the JSON
 * copy and docs/outputs.md must say the same; the example consumer (examples/consumer/) must read
 * them through a StackReference with secrets kept secret.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { checkOutputs, OUTPUTS, OUTPUTS_CONTRACT, OUTPUTS_CONTRACT_MINOR, FieldType } from "../contracts/outputs";
import { runOffline } from "../offline/engine";
import { setStackReference } from "../offline/mocks";
import { ProgramRun, ROOT, runProgram } from "./harness/program";

/** How docs/outputs.md writes a type. */
function typeLabel(t: FieldType): string {
    return typeof t === "string" ? t : `{${Object.entries(t).map(([k, v]) => `${k}: ${typeLabel(v)}`).join(", ")}}`;
}

describe("stack outputs contract", () => {
    const runs: Record<string, ProgramRun> = {};
    before(async function () {
        this.timeout(300_000);
        for (const stack of ["dev", "prod"]) runs[stack] = await runProgram(stack);
    });

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every output is in the contract with its type and secrecy, and nothing else`, () => {
            assert.deepEqual(checkOutputs(runs[stack].outputs, runs[stack].secretOutputs), []);
            assert.equal(runs[stack].outputs.outputsContract, OUTPUTS_CONTRACT);
        });
    }

    it("fails when an output is renamed, removed, retyped or added without the contract", () => {
        const { outputs, secretOutputs } = runs.dev;
        const { nfsServer, ...rest } = outputs;
        assert.deepEqual(checkOutputs({ ...rest, nfsAddress: nfsServer }, secretOutputs), [
            `output nfsServer is missing (renamed or removed: a breaking change of ${OUTPUTS_CONTRACT})`,
            "output nfsAddress is not in the contract: add it to contracts/outputs.ts and docs/outputs.md",
        ]);
        assert.deepEqual(checkOutputs({ ...outputs, vmCount: "10" }, secretOutputs), ["output vmCount is a string, the contract says number"]);
        const endpoints = outputs.htcondorEndpoints as Record<string, unknown>;
        const { collectorAddress, ...noCollector } = endpoints;
        assert.deepEqual(checkOutputs({ ...outputs, htcondorEndpoints: { ...noCollector, collector: collectorAddress } }, secretOutputs), [
            "output htcondorEndpoints.collectorAddress is missing, the contract says string",
            "output htcondorEndpoints.collector is not in the contract",
        ]);
    });

    it("fails when an output loses (or gains) its secrecy", () => {
        const { outputs, secretOutputs } = runs.dev;
        assert.deepEqual(checkOutputs(outputs, secretOutputs.filter((n) => n !== "kubeconfig")), ["output kubeconfig must be a secret"]);
        assert.deepEqual(checkOutputs(outputs, [...secretOutputs, "nfsServer"]), ["output nfsServer is a secret but the contract says plain"]);
    });

    it("catches a program that un-secrets the kubeconfig (the real program, re-exported)", async () => {
        const run = await runProgram("dev", {}, { program: path.join(ROOT, "tests", "fixtures", "outputs-unsecret.program.ts") });
        assert.deepEqual(checkOutputs(run.outputs, run.secretOutputs), ["output kubeconfig must be a secret"]);
    });

    it("contracts/outputs.v1.json is the same table, for consumers in other languages", () => {
        const json = JSON.parse(fs.readFileSync(path.join(ROOT, "contracts", "outputs.v1.json"), "utf8"));
        assert.deepEqual(json, { contract: OUTPUTS_CONTRACT, minor: OUTPUTS_CONTRACT_MINOR, outputs: OUTPUTS });
    });

    it("docs/outputs.md lists every output with its type and secrecy", () => {
        const doc = fs.readFileSync(path.join(ROOT, "docs", "outputs.md"), "utf8");
        const rows = doc.split("\n").filter((l) => /^\| `\w+` \|/.test(l));
        assert.deepEqual(rows.map((r) => /^\| `(\w+)`/.exec(r)![1]), Object.keys(OUTPUTS));
        for (const [name, spec] of Object.entries(OUTPUTS)) {
            const row = rows.find((r) => r.startsWith(`| \`${name}\` |`))!;
            assert.ok(row.includes(`| \`${typeLabel(spec.type)}\` | ${spec.secret ? "**secret**" : "no"} | ${spec.since} |`), row);
        }
        assert.ok(doc.includes(OUTPUTS_CONTRACT));
    });
});

describe("example consumer (examples/consumer) through a StackReference", () => {
    const FACILITY = "my-org/incant/dev";
    const consumerConfig = { "incant-consumer:facilityStack": FACILITY };

    async function runConsumer(outputs: Record<string, unknown>, secretOutputs: string[]) {
        setStackReference(FACILITY, outputs, secretOutputs);
        return runOffline({ project: "incant-consumer", stack: "team", config: consumerConfig, secretKeys: [], program: path.join(ROOT, "examples", "consumer", "index.ts") });
    }

    it("reads the facility's endpoints, and keeps the kubeconfig secret", async () => {
        const facility = await runProgram("dev");
        const run = await runConsumer(facility.outputs, facility.secretOutputs);
        const endpoints = facility.outputs.htcondorEndpoints as { collectorAddress: string; scheddAddress: string };
        assert.equal(run.outputs.collectorAddress, endpoints.collectorAddress);
        assert.equal(run.outputs.facilityContract, OUTPUTS_CONTRACT);
        const configMap = run.resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap")!;
        assert.deepEqual(configMap.inputs.data, {
            CONDOR_COLLECTOR: endpoints.collectorAddress, CONDOR_SCHEDD: endpoints.scheddAddress,
            CONDOR_SCHEDD_NAME: (facility.outputs.htcondorEndpoints as { scheddName: string }).scheddName,
            TRUST_DOMAIN: (facility.outputs.htcondorEndpoints as { trustDomain: string }).trustDomain,
            NFS_SERVER: facility.outputs.nfsServer,
            NFS_HOME: (facility.outputs.nfsExports as { home: string }).home,
            NFS_SCRATCH: (facility.outputs.nfsExports as { scratch: string }).scratch,
            S3_ARCHIVE_BUCKET: (facility.outputs.archive as { bucket: string }).bucket,
            JUPYTERHUB_URL: facility.outputs.jupyterhubUrl,
        });
        // dev runs the hub: its URL is the NodePort on the cluster's floating IP.
        assert.equal(facility.outputs.jupyterhubUrl, `https://${String(facility.outputs.kubernetesApiHost)}:30443/`);
        assert.equal((facility.outputs.archive as { submitPath: string }).submitPath, "/s3/archive");
        const provider = run.resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
        assert.deepEqual(provider.secretPaths, ["kubeconfig"], "the kubeconfig reaches the provider as a secret");
    });

    it("refuses a facility that publishes another contract", async () => {
        const facility = await runProgram("dev");
        await assert.rejects(runConsumer({ ...facility.outputs, outputsContract: "incant-outputs/v2" }, facility.secretOutputs),
            /the facility stack publishes incant-outputs\/v2; this program reads incant-outputs\/v1/);
    });
});
