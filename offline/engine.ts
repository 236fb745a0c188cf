/**
 * The offline engine: runs the real Pulumi program (index.ts) on the Node SDK's mock monitor and
 * records every resource registration exactly as the engine would receive it: type, name, URN,
 * parent, provider, dependencies, options and inputs, with secret values kept apart.
 * Used by the render (`npm run render`), the tests and the benchmark.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { mockCall, mockState } from "./mocks";

/** The marker that replaces every secret value in recorded inputs. */
export const SECRET_MARKER = "[secret]";
export const UNKNOWN_MARKER = "[unknown until deploy]";

// The SDK's wire markers (runtime/rpc).
const { specialSigKey: SIG, specialSecretSig: SECRET_SIG, specialResourceSig: RESOURCE_SIG,
    specialAssetSig: ASSET_SIG, specialArchiveSig: ARCHIVE_SIG, unknownValue: UNKNOWN } = pulumi.runtime;

export interface RecordedResource {
    type: string;
    name: string;
    urn: string;
    /** URN of the parent (component or stack); undefined at the top. */
    parent?: string;
    custom: boolean;
    /** Provider reference (`urn::id`) when explicit. */
    provider?: string;
    /** URNs this resource waits for (explicit dependsOn and input dependencies). */
    dependencies: string[];
    protect: boolean;
    retainOnDelete: boolean;
    ignoreChanges: string[];
    /** URNs whose replacement also replaces this resource (the `replaceWith` option). */
    replaceWith?: string[];
    /** The `deleteBeforeReplace` option. */
    deleteBeforeReplace?: boolean;
    /** Inputs with every secret replaced by SECRET_MARKER. */
    inputs: Record<string, unknown>;
    /** Inputs with secrets in clear: only for tests and `--show-secrets`. */
    revealedInputs: Record<string, unknown>;
    /** JSON paths (dot/bracket) of the inputs that are secret. */
    secretPaths: string[];
    /** State reported by the offline provider. */
    state: Record<string, unknown>;
    /** Outputs the provider SDK marks secret (e.g. privateKeyPem). */
    additionalSecretOutputs: string[];
}

/** Two resources with one URN (same type, name and parent): Pulumi fails the deployment. */
export class DuplicateUrnError extends Error {
    constructor(public readonly urn: string) {
        super(`Duplicate resource URN '${urn}'; try giving it a unique name`);
        this.name = "DuplicateUrnError";
    }
}

export interface OfflineRun {
    resources: RecordedResource[];
    /** The program's exports (index.ts), resolved; secrets as pulumi would hold them. */
    outputs: Record<string, unknown>;
    /** Export names whose value is secret. */
    secretOutputs: string[];
    /** Strings the program marked with `sensitive` (components/secrets.ts). */
    sensitive: string[];
}

export interface OfflineRunOptions {
    project: string;
    stack: string;
    /** Full config map, e.g. {"incant:nodes": "{...json...}"}. */
    config: Record<string, string>;
    /** Full keys of the config values that are secret. */
    secretKeys: string[];
    /** Absolute path of the program module; default: the repository's index.ts. */
    program?: string;
    /** Run as a preview (isDryRun) instead of an update. */
    preview?: boolean;
}

/** Decodes the wire form of one value, separating secrets. */
function decode(value: unknown, at: string, secretPaths: string[], reveal: boolean, inSecret = false): unknown {
    if (value === UNKNOWN) return UNKNOWN_MARKER;
    if (Array.isArray(value)) return value.map((v, i) => decode(v, `${at}[${i}]`, secretPaths, reveal, inSecret));
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG] === SECRET_SIG) {
            if (!inSecret) secretPaths.push(at);
            return reveal ? decode(obj.value, at, secretPaths, reveal, true) : SECRET_MARKER;
        }
        if (obj[SIG] === RESOURCE_SIG) return { resource: obj.urn, id: obj.id };
        if (obj[SIG] === ASSET_SIG || obj[SIG] === ARCHIVE_SIG) return { asset: obj.path ?? obj.uri ?? "[inline]" };
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, decode(v, at ? `${at}.${k}` : k, secretPaths, reveal, inSecret)]));
    }
    return value;
}

/** Drops the project's own modules from the require cache so the program runs afresh. */
function forgetProgramModules(root: string): void {
    for (const key of Object.keys(require.cache)) {
        if (key.startsWith(root) && !key.includes(`${path.sep}node_modules${path.sep}`) && !key.includes(`${path.sep}offline${path.sep}`)) {
            delete require.cache[key];
        }
    }
}

async function resolveOutputs(exports: Record<string, unknown>): Promise<{ values: Record<string, unknown>; secret: string[] }> {
    const values: Record<string, unknown> = {};
    const secret: string[] = [];
    for (const [key, value] of Object.entries(exports)) {
        const output: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<unknown>);
        if (await pulumi.isSecret(output)) secret.push(key);
        values[key] = await new Promise((resolve) => output.apply((v: unknown) => { resolve(v); return v; }));
    }
    return { values, secret };
}

