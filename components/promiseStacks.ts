/**
 * The Pulumi Node SDK stamps every promise it makes with `new Error().stack`
 * (runtime/debuggable.js `debuggablePromise`): four per output property of every resource, about
 * 130 for one OpenStack server. Those stacks are printed only when the program leaks promises
 * *and* PULUMI_DEBUG_PROMISE_LEAKS is set; otherwise they are never read. Under ts-node each one
 * is still source-mapped frame by frame, and all of them stay on the heap with their resources:
 * at 1000 workers that was four fifths of the program's run time (docs/benchmarks.md).
 *
 * `skipUnreadPromiseStacks` makes the SDK capture an empty stack for those promises, and nothing
 * else: errors keep their full stacks, leak detection still counts and reports leaked promises,
 * and with PULUMI_DEBUG_PROMISE_LEAKS set the SDK is left exactly as it is.
 */

/** The part of the SDK's runtime/debuggable module this relies on (internal in its typings). */
interface DebuggableModule {
    debugPromiseLeaks: boolean;
    debuggablePromise<T>(promise: Promise<T>, context: unknown): Promise<T>;
}

const WRAPPED = Symbol.for("incant.skipUnreadPromiseStacks");

type Wrapped = DebuggableModule["debuggablePromise"] & { [WRAPPED]?: true };

/**
 * Applies the change to the SDK module the program uses; idempotent. Returns whether the SDK's
 * promises now skip their stacks (false when debugging leaks or when the SDK no longer has the
 * function, in which case nothing is changed).
 */
export function skipUnreadPromiseStacks(debuggable: DebuggableModule = loadDebuggable()): boolean {
    const original = debuggable.debuggablePromise as Wrapped;
    if (typeof original !== "function" || debuggable.debugPromiseLeaks) return false;
    if (original[WRAPPED]) return true;
    const wrapped: Wrapped = function <T>(promise: Promise<T>, context: unknown): Promise<T> {
        // V8 collects at most Error.stackTraceLimit frames when an Error is constructed.
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return original(promise, context);
        } finally {
            Error.stackTraceLimit = limit;
        }
    };
    wrapped[WRAPPED] = true;
    // The SDK's own modules call it through this exports object (`debuggable_1.debuggablePromise`).
    debuggable.debuggablePromise = wrapped;
    return true;
}

function loadDebuggable(): DebuggableModule {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule;
}
