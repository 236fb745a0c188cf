/**
 * `systemd-analyze verify` of generated units in a throwaway root: the host's own unit directory
 * (targets, sockets...), the files under test at their absolute paths, and an empty executable at
 * every absolute path a unit runs that the files do not provide, so verify checks the units, not
 * this machine's packages.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface VerifyResult {
    status: number | null;
    output: string;
}

/** `files`: absolute path -> content (units, drop-ins, stand-ins). `units`: the unit names to verify. */
export function verifyUnitsInRoot(files: Record<string, string>, units: string[]): VerifyResult {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "incant-systemd-"));
    try {
        for (const link of ["bin", "sbin", "lib"]) fs.symlinkSync(`usr/${link}`, path.join(root, link));
        const hostUnits = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((d) => fs.existsSync(d))!;
        fs.mkdirSync(path.join(root, "usr", "lib", "systemd"), { recursive: true });
        fs.cpSync(hostUnits, path.join(root, "usr", "lib", "systemd", "system"), { recursive: true, verbatimSymlinks: true });
        for (const [p, text] of Object.entries(files)) {
            fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
            fs.writeFileSync(path.join(root, p), text);
        }
        for (const text of Object.values(files)) {
            for (const m of text.matchAll(/^Exec\w+=[-@:+!]*(\/\S+)/gm)) {
                const exe = path.join(root, m[1]);
                if (fs.existsSync(exe)) continue;
                fs.mkdirSync(path.dirname(exe), { recursive: true });
                fs.writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 });
            }
        }
        const r = spawnSync("systemd-analyze", [`--root=${root}`, "verify", "--man=no", ...units], { encoding: "utf8", timeout: 60_000 });
        return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}