const ROOT = path.resolve(__dirname, "..");

const failedRuns = new WeakMap<object, RecordedResource[]>();

/** What a failed run had registered before it failed (tests: "nothing is half-created"). */
export function registeredBeforeFailure(error: unknown): RecordedResource[] | undefined {
    return typeof error === "object" && error !== null ? failedRuns.get(error) : undefined;
}

/** Waits for every outstanding registration (exported by the SDK, marked internal in its typings). */
const waitForRPCs = (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

/** Runs the program offline and returns what it registered. Throws the program's own error. */
export async function runOffline(opts: OfflineRunOptions): Promise<OfflineRun> {
    const resources: RecordedResource[] = [];
    await pulumi.runtime.setMocks({
        newResource: async (args) => mockState(args.type, args.name, args.inputs),
        call: (args) => mockCall(args),
    }, opts.project, opts.stack, opts.preview ?? false);
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);

    // Wrap the mock monitor to see each request as the engine would.
    const monitor = settings.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, cb: (err: unknown, resp?: RegisterResponse) => void): Promise<void>;
    };
    const original = monitor.registerResource.bind(monitor);
    const urns = new Set<string>();
    let duplicate: DuplicateUrnError | undefined;
    monitor.registerResource = async (req, cb) => original(req, (err, resp) => {
        if (!err && resp && urns.has(resp.getUrn())) {
            // The engine refuses a second resource with a URN it has seen in this deployment,
            // with this message (pulumi/pulumi pkg/diag/errors.go, GetDuplicateResourceURNError,
            // code 2001); the SDK's mock monitor does not check, so the offline engine must.
            duplicate ??= new DuplicateUrnError(resp.getUrn());
            cb(duplicate);
            return;
        }
        if (!err && resp) {
            urns.add(resp.getUrn());
            const raw = req.getObject()?.toJavaScript() ?? {};
            const secretPaths: string[] = [];
            const inputs = decode(raw, "", secretPaths, false) as Record<string, unknown>;
            const revealedInputs = decode(raw, "", [], true) as Record<string, unknown>;
            resources.push({
                type: req.getType(), name: req.getName(), urn: resp.getUrn(),
                parent: req.getParent() || undefined, custom: req.getCustom(),
                provider: req.getProvider() || undefined,
                dependencies: req.getDependenciesList(),
                protect: Boolean(req.getProtect?.()), retainOnDelete: Boolean(req.getRetainondelete?.()),
                ignoreChanges: req.getIgnorechangesList?.() ?? [],
                replaceWith: req.getReplaceWithList?.() ?? [],
                deleteBeforeReplace: Boolean(req.getDeletebeforereplace?.()),
                inputs, revealedInputs, secretPaths,
                state: decode(resp.getObject()?.toJavaScript() ?? {}, "", [], true) as Record<string, unknown>,
                additionalSecretOutputs: req.getAdditionalsecretoutputsList?.() ?? [],
            });
        }
        cb(err, resp);
    });

    const errors: unknown[] = [];
    const onRejection = (reason: unknown) => { errors.push(reason); };
    process.on("unhandledRejection", onRejection);
    try {
        return await runProgramModule(opts, resources, errors);
    } catch (e) {
        // The SDK's operations still in flight reject with echoes of this error: let them land in
        // onRejection, not crash the process as unhandled once the error has been reported.
        // Bounded: a failure must be reported even if some operation never settles.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([waitForRPCs().catch(() => undefined), new Promise((resolve) => { timer = setTimeout(resolve, 10_000); })]);
        clearTimeout(timer);
        await new Promise((resolve) => setImmediate(resolve));
        // A duplicate URN surfaces wrapped ("failed to register new resource ..."): report it as Pulumi does.
        const failure: unknown = duplicate ?? e;
        if (typeof failure === "object" && failure !== null) failedRuns.set(failure, resources);
        throw failure;
    } finally {
        process.off("unhandledRejection", onRejection);
    }
}

async function runProgramModule(opts: OfflineRunOptions, resources: RecordedResource[], errors: unknown[]): Promise<OfflineRun> {
    forgetProgramModules(ROOT);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exports = require(opts.program ?? path.join(ROOT, "index")) as Record<string, unknown>;
    const { values, secret } = await resolveOutputs(exports);
    await waitForRPCs();
    if (errors.length > 0) throw errors[0];
    // The program's own copy of the module (loaded afresh with it) holds this run's values.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const secrets = require(path.join(ROOT, "components", "secrets")) as typeof import("../components/secrets");
    return { resources, outputs: values, secretOutputs: secret, sensitive: [...secrets.sensitiveValues()] };
}

// The parts of the protobuf request/response the recorder reads.
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getProvider(): string;
    getDependenciesList(): string[];
    getProtect?(): boolean;
    getRetainondelete?(): boolean;
    getIgnorechangesList?(): string[];
    getReplaceWithList?(): string[];
    getDeletebeforereplace?(): boolean;
    getAdditionalsecretoutputsList?(): string[];
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}
interface RegisterResponse {
    getUrn(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}
