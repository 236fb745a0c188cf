/**
 * components/promiseStacks.ts: the SDK's per-promise stacks are skipped, and nothing else changes.
 */
import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { skipUnreadPromiseStacks } from "../components/promiseStacks";

/** A stand-in with the SDK's shape: it stamps the promise it is given with `new Error().stack`. */
function fakeDebuggable(debugPromiseLeaks = false) {
    return {
        debugPromiseLeaks,
        debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T> {
            Object.defineProperty(p, "_debugStackTrace", { value: new Error().stack });
            Object.defineProperty(p, "_debugCtx", { value: ctx });
            return p;
        },
    };
}

type Stamped = Promise<unknown> & { _debugStackTrace?: string; _debugCtx?: unknown };

const hasFrames = (stack: string | undefined) => /\n\s+at /.test(stack ?? "");

describe("SDK promise stacks", () => {
    it("are empty once skipped, while the context label stays", () => {
        const sdk = fakeDebuggable();
        const before: Stamped = Promise.resolve(1);
        sdk.debuggablePromise(before, "ctx");
        assert.ok(hasFrames(before._debugStackTrace), "the stand-in captures frames before the change");

        assert.equal(skipUnreadPromiseStacks(sdk), true);
        const after: Stamped = Promise.resolve(1);
        sdk.debuggablePromise(after, "transferProperty(x)");
        assert.equal(after._debugStackTrace, "Error");
        assert.equal(after._debugCtx, "transferProperty(x)");
    });

    it("leave every other error's stack alone, also when the SDK throws", () => {
        const sdk = fakeDebuggable();
        const throwing = { ...sdk, debuggablePromise: (): Promise<never> => { throw new Error("boom"); } };
        const limit = Error.stackTraceLimit;
        skipUnreadPromiseStacks(throwing);
        assert.throws(() => throwing.debuggablePromise(), /boom/);
        assert.equal(Error.stackTraceLimit, limit);
        assert.ok(hasFrames(new Error("mine").stack));
    });

    it("are wrapped once however often the program runs", () => {
        const sdk = fakeDebuggable();
        skipUnreadPromiseStacks(sdk);
        const once = sdk.debuggablePromise;
        skipUnreadPromiseStacks(sdk);
        assert.equal(sdk.debuggablePromise, once);
    });

    it("are kept when PULUMI_DEBUG_PROMISE_LEAKS asked for them", () => {
        const sdk = fakeDebuggable(true);
        const original = sdk.debuggablePromise;
        assert.equal(skipUnreadPromiseStacks(sdk), false);
        assert.equal(sdk.debuggablePromise, original);
    });

    it("are skipped in the one SDK copy every provider package uses", () => {
        // A nested copy under a provider would keep its stacks: slower, never wrong.
        const programSdk = require.resolve("@pulumi/pulumi/runtime/debuggable");
        for (const provider of ["@pulumi/openstack", "@pulumi/kubernetes", "@pulumi/docker", "@pulumi/random", "@pulumi/tls", "@pulumi/command"]) {
            const from = path.dirname(require.resolve(`${provider}/package.json`));
            assert.equal(require.resolve("@pulumi/pulumi/runtime/debuggable", { paths: [from] }), programSdk, provider);
        }
    });

    it("are skipped for the promises the real SDK makes when it registers a resource", async () => {
        await pulumi.runtime.setMocks({
            newResource: async (args) => ({ id: `${args.name}-id`, state: args.inputs }),
            call: async (args) => args.inputs,
        }, "incant", "promise-stacks", false);
        assert.equal(skipUnreadPromiseStacks(), true);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { leakCandidates: Set<Stamped> } };
        const network = new openstack.networking.Network("stacks", { name: "stacks" });
        // The output promises are pending until the mock answers: the SDK holds them as leak candidates.
        const pending = [...state.getStore().leakCandidates];
        assert.ok(pending.length > 20, `expected the SDK's promises for one network, got ${pending.length}`);
        const withFrames = pending.filter((p) => hasFrames(p._debugStackTrace));
        assert.deepEqual(withFrames.map((p) => p._debugCtx), []);
        await new Promise((resolve) => network.id.apply(resolve));
    });
});
