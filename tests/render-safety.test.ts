/**
 * The render facing a hostile or careless operator (issue 13): it never deletes or overwrites
 * what it did not write, refuses bad command lines and stack files with one clear message and
 * the right exit code (2: usage, 1: configuration), never prints a stack trace unless --debug,
 * never prints a value that looks like a key, and its engine refuses a duplicate URN as Pulumi
 * does. Everything runs for real: the render command on temporary folders, from a copy of the
 * checkout wherever a broken guard could damage the checkout itself.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultNamePrefix, isStackName, NAME_RE, STACK_NAME_MAX } from "../components/config/names";
import { looksSecret } from "../components/config/grammar";
import { rawConfig } from "../components/config/load";
import { validateConfig } from "../components/config/validate";
import { DuplicateUrnError, registeredBeforeFailure, runOffline } from "../offline/engine";
import { HIDDEN, maskSecrets, showsSecret } from "../offline/messages";
import { installRender, MARKER, resolveOutDir, writeStaging } from "../offline/outdir";
import { readStack } from "../offline/stackfile";
import { ROOT } from "./harness/program";
import { requireCondition } from "./harness/tools";

const TS_NODE = require.resolve("ts-node/dist/bin");
const DEV = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");

/** Temporary folders of this file, removed after it (they hold renders, copies, links). */
const temps: string[] = [];
function tempDir(prefix = "incant-safety-"): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    temps.push(dir);
    return dir;
}
after(() => {
    // rmSync unlinks symbolic links (to the checkout, to node_modules) without following them.
    for (const dir of temps) {
        try {
            fs.rmSync(dir, { recursive: true, force: true });
        } catch (e) {
            console.error(`could not remove ${dir}: ${String(e)}`);
        }
    }
});

/** `npm run render -- args` of the checkout at `root` (default: this one), as a process. */
function cli(args: string[], opts: { root?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
    const root = opts.root ?? ROOT;
    return spawnSync(process.execPath, [TS_NODE, "--transpile-only", path.join(root, "offline", "render.ts"), ...args],
        { encoding: "utf8", cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, timeout: 90_000 });
}

/** The same, started without waiting (two renders at once). */
function cliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(ROOT, "offline", "render.ts"), ...args], { cwd: ROOT });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

const out = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Exit code, the message, and no stack frame anywhere. */
function assertFails(r: SpawnSyncReturns<string>, code: number, message: RegExp): void {
    assert.equal(r.status, code, out(r));
    assert.match(r.stderr, message, out(r));
    assert.ok(!/^\s+at /m.test(r.stdout + r.stderr), `a stack frame was printed:\n${out(r)}`);
}

