/**
 * Reads a stack file (`Pulumi.<stack>.yaml`) into the config map the Pulumi engine would hand to
 * the program. Values under `secure:` are ciphertext only the Pulumi CLI can decrypt: offline they
 * become clearly marked placeholders, still flagged secret.
 *
 * The file is read strictly: a YAML error, a duplicate key (also `nodes` beside `incant:nodes`,
 * which name the same key) or an unresolved tag is refused with file, line and column, and the
 * message never quotes the file's text (it may hold a key pasted in the wrong place).
 */
import * as fs from "fs";
import * as path from "path";
import YAML, { Document, isMap, isNode, isScalar, LineCounter, visit, YAMLMap } from "yaml";
import { NAMESPACE, SECRET_KEYS } from "../components/config/validate";
import { isStackName, STACK_NAME_RULE } from "../components/config/names";
import { quoted, RenderError, UsageError } from "./messages";

const ROOT = path.resolve(__dirname, "..");

export interface StackConfig {
    project: string;
    stack: string;
    /** Full key -> value as the engine passes it (objects as JSON text). */
    config: Record<string, string>;
    /** Full keys whose values are secret. */
    secretKeys: string[];
    /** Secret keys that got an offline placeholder. */
    placeholders: string[];
}

export function projectName(root: string): string {
    const doc = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name: string };
    return doc.name;
}

export function offlineSecret(key: string): string {
    return `offline-placeholder-for-${key.replace(":", "-")}`;
}

/** Refuses a stack name that breaks the namePrefix rule (components/config/names.ts). */
export function checkStackName(stack: string, from: string): void {
    if (!isStackName(stack)) throw new UsageError(`stack name ${quoted(stack)} (${from}) is not valid: a stack name is ${STACK_NAME_RULE}`);
}

/** The stack a file is for: `Pulumi.<stack>.yaml` (or `.yml`), the name checked. */
export function stackNameOf(file: string): string {
    const base = path.basename(file);
    const m = /^Pulumi\.(.*)\.ya?ml$/.exec(base);
    if (!m) throw new UsageError(`cannot tell the stack from the file name ${quoted(base)}: name it Pulumi.<stack>.yaml or give --stack`);
    checkStackName(m[1], `from the file name ${quoted(base)}`);
    return m[1];
}

/** The stack names this repository has a file for (for "unknown stack" messages). */
export function knownStacks(root = ROOT): string[] {
    return fs.readdirSync(root).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => s !== undefined && isStackName(s)).sort();
}

function isSecure(value: unknown): value is { secure: string } {
    return typeof value === "object" && value !== null && "secure" in value;
}

/** The text of the mapping key that starts at `offset`. */
function keyAt(doc: Document, offset: number): string | undefined {
    let found: string | undefined;
    visit(doc, {
        Pair(_, pair) {
            if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
                found = String(pair.key.value);
                return visit.BREAK;
            }
            return undefined;
        },
    });
    return found;
}

/** YAML's own message without the excerpt of the file it appends ("at line 3, column 5:\n\n<text>"). */
function shortMessage(message: string): string {
    return message.replace(/ at line \d+, column \d+:[\s\S]*$/, "").trim();
}

/**
 * The `config:` map of a stack file's text as plain values, keys namespaced with `project`.
 * Throws RenderError listing every problem as `<file>:<line>:<column>: <what>`.
 */
