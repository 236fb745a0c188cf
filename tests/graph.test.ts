/** The deployment's critical path (offline/graph.ts), used by the benchmark. */
import { strict as assert } from "assert";
import { RecordedResource } from "../offline/engine";
import { criticalPath } from "../offline/graph";
import { runProgram } from "./harness/program";

function resource(urn: string, deps: string[] = [], extra: Partial<RecordedResource> = {}): RecordedResource {
    return {
        type: "t", name: urn, urn, custom: true, dependencies: deps, protect: false, retainOnDelete: false, ignoreChanges: [],
        inputs: {}, revealedInputs: {}, secretPaths: [], state: {}, additionalSecretOutputs: [], ...extra,
    };
}

describe("critical path", () => {
    it("follows dependencies, providers and components, and counts only custom resources", () => {
        const path = criticalPath([
            resource("net"),
            resource("comp", [], { custom: false }),
            resource("vm", ["net"], { parent: "comp" }),
            resource("provider", ["comp"]),
            resource("object", [], { provider: "provider::some-id" }),
            resource("side", ["net"]),
        ]);
        assert.deepEqual(path.chain, ["t::net", "t::vm", "t::provider", "t::object"]);
        assert.equal(path.length, 4);
    });

    it("refuses a cycle", () => {
        assert.throws(() => criticalPath([resource("a", ["b"]), resource("b", ["a"])]), /cycle/);
    });

    it("does not grow with the number of workers, and runs through the API server's readiness", async () => {
        const small = criticalPath((await runProgram("dev", { nodes: { workers: { count: 2 } } })).resources);
        const dev = criticalPath((await runProgram("dev")).resources);
        assert.equal(small.length, dev.length);
        assert.ok(dev.chain.some((step) => step.startsWith("pulumi:providers:kubernetes::")), dev.chain.join("\n"));
    });
});
