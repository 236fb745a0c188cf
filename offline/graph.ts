/**
 * The deployment's dependency graph as the engine would schedule it: a custom resource starts when
 * every resource it depends on exists. Components take no time; the critical path is the longest
 * chain of custom resources that must be created one after another.
 */
import { RecordedResource } from "./engine";

export interface CriticalPath {
    /** Number of resources on the longest chain. */
    length: number;
    /** The chain, first to last, as "type::name". */
    chain: string[];
}

/** The URN of a provider reference (`<urn>::<id>`). */
export function providerUrn(reference: string): string {
    return reference.split("::").slice(0, -1).join("::");
}

/**
 * Longest chain by resource count. A resource waits for its dependencies and for its provider
 * (the Kubernetes provider waits for the API server, the Docker provider for the submit host's
 * gate). Dependencies on components are expanded to the custom resources below them (the Node
 * SDK already does this for `dependsOn`; input dependencies can still name a component).
 * Linear in resources + edges (memoised depth-first search).
 */
export function criticalPath(resources: RecordedResource[]): CriticalPath {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const children = new Map<string, string[]>();
    for (const r of resources) {
        if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
    }
    const customBelow = new Map<string, string[]>();
    const expand = (urn: string): string[] => {
        const known = customBelow.get(urn);
        if (known) return known;
        const r = byUrn.get(urn);
        const out = !r ? [] : r.custom ? [urn] : (children.get(urn) ?? []).flatMap(expand);
        customBelow.set(urn, out);
        return out;
    };
    const depth = new Map<string, { length: number; previous?: string }>();
    const visiting = new Set<string>();
    const visit = (urn: string): number => {
        const known = depth.get(urn);
        if (known) return known.length;
        if (visiting.has(urn)) throw new Error(`dependency cycle through ${urn}`);
        visiting.add(urn);
        const r = byUrn.get(urn)!;
        let best = { length: 1, previous: undefined as string | undefined };
        const waitsFor = r.provider ? [...r.dependencies, providerUrn(r.provider)] : r.dependencies;
        for (const dep of new Set(waitsFor.flatMap(expand))) {
            if (dep === urn) continue;
            const d = visit(dep) + 1;
            if (d > best.length) best = { length: d, previous: dep };
        }
        visiting.delete(urn);
        depth.set(urn, best);
        return best.length;
    };
    let end: string | undefined;
    let longest = 0;
    for (const r of resources) {
        if (!r.custom) continue;
        const d = visit(r.urn);
        if (d > longest) {
            longest = d;
            end = r.urn;
        }
    }
    const chain: string[] = [];
    for (let at = end; at; at = depth.get(at)?.previous) {
        const r = byUrn.get(at)!;
        chain.unshift(`${r.type}::${r.name}`);
    }
    return { length: longest, chain };
}
