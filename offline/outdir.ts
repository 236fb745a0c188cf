/**
 * The render's output folder, written so that nothing it did not write is ever deleted or
 * overwritten:
 *
 *   --out DIR ──▶ resolve (symlinks of the parents, `..`) ──▶ refuse /, the checkout or a folder
 *   holding it, the home folder or one holding it, .git, a file, a symlink, a folder that is
 *   neither empty nor a previous render
 *   render ──▶ DIR/../.DIR.incant-tmp-XXXXXX (files + the marker listing them, written last)
 *   swap   ──▶ DIR → .DIR.incant-old-XXXXXX, tmp → DIR (two renames), then the old folder is
 *              removed file by file from its marker's list (unlink + rmdir, never recursive)
 *
 * DIR only ever changes by one rename of a complete folder, so two renders into it at once
 * cannot mix (the last to finish wins, whole), and a render that fails before the swap leaves the
 * previous one exactly as it was. A folder counts as a previous render when it holds the marker
 * and nothing the marker does not list.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { quoted, RenderError, UsageError } from "./messages";

/** The marker file every render writes (last) into its folder. */
export const MARKER = ".incant-render.json";

interface Marker {
    renderedBy: string;
    stack: string;
    /** Every file of the render, relative, "/"-separated, sorted: what the next render may delete. */
    files: string[];
}

export interface OutDirGuards {
    /** The checkout (refused, with every folder that holds it, and its .git). */
    root: string;
    /** The home folder (refused, with every folder that holds it). */
    home: string;
}

const ROOT = path.resolve(__dirname, "..");

export function defaultGuards(): OutDirGuards {
    return { root: ROOT, home: os.homedir() };
}

/** Error from a file system call as words, for a one-line message. */
export function errnoText(e: unknown): string {
    const code = (e as NodeJS.ErrnoException).code;
    const words: Record<string, string> = {
        ENOENT: "no such file or folder", EACCES: "permission denied", EPERM: "operation not permitted", EROFS: "read-only file system",
        ENOSPC: "no space left on the device", EDQUOT: "disk quota exceeded", ENOTDIR: "a part of the path is a file",
        EBUSY: "the folder is busy (a mount point?)", ENAMETOOLONG: "the name is too long", ELOOP: "too many symbolic links",
        EXDEV: "crosses file systems",
    };
    return code ? `${words[code] ?? code} (${code})` : String(e);
}

/** a == b or a holds b. */
function holds(a: string, b: string): boolean {
    const rel = path.relative(a, b);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of `p`: its deepest existing ancestor resolved (symlinks), the rest appended. */
function realPathOf(p: string): string {
    const missing: string[] = [];
    let cur = p;
    for (;;) {
        try {
            return path.join(fs.realpathSync(cur), ...missing.reverse());
        } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code !== "ENOENT" || path.dirname(cur) === cur) throw new UsageError(`--out ${quoted(p)} cannot be used: ${errnoText(e)}`, false);
            missing.push(path.basename(cur));
            cur = path.dirname(cur);
        }
    }
}

/**
 * The folder a render of `out` writes to, absolute, with its parents' symlinks resolved; throws
 * UsageError (exit 2) for a folder the render must never replace.
 */
export function resolveOutDir(out: string, guards: OutDirGuards = defaultGuards()): string {
    const given = path.resolve(out);
    const parent = path.dirname(given);
    const target = given === parent ? given : path.join(realPathOf(parent), path.basename(given));
    const root = realPathOf(guards.root);
    const home = realPathOf(guards.home);
    const refuse = (why: string) => new UsageError(`refusing --out ${quoted(out)}: ${why}`, false);
    if (target === path.parse(target).root) throw refuse("it is the root folder");
    if (holds(target, root)) throw refuse(`it is or holds the checkout ${root}`);
    if (holds(path.join(root, ".git"), target)) throw refuse("it is inside the checkout's .git");
    if (holds(target, home)) throw refuse(`it is or holds the home folder ${home}`);
    return target;
}

/** What is at the target: nothing, an empty folder, or a previous render (anything else throws). */
export function inspectOutDir(target: string, shownAs = target): "absent" | "empty" | "render" {
    const refuse = (why: string) => new UsageError(`refusing --out ${quoted(shownAs)}: ${why}; the render never deletes what it did not write`, false);
    let st: fs.Stats;
    try {
        st = fs.lstatSync(target);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return "absent";
        throw new UsageError(`--out ${quoted(shownAs)} cannot be used: ${errnoText(e)}`, false);
    }
    if (st.isSymbolicLink()) throw refuse("it is a symbolic link (give the folder itself)");
    if (!st.isDirectory()) throw refuse("it is a file, not a folder");
    let entries: string[];
    let foreign: string[] = [];
    const marker = readMarker(target);
    try {
        entries = fs.readdirSync(target);
        if (marker) foreign = foreignEntries(target, marker);
    } catch (e) {
        // Another render moved it away while we looked.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return "absent";
        throw new UsageError(`--out ${quoted(shownAs)} cannot be used: ${errnoText(e)}`, false);
    }
    if (entries.length === 0) return "empty";
    if (!marker) throw refuse(`it is a folder that is not empty and holds no ${MARKER} (it is not a previous render)`);
    if (foreign.length > 0) {
        throw refuse(`it is a previous render but also holds ${foreign.length} thing(s) the render did not write, e.g. ${quoted(foreign[0])}`);
    }
    return "render";
}

function readMarker(dir: string): Marker | undefined {
    const file = path.join(dir, MARKER);
    try {
        if (!fs.lstatSync(file).isFile()) return undefined;
        const m = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Marker>;
        if (Array.isArray(m.files) && m.files.every((f) => typeof f === "string" && isInside(f))) return m as Marker;
    } catch {
        // No marker or not one of ours: not a previous render.
    }
    return undefined;
}