/** Every file under a folder (relative path -> content and mode), to prove nothing changed. */
function snapshot(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const r = path.join(rel, e.name);
            const full = path.join(dir, r);
            if (e.isDirectory()) walk(r);
            else files[r] = `${(fs.lstatSync(full).mode & 0o7777).toString(8)} ${e.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}` : fs.readFileSync(full, "utf8")}`;
        }
    };
    walk("");
    return files;
}

/** A folder of the user's: files the render must never touch. */
function userFolder(): string {
    const dir = tempDir("incant-user-");
    fs.writeFileSync(path.join(dir, "thesis.tex"), "\\documentclass{article}\n");
    fs.mkdirSync(path.join(dir, "data"));
    fs.writeFileSync(path.join(dir, "data", "events.root"), "not really ROOT\n");
    return dir;
}

/**
 * A copy of the checkout (tracked and untracked, not ignored, files; node_modules linked) with a
 * .git and a sentinel: a render run from it that got the guards wrong damages the copy, never
 * the real checkout.
 */
function checkoutCopy(): string {
    const copy = path.join(tempDir("incant-checkout-"), "main");
    const list = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(list.status, 0, list.stderr);
    for (const f of list.stdout.split("\0").filter(Boolean)) {
        // Deleted in the work tree, or not a plain file (node_modules is linked below).
        if (!fs.existsSync(path.join(ROOT, f)) || !fs.lstatSync(path.join(ROOT, f)).isFile()) continue;
        fs.mkdirSync(path.join(copy, path.dirname(f)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"));
    fs.mkdirSync(path.join(copy, ".git"));
    fs.writeFileSync(path.join(copy, ".git", "HEAD"), "ref: refs/heads/main\n");
    fs.writeFileSync(path.join(copy, "SENTINEL"), "the checkout is intact\n");
    return copy;
}

function assertCopyIntact(copy: string): void {
    assert.equal(fs.readFileSync(path.join(copy, "SENTINEL"), "utf8"), "the checkout is intact\n");
    assert.ok(fs.existsSync(path.join(copy, ".git", "HEAD")), ".git survived");
    assert.ok(fs.existsSync(path.join(copy, "index.ts")), "the program survived");
}

/** A stack file beside the others in a temp folder: the dev stack plus `extra` config lines. */
function stackFile(name: string, extra = "", base = DEV): string {
    const file = path.join(tempDir(), name);
    fs.writeFileSync(file, base + extra);
    return file;
}

describe("render safety: the output folder", () => {
    let copy: string;
    before(() => { copy = checkoutCopy(); });

    it("refuses the checkout, a folder holding it, its .git and the root folder, from any spelling, and leaves them intact", () => {
        const links = tempDir();
        fs.symlinkSync(path.dirname(copy), path.join(links, "parent-of-checkout"));
        fs.symlinkSync(copy, path.join(links, "checkout"));
        const cases: [string, RegExp][] = [
            [copy, /it is or holds the checkout/],
            [path.join(copy, "rendered", ".."), /it is or holds the checkout/],
            [path.dirname(copy), /it is or holds the checkout/],
            [path.join(links, "parent-of-checkout", "main"), /it is or holds the checkout/], // a symlinked parent
            [path.join(links, "checkout"), /it is a symbolic link/], // a symlink to it
            [path.join(copy, ".git"), /it is inside the checkout's \.git/],
            [path.join(copy, ".git", "rendered"), /it is inside the checkout's \.git/],
            ["/", /it is the root folder/],
        ];
        for (const [dir, message] of cases) {
            assertFails(cli(["--out", dir], { root: copy }), 2, message);
            assertCopyIntact(copy);
        }
        // Relative spellings, from inside the checkout.
        assertFails(cli(["--out", "."], { root: copy }), 2, /it is or holds the checkout/);
        assertFails(cli(["--out", "rendered/../.."], { root: copy }), 2, /it is or holds the checkout/);
        assertCopyIntact(copy);
    });

    it("refuses a stack file named Pulumi....yaml (stack '..', output rendered/..) and --stack .., and the checkout survives", () => {
        fs.writeFileSync(path.join(copy, "Pulumi....yaml"), DEV);
        assertFails(cli(["--config-file", "Pulumi....yaml"], { root: copy }), 2, /stack name "\.\." \(from the file name "Pulumi\.\.\.\.yaml"\) is not valid/);
        assertFails(cli(["--stack", ".."], { root: copy }), 2, /stack name "\.\." \(--stack\) is not valid/);
        assertCopyIntact(copy);
        assert.ok(fs.existsSync(path.join(copy, "Pulumi....yaml")));
    });

    it("refuses the home folder and a folder holding it", () => {
        const home = path.join(tempDir("incant-home-"), "physicist");
        fs.mkdirSync(home);
        fs.writeFileSync(path.join(home, ".bashrc"), "export PS1='$ '\n");
        for (const dir of [home, path.dirname(home)]) {
            assertFails(cli(["--out", dir], { env: { HOME: home } }), 2, /it is or holds the home folder/);
        }
        assert.equal(fs.readFileSync(path.join(home, ".bashrc"), "utf8"), "export PS1='$ '\n");
    });

    it("refuses a user's folder, a file, a symlink, and a previous render the user added a file to; each stays as it was", () => {
        const user = userFolder();
        const before = snapshot(user);
        assertFails(cli(["--out", user]), 2, /not empty and holds no \.incant-render\.json/);
        assert.deepEqual(snapshot(user), before);

        const file = path.join(user, "thesis.tex");
        assertFails(cli(["--out", file]), 2, /it is a file, not a folder/);
        assert.deepEqual(snapshot(user), before);

        const link = path.join(tempDir(), "link");
        fs.symlinkSync(user, link);
        assertFails(cli(["--out", link]), 2, /it is a symbolic link/);
        assert.deepEqual(snapshot(user), before);

        const previous = path.join(tempDir(), "render");
        assert.equal(cli(["--out", previous]).status, 0);
        fs.writeFileSync(path.join(previous, "kubernetes", "my-notes.md"), "mine\n");
        const withNotes = snapshot(previous);
        assertFails(cli(["--out", previous]), 2, /also holds 1 thing\(s\) the render did not write, e.g\. "kubernetes\/my-notes\.md"/);
        assert.deepEqual(snapshot(previous), withNotes);
    });

    it("replaces an empty folder and a previous render whole: no file of the old render is left", () => {
        const empty = tempDir();
        assert.equal(cli(["--out", empty]).status, 0);
        assert.ok(fs.existsSync(path.join(empty, MARKER)) && fs.existsSync(path.join(empty, "plan.json")));
        // Another stack into the same folder: every file name differs (incant-other-*).
        const other = stackFile("Pulumi.other.yaml");
        const r = cli(["--config-file", other, "--out", empty]);
        assert.equal(r.status, 0, out(r));
        const marker = JSON.parse(fs.readFileSync(path.join(empty, MARKER), "utf8")) as { stack: string; files: string[] };
        assert.equal(marker.stack, "other");
        assert.deepEqual(Object.keys(snapshot(empty)).sort(), [...marker.files, MARKER].sort(), "exactly the new render's files");
        assert.ok(marker.files.some((f) => f.includes("incant-other-worker-0")) && !marker.files.some((f) => f.includes("incant-dev-")));
        // Nothing left beside it (staging or the old render).
        assert.deepEqual(fs.readdirSync(path.dirname(empty)).filter((n) => n.includes(path.basename(empty)) && n !== path.basename(empty)), []);
    });

    it("leaves the previous render exactly as it was when a render fails", () => {
        const dir = path.join(tempDir(), "render");
        assert.equal(cli(["--out", dir]).status, 0);
        const before = snapshot(dir);
        const bad = stackFile("Pulumi.dev.yaml", "  incant:nodes:\n    workers: {count: 0}\n");
        assertFails(cli(["--config-file", bad, "--out", dir]), 1, /incant:nodes\.workers\.count must be a positive integer/);
        assert.deepEqual(snapshot(dir), before);
        const broken = stackFile("Pulumi.dev.yaml", "  incant:nodes: {workers: {count: 3}\n");
        assertFails(cli(["--config-file", broken, "--out", dir]), 1, /Pulumi\.dev\.yaml:\d+:\d+: /);
        assert.deepEqual(snapshot(dir), before);
    });

    it("two renders into one folder at once: the folder holds one whole render, never a mix", async () => {
        const dir = path.join(tempDir(), "render");
        const other = stackFile("Pulumi.other.yaml");
        // What each render writes alone.
        const alone = { dev: path.join(tempDir(), "dev"), other: path.join(tempDir(), "other") };
        assert.equal(cli(["--out", alone.dev]).status, 0);
        assert.equal(cli(["--config-file", other, "--out", alone.other]).status, 0);
        const [a, b] = await Promise.all([cliAsync(["--out", dir]), cliAsync(["--config-file", other, "--out", dir])]);
        assert.equal(a.status, 0, a.stderr);
        assert.equal(b.status, 0, b.stderr);
        const result = snapshot(dir);
        const matches = [snapshot(alone.dev), snapshot(alone.other)].filter((s) => JSON.stringify(s) === JSON.stringify(result));
        assert.equal(matches.length, 1, `the folder is not exactly one of the two renders: ${Object.keys(result).length} files`);
        assert.deepEqual(fs.readdirSync(path.dirname(dir)), ["render"], "no staging or old folder left beside it");
    });

    it("a swap refuses a target that became a user's folder during the render, and removes only its own staging", () => {
        const parent = tempDir();
        const target = path.join(parent, "render");
        const staging = writeStaging(target, "dev", { "plan.json": "[]\n", "cloud-init/a.yaml": "#cloud-config\n" }, false);
        fs.mkdirSync(target);
        fs.writeFileSync(path.join(target, "precious.txt"), "mine\n");
        assert.throws(() => installRender(staging, target), /not empty and holds no \.incant-render\.json/);
        assert.deepEqual(snapshot(target), { "precious.txt": "644 mine\n" });
        assert.deepEqual(fs.readdirSync(parent), ["render"], "the staging folder is gone");
    });

    it("a read-only output folder is a clean message, exit 1", function () {
        const ro = tempDir("incant-ro-");
        const root = process.getuid?.() === 0;
        if (root) {
            // root writes through mode bits: a read-only mount is the real thing.
            const m = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]);
            requireCondition(this, m.status === 0, "mounting a read-only tmpfs (root with CAP_SYS_ADMIN) is required");
        } else {
            fs.chmodSync(ro, 0o555);
        }
        try {
            assertFails(cli(["--out", path.join(ro, "render")]), 1,
                root ? /render failed: cannot write the render beside ".*render": read-only file system \(EROFS\)/ : /permission denied \(EACCES\)/);
        } finally {
            if (root) spawnSync("umount", [ro]);
        }
    });

    it("--show-secrets writes files 0600 in folders 0700; a normal render 0644 and 0755", () => {
        const secret = path.join(tempDir(), "s");
        const plain = path.join(tempDir(), "p");
        assert.equal(cli(["--out", secret, "--show-secrets"]).status, 0);
        assert.equal(cli(["--out", plain]).status, 0);
        const modes = (dir: string) => {
            const seen = new Set<string>();
            const walk = (d: string) => {
                seen.add(`d${(fs.statSync(d).mode & 0o777).toString(8)}`);
                for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                    const p = path.join(d, e.name);
                    if (e.isDirectory()) walk(p);
                    else seen.add(`f${(fs.statSync(p).mode & 0o777).toString(8)}`);
                }
            };
            walk(dir);
            return [...seen].sort();
        };
        assert.deepEqual(modes(secret), ["d700", "f600"]);
        const umask = process.umask();
        assert.deepEqual(modes(plain), [`d${(0o755 & ~umask).toString(8)}`, `f${(0o644 & ~umask).toString(8)}`]);
    });

    it("resolveOutDir refuses what the guards name and resolves symlinked parents", () => {
        const base = fs.realpathSync(tempDir());
        const guards = { root: path.join(base, "checkout"), home: path.join(base, "home", "me") };
        fs.mkdirSync(guards.root, { recursive: true });
        fs.mkdirSync(guards.home, { recursive: true });
        fs.symlinkSync(base, path.join(base, "alias"));
        assert.throws(() => resolveOutDir(path.join(base, "alias", "checkout"), guards), /holds the checkout/);
        assert.throws(() => resolveOutDir(path.join(base, "home"), guards), /holds the home folder/);
        assert.equal(resolveOutDir(path.join(base, "alias", "checkout", "rendered", "dev"), guards), path.join(base, "checkout", "rendered", "dev"));
        assert.equal(resolveOutDir(path.join(base, "new", "deeper", "out"), guards), path.join(base, "new", "deeper", "out"));
    });
});

describe("render safety: command line and stack file errors", () => {
    const usage = /usage: npm run render --/;

    it("usage errors: one line, the usage, exit 2, no stack trace", () => {
        const missing = path.join(tempDir(), "Pulumi.gone.yaml");
        const cases: [string[], RegExp][] = [
            [["--out"], /^render: --out needs a value$/m],
            [["--out", "--show-secrets"], /^render: --out needs a value$/m],
            [["--stack"], /^render: --stack needs a value$/m],
            [["--bogus"], /^render: unknown option "--bogus"$/m],
            [["dev"], /^render: unexpected argument "dev"$/m],
            [["--stack", "dev", "--stack", "prod"], /^render: --stack is given twice$/m],
            [["--show-secrets=yes"], /^render: --show-secrets takes no value$/m],
            [["--stack", "nope"], /^render: unknown stack "nope": there is no Pulumi\.nope\.yaml in .* \(stacks: dev, prod\)$/m],
            [["--stack", "Bad Name;$(id)"], /^render: stack name "Bad Name;\$\(id\)" \(--stack\) is not valid: a stack name is lower-case letters/m],
            [["--config-file", missing], /^render: stack file ".*Pulumi\.gone\.yaml" does not exist$/m],
            [["--config-file", os.tmpdir()], /^render: stack file ".*" is not a file$/m],
            [["--config-file", stackFile("dev.yaml")], /^render: cannot tell the stack from the file name "dev\.yaml": name it Pulumi\.<stack>\.yaml or give --stack$/m],
            [["--config-file", stackFile("Pulumi.Bad Name;$(id).yaml")], /stack name "Bad Name;\$\(id\)" \(from the file name/],
        ];
        for (const [args, message] of cases) {
            const r = cli(args);
            assertFails(r, 2, message);
            assert.match(r.stderr, usage, out(r));
            assert.equal(r.stdout, "", out(r));
        }
    });

    it("--help prints the usage and exits 0; --stack names a --config-file stack", () => {
        const r = cli(["--help"]);
        assert.equal(r.status, 0);
        assert.match(r.stdout, usage);
        const dir = path.join(tempDir(), "r");
        const named = cli(["--config-file", stackFile("dev.yaml"), "--stack", "review", "--out", dir]);
        assert.equal(named.status, 0, out(named));
        assert.equal((JSON.parse(fs.readFileSync(path.join(dir, MARKER), "utf8")) as { stack: string }).stack, "review");
    });

    it("YAML errors and duplicate keys: file, line and column, exit 1, the file's text never quoted", () => {
        const cases: [string, RegExp][] = [
            ["  incant:nodes: {workers: {count: 3}\n", /Pulumi\.dev\.yaml:\d+:1: Flow map in block collection must be sufficiently indented/],
            ["  incant:namePrefix: a\n  incant:namePrefix: b\n", /Pulumi\.dev\.yaml:\d+:3: Map keys must be unique \("incant:namePrefix" is set twice\)/],
            ["  namePrefix: a\n  incant:namePrefix: b\n", /Pulumi\.dev\.yaml:(\d+):3: "incant:namePrefix" is set twice \(also at Pulumi\.dev\.yaml:\d+:3\)/],
            ["  incant:nodes: {workers: {count: 1, count: 2}}\n", /Map keys must be unique \("count" is set twice\)/],
            ["  incant:x: !foo bar\n", /Pulumi\.dev\.yaml:\d+:\d+: Unresolved tag: !foo/],
            ["  incant:x: *nowhere\n", /Pulumi\.dev\.yaml:\d+:\d+: /],
        ];
        for (const [extra, message] of cases) {
            const r = cli(["--config-file", stackFile("Pulumi.dev.yaml", extra), "--out", path.join(tempDir(), "r")]);
            assertFails(r, 1, message);
            assert.doesNotMatch(r.stderr, usage);
            assert.ok(!r.stderr.includes("^"), `the YAML excerpt was printed:\n${r.stderr}`);
        }
        assertFails(cli(["--config-file", stackFile("Pulumi.dev.yaml", "", "- a\n- b\n")]), 1, /Pulumi\.dev\.yaml:1:1: a stack file must be a mapping with a config: section/);
        assertFails(cli(["--config-file", stackFile("Pulumi.dev.yaml", "", "config: 5\n")]), 1, /Pulumi\.dev\.yaml:1:9: config: must be a mapping/);
        const bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nconfig:\n  incant:x: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";
        assertFails(cli(["--config-file", stackFile("Pulumi.dev.yaml", "", bomb)]), 1, /Pulumi\.dev\.yaml:4:3: "incant:x": Excessive alias count/);
    });

    it("--debug adds the stack trace; without it there is none", () => {
        const file = stackFile("Pulumi.dev.yaml", "  incant:nodes: {workers: {count: 3}\n");
        assertFails(cli(["--config-file", file]), 1, /cannot be read/);
        const debug = cli(["--config-file", file, "--debug"]);
        assert.equal(debug.status, 1);
        assert.match(debug.stderr, /^\s+at .*stackfile\.ts/m);
    });

    it("never prints a private key pasted into the stack file, in any message", () => {
        const { privateKey } = crypto.generateKeyPairSync("ed25519");
        const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const body = pem.split("\n")[1];
        const name = body.replace(/[/+=]/g, "A"); // usable in a file name and a key
        const indented = pem.trimEnd().split("\n").map((l) => `    ${l}`).join("\n");
        const files = [
            stackFile("Pulumi.dev.yaml", `  incant:sshPublicKey: |\n${indented}\n`, DEV.replace(/^ {2}incant:sshPublicKey:.*$/m, "")),
            stackFile("Pulumi.dev.yaml", `  incant:${name}: x\n`),
            stackFile(`Pulumi.${name}.yaml`),
        ];
        for (const file of files) {
            const r = cli(["--config-file", file, "--out", path.join(tempDir(), "r")]);
            assert.notEqual(r.status, 0, out(r));
            for (const text of [body, name]) assert.ok(!r.stderr.includes(text) && !r.stdout.includes(text), `the key was printed:\n${out(r)}`);
            assert.ok(!/^\s+at /m.test(r.stderr), out(r));
        }
    });
});

describe("render safety: messages never show a key or token", () => {
    it("hides keys and tokens of every usual shape", () => {
        const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 });
        const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
        const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
        const secrets = [
            pem, JSON.stringify(pem), pem.split("\n").slice(0, 3).join("\n"),
            `${b64url({ alg: "RS256", kid: "rsa1" })}.${b64url({ sub: "5d2b0a6e", aud: "incant" })}.${crypto.randomBytes(64).toString("base64url")}`,
            `AKIA${crypto.randomBytes(8).toString("hex").toUpperCase()}`,
            `${crypto.randomBytes(30).toString("base64").slice(0, 38)}A1`,
            `ghp_${crypto.randomBytes(18).toString("base64url").replace(/[-_]/g, "a")}`,
            `/home/user/${crypto.randomBytes(30).toString("base64url").slice(0, 38)}Aa1/id`,
        ];
        for (const s of secrets) {
            const masked = maskSecrets(`incant:sshPublicKey must be one OpenSSH public key line (got "${s}")`);
            assert.ok(showsSecret(s), s);
            assert.ok(masked.includes(HIDDEN), masked);
            for (const piece of s.split(/[\n.\\"]/).filter((p) => p.length >= 16 && !p.startsWith("-----"))) assert.ok(!masked.includes(piece), `${piece} in ${masked}`);
        }
    });

    it("leaves names, URNs, paths, digests and the config messages of a real stack alone", () => {
        // A real folder whose path, whole, is a long mixed run of base64 characters.
        const folder = path.join(tempDir(), "Analysis2024ResultsOfTheYear");
        fs.mkdirSync(folder);
        const file = path.join(folder, "Pulumi.dev.yaml");
        assert.ok(looksSecret(file), "the path looks like a token as a whole");
        const plain = [
            file, `refusing --out "${path.join(folder, "render")}": it is a file`,
            "urn:pulumi:dev::incant::incant:kubernetes:Cluster$tls:index/privateKey:PrivateKey::incant-dev-kubernetes-ca-key",
            "incant-dev-control-plane-tcp-2379-2380-from-control-plane", "incant:osApplicationCredentialSecret",
            "harbor.cloud.infn.it/incant/htcondor@sha256:" + "ab12".repeat(16),
            "incant:nodes.workers.count must be a positive integer up to 10000 (got 0) [Pulumi.dev.yaml]",
        ];
        for (const p of plain) assert.equal(maskSecrets(p), p);
    });
});

describe("render safety: stack names follow the namePrefix rule", () => {
    const dev = readStack("dev");
    /** validate.ts's problems with namePrefix and environment when both are the defaults a stack name gives. */
    const problemsFor = (stack: string): string[] => {
        const { raw, secretKeys } = rawConfig(dev.config, (k) => dev.secretKeys.includes(k));
        raw.namePrefix = defaultNamePrefix(stack);
        raw.environment = stack;
        try {
            validateConfig(raw, { stack, secretKeys });
            return [];
        } catch (e) {
            return ((e as { problems?: string[] }).problems ?? [String(e)]).filter((p) => /incant:(namePrefix|environment) /.test(p));
        }
    };

    it("accepts exactly the names whose namePrefix incant-<stack> and environment <stack> validate.ts accepts", () => {
        const long = "a".repeat(STACK_NAME_MAX);
        for (const ok of ["dev", "prod", "test-2", long]) {
            assert.ok(isStackName(ok), ok);
            assert.ok(NAME_RE.test(defaultNamePrefix(ok)));
            assert.deepEqual(problemsFor(ok), [], ok);
        }
        for (const bad of [`${long}a`, "Dev", "2dev", "-dev", "dev_1", "dev.1", "..", "Bad Name;$(id)", "dev\n", "dév"]) {
            assert.ok(!isStackName(bad), JSON.stringify(bad));
            assert.notDeepEqual(problemsFor(bad), [], `validate.ts accepts the defaults of ${JSON.stringify(bad)}`);
        }
        assert.ok(!isStackName(""));
    });
});

describe("render safety: the offline engine", () => {
    it("refuses two resources with one URN, naming the URN, as Pulumi does", async () => {
        const program = path.join(ROOT, "tests", "fixtures", "duplicate-urn.program.ts");
        const urn = "urn:pulumi:dev::incant::random:index/randomString:RandomString::incant-dev-group-a-b";
        let failure: unknown;
        await runOffline({ project: "incant", stack: "dev", config: {}, secretKeys: [], program }).catch((e: unknown) => { failure = e; });
        assert.ok(failure instanceof DuplicateUrnError, `no duplicate URN error: ${String(failure)}`);
        assert.equal((failure as Error).message, `Duplicate resource URN '${urn}'; try giving it a unique name`);
        assert.deepEqual(registeredBeforeFailure(failure)?.filter((r) => r.urn === urn).length, 1, "the first one was registered, the second refused");
    });
});
