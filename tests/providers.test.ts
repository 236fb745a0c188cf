/**
 * No resource falls back to a default provider where that would be dangerous: a Kubernetes
 * resource that forgot its provider would go to whatever kubeconfig the runner has, an OpenStack
 * one to the runner's OS_* environment. Pulumi.yaml disables those defaults (the engine then
 * refuses such a resource); this test finds them offline, before any engine does.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { ROOT, runProgram } from "./harness/program";

/** Resources the engine manages itself: providers and stack references. */
const ENGINE_TYPES = /^pulumi:(providers:|pulumi:StackReference$)/;

function disabledDefaults(): string[] {
    const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { value?: string[] }> };
    return project.config["pulumi:disable-default-providers"]?.value ?? [];
}

describe("providers: no resource falls back to a default provider that reads the runner's settings", () => {
    it("Pulumi.yaml disables the Kubernetes and OpenStack default providers", () => {
        assert.deepEqual([...disabledDefaults()].sort(), ["kubernetes", "openstack"]);
    });

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: every resource of those packages names an explicit provider of its own package`, async () => {
            const run = await runProgram(stack);
            const disabled = new Set(disabledDefaults());
            const providers = new Map(run.resources.filter((r) => r.type.startsWith("pulumi:providers:")).map((r) => [r.urn, r.type]));
            const guarded = run.resources.filter((r) => r.custom && !ENGINE_TYPES.test(r.type) && disabled.has(r.type.split(":")[0]));
            assert.ok(guarded.length > 100, `only ${guarded.length} Kubernetes and OpenStack resources: did the program run?`);
            assert.deepEqual(guarded.filter((r) => !r.provider).map((r) => r.urn), [], "resources on a disabled default provider");
            for (const r of guarded) {
                // A provider reference is "<provider urn>::<id>"; the provider's package must be the resource's.
                const type = providers.get(r.provider!.replace(/::[^:]*$/, ""));
                assert.equal(type, `pulumi:providers:${r.type.split(":")[0]}`, r.urn);
            }
        });
    }
});