/** A relative "/"-separated path that stays inside its folder. */
function isInside(rel: string): boolean {
    return rel !== "" && !path.isAbsolute(rel) && !rel.split("/").some((p) => p === ".." || p === "." || p === "");
}

/** Folders of a file list (each parent of each file), deepest first. */
function foldersOf(files: string[]): string[] {
    const dirs = new Set<string>();
    for (const f of files) {
        for (let d = path.posix.dirname(f); d !== "."; d = path.posix.dirname(d)) dirs.add(d);
    }
    return [...dirs].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b));
}

/** Entries under a render folder that its marker does not account for (relative paths). */
function foreignEntries(dir: string, marker: Marker): string[] {
    const files = new Set([...marker.files, MARKER]);
    const dirs = new Set(foldersOf(marker.files));
    const foreign: string[] = [];
    const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory() && dirs.has(r)) walk(r);
            else if (!(e.isFile() && files.has(r))) foreign.push(r);
        }
    };
    walk("");
    return foreign.sort();
}

/**
 * Removes a folder the render wrote: the files its marker lists, the marker, then the folders
 * (rmdir: fails on anything else). Returns what is left (nothing when all went).
 */
export function removeRender(dir: string): string[] {
    return removeFiles(dir, readMarker(dir)?.files ?? []);
}

/** Unlinks `files` and the marker under `dir`, then rmdirs their folders and `dir`; returns what is left. */
function removeFiles(dir: string, files: string[]): string[] {
    for (const f of [...files, MARKER]) {
        try {
            fs.unlinkSync(path.join(dir, ...f.split("/")));
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
    }
    for (const d of [...foldersOf(files), ""]) {
        try {
            fs.rmdirSync(path.join(dir, ...d.split("/").filter(Boolean)));
        } catch (e) {
            if (!["ENOENT", "ENOTEMPTY", "EEXIST"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
        }
    }
    return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/** A fresh hidden name beside the target. */
function besideName(target: string, kind: "tmp" | "old"): string {
    return path.join(path.dirname(target), `.${path.basename(target)}.incant-${kind}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/**
 * Writes the files (relative "/"-separated path -> text) and the marker into a new folder beside
 * the target and returns it. `secret`: folders 0700 and files 0600 (they hold secrets in clear).
 */
export function writeStaging(target: string, stack: string, files: Record<string, string>, secret: boolean): string {
    const names = Object.keys(files).sort();
    const bad = names.find((n) => !isInside(n));
    if (bad !== undefined) throw new Error(`render file name ${quoted(bad)} leaves its folder`);
    let staging: string | undefined;
    try {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        staging = fs.mkdtempSync(besideName(target, "tmp"));
        for (const name of names) {
            const file = path.join(staging, ...name.split("/"));
            fs.mkdirSync(path.dirname(file), { recursive: true, mode: secret ? 0o700 : 0o777 });
            fs.writeFileSync(file, files[name], { mode: secret ? 0o600 : 0o644, flag: "wx" });
        }
        const marker: Marker = { renderedBy: "incant offline render (offline/render.ts): the next render replaces this folder", stack, files: names };
        fs.writeFileSync(path.join(staging, MARKER), JSON.stringify(marker, null, 2) + "\n", { mode: secret ? 0o600 : 0o644, flag: "wx" });
        // mkdtemp makes 0700; a render without secrets is as readable as the checkout.
        if (!secret) fs.chmodSync(staging, 0o755 & ~process.umask());
        return staging;
    } catch (e) {
        if (staging) removeFiles(staging, names);
        throw new RenderError(`cannot write the render beside ${quoted(target)}: ${errnoText(e)}`);
    }
}

/**
 * Swaps a written staging folder in as the target (see the file comment). Retries when another
 * render swaps its own folder in at the same moment; refuses (and removes the staging folder)
 * when the target became something that is not a render meanwhile.
 */
export function installRender(staging: string, target: string, shownAs = target): void {
    for (let attempt = 0; attempt < 5; attempt++) {
        let state: ReturnType<typeof inspectOutDir>;
        try {
            state = inspectOutDir(target, shownAs);
        } catch (e) {
            removeRender(staging);
            throw e;
        }
        let aside: string | undefined;
        try {
            if (state !== "absent") {
                aside = besideName(target, "old");
                fs.renameSync(target, aside);
            }
            fs.renameSync(staging, target);
        } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            // Someone (another render) moved or created the target between two steps: again.
            if (code === "ENOENT" || code === "ENOTEMPTY" || code === "EEXIST") {
                if (aside && fs.existsSync(aside)) putBack(aside, target);
                continue;
            }
            if (aside && fs.existsSync(aside)) putBack(aside, target);
            removeRender(staging);
            throw new RenderError(`cannot replace ${quoted(shownAs)}: ${errnoText(e)}`);
        }
        if (aside) {
            let left: string[];
            try {
                left = removeRender(aside);
            } catch (e) {
                throw new RenderError(`rendered to ${quoted(shownAs)}; the previous render, moved to ${quoted(aside)}, could not be removed: ${errnoText(e)}`);
            }
            if (left.length > 0) throw new RenderError(`rendered to ${quoted(shownAs)}; the previous render, moved to ${quoted(aside)}, kept ${left.length} thing(s) it did not write: look at them`);
        }
        return;
    }
    removeRender(staging);
    throw new RenderError(`cannot replace ${quoted(shownAs)}: other renders kept replacing it; nothing of this one was kept`);
}

/** Puts a folder moved aside back when the target is free, else removes it as the render it is. */
function putBack(aside: string, target: string): void {
    try {
        fs.renameSync(aside, target);
    } catch {
        removeRender(aside);
    }
}
