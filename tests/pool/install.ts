/**
 * Where the HTCondor the pool tests run is installed: HTCONDOR_HOME (an installation prefix, e.g.
 * the shared tarball unpacked by .ci/run), else the directory above the `condor_master` on the
 * PATH (official packages: /usr). Any HTCondor 24.0 serves.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { requireCondition } from "../harness/tools";

export interface HtcondorInstall {
    /** The installation prefix (RELEASE_DIR): bin/, sbin/, lib/, libexec/. */
    prefix: string;
    /** `condor_version`'s first line, e.g. "$CondorVersion: 24.0.23 2026-11-27 $". */
    version: string;
}

/** The install, or why there is none (the reason a skipped test prints). */
export function findHtcondor(env: NodeJS.ProcessEnv = process.env): HtcondorInstall | { missing: string } {
    let prefix = env.HTCONDOR_HOME;
    if (!prefix) {
        const which = spawnSync("sh", ["-c", "command -v condor_master"], { encoding: "utf8" });
        if (which.status !== 0) return { missing: "HTCondor not found: set HTCONDOR_HOME to an HTCondor 24.0 prefix or put condor_master on the PATH (.ci/run unpacks ../shared/htcondor)" };
        prefix = path.dirname(path.dirname(fs.realpathSync(which.stdout.trim())));
    }
    const master = path.join(prefix, "sbin", "condor_master");
    if (!fs.existsSync(master)) return { missing: `HTCONDOR_HOME=${prefix} has no sbin/condor_master` };
    const v = spawnSync(path.join(prefix, "bin", "condor_version"), [], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", CONDOR_CONFIG: "/dev/null" } });
    if (v.status !== 0) return { missing: `${prefix}/bin/condor_version fails (missing runtime libraries? .ci/run installs them): ${v.stderr.trim()}` };
    return { prefix: path.resolve(prefix), version: v.stdout.split("\n")[0] };
}

/** The tools every loopback pool needs besides HTCondor (.ci/run installs them). */
const POOL_TOOLS = ["unshare", "nsenter", "setpriv", "ip", "openssl", "runuser"];

/**
 * What a loopback pool needs (HTCondor, root, the namespace tools, and `extraTools`): the install,
 * or the test is skipped with its reason printed (mandatory under CI=true: requireCondition).
 */
export function requireLoopbackPool(ctx: Mocha.Context, extraTools: string[] = []): HtcondorInstall {
    const need = (ok: boolean, why: string) => {
        if (!ok && process.env.CI !== "true") console.log(`    loopback pool skipped: ${why}`);
        requireCondition(ctx, ok, why);
    };
    const install = findHtcondor();
    need(!("missing" in install), "missing" in install ? install.missing : "");
    need(process.getuid?.() === 0, "the loopback pool runs its daemons as root (namespaces, setpriv, users' uids): run as root");
    for (const tool of [...POOL_TOOLS, ...extraTools]) {
        need(spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0, `${tool} is required (.ci/run installs it)`);
    }
    return install as HtcondorInstall;
}
