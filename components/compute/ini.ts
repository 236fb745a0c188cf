/**
 * One serialiser for the INI-shaped files of the VMs: systemd units and drop-ins
 * (systemd.syntax(7)) of the storage controller and the submit host, nfs.conf(5), rclone.conf and
 * the AWS shared config. Files are built as data (sections of key/value entries) and written
 * here, so no generator pastes text.
 */

export type IniValue = string | number;

/** One `[name]` section. A list value writes its key once per item (systemd allows repeats). */
export interface IniSection {
    /** Section name, written as `[name]`. */
    name: string;
    entries: Record<string, IniValue | IniValue[] | undefined>;
}

export interface IniStyle {
    /** " = " for rclone, nfs.conf and the AWS config; "=" for systemd. */
    separator: "=" | " = ";
    /** Comment lines put at the top, each prefixed with "# " (none: the file starts with its first section). */
    header?: string[];
}

const KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

function checkText(what: string, text: string): string {
    // A newline would start a new key or section: refuse rather than write a different file.
    if (/[\r\n]/.test(text)) throw new Error(`${what} cannot contain a newline`);
    return text;
}

export function renderIni(sections: IniSection[], style: IniStyle): string {
    const blocks = sections.map((section) => {
        const lines = [`[${checkText("section name", section.name)}]`];
        for (const [key, value] of Object.entries(section.entries)) {
            if (value === undefined) continue;
            if (!KEY_RE.test(key)) throw new Error(`bad key "${key}" in [${section.name}]`);
            for (const item of Array.isArray(value) ? value : [value]) {
                lines.push(`${key}${style.separator}${checkText(`value of ${key}`, String(item))}`);
            }
        }
        return lines.join("\n");
    });
    const header = (style.header ?? []).map((line) => `# ${checkText("header", line)}`.trimEnd());
    return [...(header.length ? [header.join("\n")] : []), ...blocks].join("\n\n") + "\n";
}

/** Parses what `renderIni` writes (tests read the files back with it). Repeated keys become lists. */
export function parseIni(text: string): Record<string, Record<string, string[]>> {
    const out: Record<string, Record<string, string[]>> = {};
    let current: Record<string, string[]> | undefined;
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
        const section = /^\[(.+)\]$/.exec(line);
        if (section) {
            current = out[section[1]] ??= {};
            continue;
        }
        const eq = line.indexOf("=");
        if (!current || eq < 0) throw new Error(`not an INI line: ${line}`);
        const key = line.slice(0, eq).trim();
        (current[key] ??= []).push(line.slice(eq + 1).trim());
    }
    return out;
}

/**
 * An argv as one systemd command line (systemd.service(5) "Command lines"). Only plain words are
 * accepted, so no quoting rule can change the meaning; `%` is escaped as systemd requires.
 */
export function systemdCommand(argv: string[]): string {
    if (!argv[0]?.startsWith("/")) throw new Error(`systemd commands need an absolute executable (got "${argv[0]}")`);
    return argv.map((arg) => {
        if (!/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) throw new Error(`argument "${arg}" needs quoting: not allowed in a generated unit`);
        return arg.replace(/%/g, "%%");
    }).join(" ");
}

/** systemd's name for the mount unit of a path (systemd-escape --path), for plain paths. */
export function mountUnitName(path: string): string {
    if (!/^(\/[a-z0-9_]+)+$/.test(path)) throw new Error(`mount path ${path} needs escaping rules this helper does not implement`);
    return `${path.slice(1).replace(/\//g, "-")}.mount`;
}