export function parseStackConfig(text: string, file: string, project: string): Record<string, unknown> {
    const name = path.basename(file);
    const lines = new LineCounter();
    const doc = YAML.parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
    const problems: string[] = [];
    const at = (offset: number | undefined) => {
        const pos = offset === undefined ? undefined : lines.linePos(offset);
        return pos ? `${name}:${pos.line}:${pos.col}` : name;
    };
    for (const e of [...doc.errors, ...doc.warnings]) {
        const pos = e.linePos?.[0];
        // Name the duplicated key (its text up to the colon), not only its place.
        const key = e.code === "DUPLICATE_KEY" ? keyAt(doc, e.pos[0]) : undefined;
        problems.push(`${pos ? `${name}:${pos.line}:${pos.col}` : name}: ${shortMessage(e.message)}${key ? ` (${quoted(key)} is set twice)` : ""}`);
    }
    const config: Record<string, unknown> = {};
    if (problems.length === 0) {
        const top = doc.contents;
        const configNode = isMap(top) ? top.get("config", true) : undefined;
        if (top !== null && !isMap(top)) problems.push(`${at(top.range?.[0])}: a stack file must be a mapping with a config: section`);
        else if (configNode !== undefined && configNode !== null && !isMap(configNode)) {
            problems.push(`${at((configNode as { range?: [number] }).range?.[0])}: config: must be a mapping of keys to values`);
        } else if (isMap(configNode)) {
            readConfigMap(doc, configNode, project, at, problems, config);
        }
    }
    if (problems.length > 0) {
        throw new RenderError(`${name} cannot be read (${problems.length} problem(s)):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    return config;
}

function readConfigMap(doc: Document, map: YAMLMap, project: string, at: (offset?: number) => string, problems: string[], out: Record<string, unknown>): void {
    const firstSeen = new Map<string, string>();
    for (const item of map.items) {
        const keyNode = item.key;
        const where = at(isScalar(keyNode) ? keyNode.range?.[0] : undefined);
        if (!isScalar(keyNode) || typeof keyNode.value !== "string" || keyNode.value.trim() === "") {
            problems.push(`${where}: a config key must be a non-empty string`);
            continue;
        }
        const rawKey = keyNode.value;
        const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
        const earlier = firstSeen.get(key);
        if (earlier) {
            problems.push(`${where}: ${quoted(key)} is set twice (also at ${earlier})`);
            continue;
        }
        firstSeen.set(key, where);
        let value: unknown;
        try {
            // toJS resolves aliases; the yaml library bounds their expansion (maxAliasCount 100).
            value = isNode(item.value) ? item.value.toJS(doc) : null;
        } catch (e) {
            problems.push(`${where}: ${quoted(key)}: ${shortMessage(e instanceof Error ? e.message : String(e))}`);
            continue;
        }
        if (isSecure(value) && (typeof value.secure !== "string" || Object.keys(value).length !== 1)) {
            problems.push(`${where}: ${quoted(key)}: a secure: value must be exactly {secure: <ciphertext>}`);
            continue;
        }
        out[key] = value;
    }
}

/**
 * Converts the `config:` map of a stack file. `fillSecrets` lists secret keys that get a
 * placeholder when the file does not set them (a review render needs no real credentials).
 * `stack` defaults to the one the file name gives (`Pulumi.<stack>.yaml`).
 */
export function readStackFile(file: string, project: string, fillSecrets: string[] = [], stack = stackNameOf(file)): StackConfig {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a folder, not a stack file" : code === "EACCES" ? "cannot be read (permission denied)" : `cannot be read (${code ?? String(e)})`;
        throw new UsageError(`stack file ${quoted(file)} ${why}`);
    }
    const values = parseStackConfig(text, file, project);
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    const placeholders: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        if (isSecure(value)) {
            config[key] = offlineSecret(key);
            secretKeys.push(key);
            placeholders.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    for (const key of fillSecrets) {
        if (!(key in config)) {
            config[key] = offlineSecret(key);
            secretKeys.push(key);
            placeholders.push(key);
        }
    }
    return { project, stack, config, secretKeys, placeholders };
}

/** `Pulumi.<name>.yaml` of this repository, as the program would get it (see readStackAt). */
export function readStack(name: string, secrets: readonly string[] = SECRET_KEYS): StackConfig {
    checkStackName(name, "--stack");
    const file = path.join(ROOT, `Pulumi.${name}.yaml`);
    if (!fs.existsSync(file)) {
        throw new UsageError(`unknown stack ${quoted(name)}: there is no Pulumi.${name}.yaml in ${ROOT} (stacks: ${knownStacks().join(", ") || "none"})`);
    }
    return readStackAt(file, secrets, name);
}

/**
 * A stack file as the program would get it: this project's name, and an offline placeholder for
 * each key of `secrets` (without namespace; default: every secret key the program knows) that the
 * file does not set. `stack` (from --stack) names the stack; default: the file name's.
 * Used by the render, the benchmark and the tests' harness.
 */
export function readStackAt(file: string, secrets: readonly string[] = SECRET_KEYS, stack?: string): StackConfig {
    if (stack !== undefined) checkStackName(stack, "--stack");
    if (!fs.existsSync(file)) throw new UsageError(`stack file ${quoted(file)} does not exist`);
    if (!fs.statSync(file).isFile()) throw new UsageError(`stack file ${quoted(file)} is not a file`);
    const name = stack ?? stackNameOf(file);
    return readStackFile(file, projectName(ROOT), secrets.map((k) => `${NAMESPACE}:${k}`), name);
}
