/**
 * The operator docs (docs/) stay true to the code: the flow table and the network diagram are
 * the port registry, the secret keys and the policies are the code's lists, the component
 * diagram names every component index.ts creates, and every file path and `incant:` key the
 * docs mention exists.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { DEFAULTS } from "../components/config/defaults";
import { SECRET_KEYS } from "../components/config/validate";
import { Flow, flows } from "../components/network/ports";
import { SQUID_NODE_PORT } from "../components/cache/squid";
import { POLICIES, PACK_ENFORCEMENT } from "../policy/policies";
import { ROOT } from "./harness/program";

const DOCS = path.join(ROOT, "docs");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");
// The squid is on by default (components/cache): its NodePort flow is in the docs.
const FLOWS = flows({ collectorPort: DEFAULTS.htcondor.collectorPort, schedulerPort: DEFAULTS.htcondor.schedulerPort,
    squidNodePort: DEFAULTS.cache.enabled ? SQUID_NODE_PORT : undefined });

/** The lines between `<!-- name:begin ... -->` and `<!-- name:end -->`. */
function section(text: string, name: string): string[] {
    const m = new RegExp(`<!-- ${name}:begin[^>]*-->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(text);
    assert.ok(m, `no ${name} section`);
    return m[1].trim().split("\n");
}

const source = (f: Flow) => ("role" in f.from ? f.from.role : `${f.from.cidrs} CIDRs`);
const portLabel = (f: Flow) => (f.ports === undefined ? f.protocol.toUpperCase() : `${f.protocol.toUpperCase()} ${f.ports[0] === f.ports[1] ? f.ports[0] : f.ports.join("-")}`);

/** The flow table: one row per (description, protocol/port), sources and targets merged. */
function flowTableRows(all: Flow[]): string[] {
    const groups = new Map<string, { from: string[]; to: string[]; port: string; why: string }>();
    for (const f of all) {
        const key = `${f.description}|${portLabel(f)}`;
        const g = groups.get(key) ?? { from: [], to: [], port: portLabel(f), why: f.description };
        if (!g.from.includes(source(f))) g.from.push(source(f));
        if (!g.to.includes(f.to)) g.to.push(f.to);
        groups.set(key, g);
    }
    return [...groups.values()].map((g) => `| ${g.from.join(", ")} | ${g.to.join(", ")} | ${g.port} | ${g.why} |`);
}

const NODE: Record<string, string> = { "admin CIDRs": "admins", "user CIDRs": "users", "control-plane": "cp", worker: "worker", storage: "storage", submit: "submit" };

/** The diagram's edges: one per (source, target), its ports TCP first then UDP, then other protocols by name; ICMP left out. */
function flowEdges(all: Flow[]): string[] {
    const edges = new Map<string, { tcp: string[]; udp: string[]; other: string[] }>();
    for (const f of all.filter((x) => x.protocol !== "icmp")) {
        const key = `${NODE[source(f)]} ${NODE[f.to]}`;
        const e = edges.get(key) ?? { tcp: [], udp: [], other: [] };
        const [list, item] = f.protocol === "tcp" ? [e.tcp, portLabel(f).split(" ")[1]]
            : f.protocol === "udp" ? [e.udp, portLabel(f).split(" ")[1]] : [e.other, portLabel(f)];
        if (!list.includes(item)) list.push(item);
        edges.set(key, e);
    }
    return [...edges.entries()].map(([key, e]) => {
        const [from, to] = key.split(" ");
        const label = [e.tcp.length ? `TCP ${e.tcp.join(", ")}` : "", e.udp.length ? `UDP ${e.udp.join(", ")}` : "", ...e.other].filter(Boolean).join("; ");
        return `${from} -->|${label}| ${to}`;
    });
}

describe("operator docs", () => {
    const docFiles = fs.readdirSync(DOCS).filter((f) => f.endsWith(".md"));

    it("security.md: the flow table is the port registry", () => {
        const rows = section(read("docs/security.md"), "flows").filter((l) => l.startsWith("| ") && !l.startsWith("| from |"));
        assert.deepEqual(rows, flowTableRows(FLOWS));
    });

    it("architecture.md: the network diagram's edges are the port registry's flows", () => {
        const doc = read("docs/architecture.md");
        const diagram = /## Run-time network flows[\s\S]*?```mermaid\n([\s\S]*?)```/.exec(doc)![1];
        const edges = diagram.split("\n").map((l) => l.trim()).filter((l) => l.includes("-->|"));
        assert.deepEqual([...edges].sort(), flowEdges(FLOWS).sort());
    });

    it("architecture.md: the component diagram names every component index.ts creates", () => {
        const components = [...read("index.ts").matchAll(/new ([A-Z]\w+)\(/g)].map((m) => m[1]);
        assert.ok(components.length >= 6, components.join());
        const diagram = /## Components[\s\S]*?```mermaid\n([\s\S]*?)```/.exec(read("docs/architecture.md"))![1];
        for (const c of components) assert.ok(diagram.includes(c), `${c} is not in the component diagram`);
    });

    it("security.md: the secret keys are the configuration's, and the policies the pack's", () => {
        const doc = read("docs/security.md");
        const keys = section(doc, "secret-keys").filter((l) => l.startsWith("| `")).flatMap((l) => [...l.split("|")[1].matchAll(/`(\w+)`/g)].map((m) => m[1]));
        assert.deepEqual(keys.sort(), [...SECRET_KEYS].sort());
        const policies = section(doc, "policies").filter((l) => l.startsWith("| `")).map((l) => {
            const [, name, level] = l.split("|").map((c) => c.trim());
            return `${name.replace(/`/g, "")} ${level.split(" ")[0]}`;
        });
        assert.deepEqual(policies, POLICIES.map((p) => `${p.name} ${p.enforcementLevel ?? PACK_ENFORCEMENT}`));
    });

    it("every repository path the docs mention exists", () => {
        const missing: string[] = [];
        let checked = 0;
        for (const file of docFiles) {
            const text = read(`docs/${file}`);
            const paths = [...text.matchAll(/(?<![\w/.-])((?:components|policy|contracts|examples|offline|tests|docs|\.github|images)\/[\w./-]*\w)/g)].map((m) => m[1]);
            checked += new Set(paths).size;
            for (const p of new Set(paths)) if (!fs.existsSync(path.join(ROOT, p))) missing.push(`${file}: ${p}`);
            for (const link of [...text.matchAll(/\]\(([\w./-]+\.md)\)/g)].map((m) => m[1])) {
                if (!fs.existsSync(path.join(DOCS, link))) missing.push(`${file}: link ${link}`);
            }
        }
        assert.deepEqual(missing, []);
        assert.ok(checked > 30, `only ${checked} paths found: is the pattern still matching?`);
    });

    it("every incant: key the docs mention is declared in Pulumi.yaml", () => {
        const declared = Object.keys((YAML.parse(read("Pulumi.yaml")) as { config: Record<string, unknown> }).config);
        const unknown: string[] = [];
        for (const file of docFiles) {
            for (const m of read(`docs/${file}`).matchAll(/incant:([a-zA-Z][a-zA-Z0-9]*)/g)) {
                if (!declared.includes(m[1])) unknown.push(`${file}: incant:${m[1]}`);
            }
        }
        assert.deepEqual([...new Set(unknown)], []);
    });
});
