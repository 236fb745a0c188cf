/**
 * The VM runner's systemd service and timer (docs/elasticity.md): one round per run on the host
 * where the stack lives (the operator host or a self-hosted CI runner with the Pulumi CLI, the
 * backend's login and the OpenStack credentials). Built as data, written by the INI serialiser.
 *
 * - `Type=oneshot` and `OnUnitInactiveSec=`: the next round starts a full interval after the last
 *   one ended, so a slow `pulumi up` never overlaps the next round (systemd.timer(5)); the lock of
 *   vm-runner.ts covers a run by hand.
 * - `TimeoutStartSec=`: an `up` that boots VMs takes minutes, but never hours.
 * - The credentials (PULUMI_CONFIG_PASSPHRASE_FILE or PULUMI_ACCESS_TOKEN, OS_CLOUD...) come from
 *   an environment file readable by root only (systemd reads it before dropping to `User=`), never
 *   from the unit.
 */
import { renderIni, IniSection } from "../compute/ini";

export interface VmRunnerUnitArgs {
    stack: string;
    /** The checkout the runner works in (Pulumi.yaml, Pulumi.<stack>.yaml, node_modules). */
    workDir: string;
    /** The account that owns workDir and the Pulumi login. */
    user: string;
    /** Minutes between the end of a round and the start of the next. */
    intervalMinutes: number;
    /** Absolute path of node (default /usr/bin/node). */
    node?: string;
}

export const vmRunnerUnitName = (stack: string) => `incant-vm-runner-${stack}`;

const ABSOLUTE = /^\/[A-Za-z0-9._/@+-]*$/;
const ACCOUNT = /^[a-z_][a-z0-9_-]{0,31}$/;
const STACK = /^[a-z][a-z0-9-]{0,23}$/;

/** Refuses what a unit line cannot carry as one word: systemd splits ExecStart= on spaces. */
export function vmRunnerUnitProblems(a: VmRunnerUnitArgs): string[] {
    const p: string[] = [];
    if (!STACK.test(a.stack)) p.push("the stack name must be lower-case letters, digits and dashes, starting with a letter, at most 24 characters");
    if (!ABSOLUTE.test(a.workDir) || a.workDir.split("/").includes("..")) p.push("the work directory must be an absolute path of letters, digits and ._/@+-");
    if (a.node !== undefined && !ABSOLUTE.test(a.node)) p.push("node must be an absolute path");
    if (!ACCOUNT.test(a.user) || a.user === "root") p.push("the user must be an ordinary account name (not root)");
    if (!Number.isInteger(a.intervalMinutes) || a.intervalMinutes < 1 || a.intervalMinutes > 1440) p.push("the interval must be 1 to 1440 minutes");
    return p;
}

/** `<name>.service` and `<name>.timer`, file name -> text. Throws on arguments a unit cannot carry. */
export function renderVmRunnerUnits(a: VmRunnerUnitArgs): Record<string, string> {
    const problems = vmRunnerUnitProblems(a);
    if (problems.length) throw new Error(`cannot render the VM runner's units: ${problems.join("; ")}`);
    const name = vmRunnerUnitName(a.stack);
    const header = ["Rendered by `npm run vm-runner -- --units` (components/autoscaler/vm-runner-units.ts): edit the options, not this file."];
    const service: IniSection[] = [
        { name: "Unit", entries: { Description: `INCANT worker VM runner, stack ${a.stack}: one round`, Wants: "network-online.target", After: "network-online.target" } },
        {
            name: "Service", entries: {
                Type: "oneshot",
                User: a.user,
                WorkingDirectory: a.workDir,
                EnvironmentFile: `-/etc/incant/${name}.env`,
                // The CLI's home (plugins, the login) in the unit's own state directory: the rest of the system is read-only.
                Environment: [`PULUMI_HOME=/var/lib/${name}`, "PULUMI_SKIP_UPDATE_CHECK=true", "PULUMI_NODEJS_TRANSPILE_ONLY=true"],
                ExecStart: `${a.node ?? "/usr/bin/node"} ${a.workDir}/node_modules/ts-node/dist/bin.js --transpile-only scripts/vm-runner.ts --stack ${a.stack} --once`,
                TimeoutStartSec: "1h",
                SyslogIdentifier: name,
                // The runner writes the stack file (the count) and the lock in workDir, the Pulumi CLI its home.
                NoNewPrivileges: "yes",
                PrivateTmp: "yes",
                ProtectSystem: "strict",
                ReadWritePaths: a.workDir,
                StateDirectory: name,
            },
        },
    ];
    const timer: IniSection[] = [
        { name: "Unit", entries: { Description: `INCANT worker VM runner, stack ${a.stack}: a round every ${a.intervalMinutes} min` } },
        { name: "Timer", entries: { OnBootSec: "5min", OnUnitInactiveSec: `${a.intervalMinutes}min`, AccuracySec: "30s", Unit: `${name}.service` } },
        { name: "Install", entries: { WantedBy: "timers.target" } },
    ];
    return {
        [`${name}.service`]: renderIni(service, { separator: "=", header }),
        [`${name}.timer`]: renderIni(timer, { separator: "=", header }),
    };
}
