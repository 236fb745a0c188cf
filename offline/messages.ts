/**
 * What the render prints when it stops: the two kinds of failure (exit 2: the command line is
 * wrong; exit 1: the configuration or the folder it writes to is), and the last guard of every
 * printed line, which hides anything that looks like a key or token (a private key pasted into
 * the wrong key, a token in a file name) and drops stack frames unless --debug.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { looksSecret } from "../components/config/grammar";

/** Exit codes of `npm run render` (README "Quick start"). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The command line is wrong (an option, a stack or file that does not exist, a refused --out): exit 2. */
export class UsageError extends Error {
    constructor(message: string, public readonly showUsage = true) {
        super(message);
        this.name = "UsageError";
    }
}

/** The render ran into a problem of its input or its output folder (not a bug): exit 1, no stack. */
export class RenderError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "RenderError";
    }
}

export const HIDDEN = "[a value that looks like a key or token, not shown]";

/** A PEM or OpenSSH key block, also JSON-escaped on one line, also without its END line. */
const KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/g;
/** The words of a message: what lies between spaces, quotes and brackets. */
const WORD = /[^\s"'`()[\]{},;]+/g;

/**
 * Replaces every key block, and every word the configuration's own rule finds secret-looking
 * (components/config/grammar.ts looksSecret: JWTs, access keys, tokens, long mixed base64), by
 * HIDDEN. Word by word, so the names, URNs and paths around them stay readable.
 */
export function maskSecrets(text: string): string {
    return text.replace(KEY_BLOCK, HIDDEN).replace(WORD, (word) => (wordLooksSecret(word) ? HIDDEN : word));
}

/**
 * A path of this machine ("/tmp/incant-render-Ab3xYz/Pulumi.dev.yaml": whole, a long run of
 * base64 characters mixing cases and digits) is judged segment by segment, so it stays readable
 * and a token in one segment is still hidden. Only a word whose folder exists counts as a path:
 * base64 also has slashes.
 */
function wordLooksSecret(word: string): boolean {
    if (!looksSecret(word)) return false;
    if (/^(\/|\.\.?\/)/.test(word) && fs.existsSync(path.dirname(word))) return word.split("/").some((segment) => looksSecret(segment));
    return true;
}

/** Whether a text shows anything maskSecrets hides. */
export function showsSecret(text: string): boolean {
    return maskSecrets(text) !== text;
}

/**
 * A value the user gave (a stack name, a path), quoted for a message: control characters and
 * line separators escaped (one message stays one line), very long values cut, secret-looking
 * ones not shown.
 */
export function quoted(value: string, max = 200): string {
    if (showsSecret(value)) return HIDDEN;
    const json = JSON.stringify(value).replace(/[\u2028\u2029\u0085]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    return json.length > max ? `${json.slice(0, max - 4)}..."` : json;
}

/** Lines of a stack trace ("    at f (file:1:2)"), which only --debug prints. */
const STACK_FRAME = /^\s+at .+$/;

/**
 * The lines the render prints for a failure and its exit code: one `render failed:` line (and the
 * list of problems a configuration error carries), the usage for a usage error, a hint to use
 * --debug for an unexpected error, and the stack trace only with --debug. Every line masked.
 */
export function failureReport(error: unknown, usage: string, debug: boolean): { code: number; lines: string[] } {
    const e = error instanceof Error ? error : new Error(String(error));
    const lines: string[] = [];
    let code: number = EXIT.failed;
    if (e instanceof UsageError) {
        code = EXIT.usage;
        lines.push(`render: ${e.message}`);
        if (e.showUsage) lines.push(usage);
    } else {
        // Expected failures: the config validation (ConfigValidationError, as RunError from the
        // program), a component's ResourceError, the stack file, the output folder.
        const expected = e instanceof RenderError || e.name === "ConfigValidationError" || e.name === "DuplicateUrnError" ||
            pulumi.RunError.isInstance(e) || pulumi.ResourceError.isInstance(e);
        lines.push(`render failed: ${e.message}`);
        if (!expected && !debug) lines.push("(an unexpected error: run again with --debug for the stack trace)");
    }
    // Masked before splitting: a key spans lines.
    const shown = lines.flatMap((l) => maskSecrets(l).split("\n")).filter((l) => debug || !STACK_FRAME.test(l));
    if (debug && e.stack) shown.push(...maskSecrets(e.stack).split("\n").filter((l) => STACK_FRAME.test(l)));
    return { code, lines: shown };
}
