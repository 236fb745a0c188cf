/**
 * Real validators from Debian packages (cloud-init, shellcheck, docker-compose, systemd-analyze).
 * A validator runs whenever its tool is installed; under CI=true a missing tool fails the test
 * (requireTool, requireCondition).
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

function hasTool(name: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/**
 * A test's prerequisite (a tool, root, a device): when `ok` is false the test skips outside CI
 * and fails under CI=true, where the runner provides everything; `why` says what is needed.
 */
export function requireCondition(ctx: Mocha.Context, ok: boolean, why: string): void {
    if (ok) return;
    if (process.env.CI === "true") throw new Error(`${why} under CI=true`);
    ctx.skip();
}

/** requireCondition for an installed tool. */
export function requireTool(ctx: Mocha.Context, name: string): void {
    requireCondition(ctx, hasTool(name), `${name} is required (.ci/run installs it)`);
}

export function run(cmd: string, args: string[], input?: string, timeoutMs = 60_000): SpawnSyncReturns<string> {
    return spawnSync(cmd, args, { input, encoding: "utf8", timeout: timeoutMs });
}

/** Writes text to a fresh temporary file and returns its path. */
export function tempFile(name: string, text: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-"));
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
}

/** `cloud-init schema --config-file`: cloud-init's own schema validation of a user-data file. */
export function cloudInitSchema(userData: string): { ok: boolean; output: string } {
    const file = tempFile("user-data.yaml", userData);
    const r = run("cloud-init", ["schema", "--config-file", file]);
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** shellcheck on a script (its shebang chooses the dialect). */
export function shellcheck(script: string, name = "script.sh"): { ok: boolean; output: string } {
    const file = tempFile(name, script);
    const r = run("shellcheck", ["--severity=style", "--shell=bash", file]);
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
