/**
 * Resource names are state: Pulumi finds a resource by its URN (type, parent chain and name), and
 * a refactor that changes one makes `pulumi up` delete the old resource and create a new one — a
 * new VM, a new volume, a new floating IP. The dev stack's URNs are committed in
 * contracts/urns.dev.txt; this test fails on any difference and says what to do:
 *   - a rename or a move to another parent: keep the URN with `aliases` (CONTRIBUTING.md), so
 *     Pulumi moves the state instead of replacing the resource;
 *   - a resource deliberately added or removed: regenerate the list and let the review see it,
 *     `UPDATE_URNS=1 npx mocha tests/urns.test.ts`.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT, runProgram } from "./harness/program";

const LIST = path.join(ROOT, "contracts", "urns.dev.txt");

/** The dev stack's URNs, sorted; aliases are not URNs of their own. */
async function devUrns(): Promise<string[]> {
    const run = await runProgram("dev");
    return run.resources.map((r) => r.urn).sort();
}

describe("resource URNs (contracts/urns.dev.txt)", () => {
    it("the dev stack registers exactly the committed URNs: no resource renamed or moved by accident", async () => {
        const urns = await devUrns();
        if (process.env.UPDATE_URNS === "1") fs.writeFileSync(LIST, urns.join("\n") + "\n");
        const committed = fs.readFileSync(LIST, "utf8").trim().split("\n");
        const gone = committed.filter((u) => !urns.includes(u));
        const added = urns.filter((u) => !committed.includes(u));
        assert.ok(gone.length === 0 && added.length === 0,
            `URNs changed. A renamed or re-parented resource would be replaced by pulumi up: give it \`aliases\` with its old name/parent.\n` +
            `A deliberate addition or removal: UPDATE_URNS=1 npx mocha tests/urns.test.ts\n` +
            `gone:\n  ${gone.join("\n  ")}\nadded:\n  ${added.join("\n  ")}`);
    });
});
