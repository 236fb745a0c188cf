/**
 * The API's virtual address with 3 control planes: keepalived (VRRP, unicast) holds one private
 * address on a control plane whose API server answers, and moves it when that one fails. The
 * floating IP and every node's kubeadm configuration point at that address, so losing any one
 * control plane keeps the API reachable. Neutron delivers the address because each control
 * plane's port admits it (allowed address pairs, components/kubernetes/cluster.ts), and the
 * security groups admit VRRP between control planes (components/network/ports.ts).
 *
 * This is the keepalived half of kubeadm's "Options for software load balancing"
 * (kubernetes/kubeadm docs/ha-considerations.md), without haproxy: the address always sits on a
 * node with a healthy local API server, which serves the request itself.
 *
 * keepalived.conf(5) has no serialiser on npm: `renderKeepalivedConf` writes the nested blocks
 * from data, refusing anything that could end a line or a block.
 */
/** One keepalived statement: `keyword value...` or `keyword value... { block }`. */
export interface KeepalivedStatement {
    keyword: string;
    values?: (string | number)[];
    block?: KeepalivedStatement[];
}

const WORD = /^[A-Za-z0-9_$./:@-]+$/;

function word(w: string | number): string {
    const s = String(w);
    if (!WORD.test(s)) throw new Error(`"${s}" is not a plain keepalived word`);
    return s;
}

export function renderKeepalivedConf(statements: KeepalivedStatement[], indent = ""): string {
    return statements.map((st) => {
        const head = [word(st.keyword), ...(st.values ?? []).map(word)].join(" ");
        if (!st.block) return `${indent}${head}\n`;
        return `${indent}${head} {\n${renderKeepalivedConf(st.block, `${indent}    `)}${indent}}\n`;
    }).join("");
}

export const KEEPALIVED_PATHS = {
    config: "/etc/keepalived/keepalived.conf",
    /** `$INTERFACE=<name>`, written at boot by scripts/keepalived-setup.sh (the image decides the name). */
    interfaceFile: "/etc/keepalived/incant-interface.conf",
    /** scripts/apiserver-check.sh: this node's own API server answers /readyz. */
    check: "/usr/local/sbin/incant-apiserver-check",
    setup: "/usr/local/sbin/incant-keepalived-setup",
} as const;

export interface KeepalivedArgs {
    /** This control plane's name and fixed address. */
    node: { name: string; address: string };
    /** The other control planes' addresses (unicast adverts: no multicast needed on the network). */
    peers: string[];
    /** The API's virtual address, and the subnet's prefix length. */
    vip: string;
    prefixLength: number;
    /** Higher wins the first election; after that the address stays where it is (nopreempt). */
    priority: number;
    /** Where the interface line comes from (tests point it elsewhere). */
    interfaceFile?: string;
    /** The health check's path (tests point it elsewhere). */
    check?: string;
}

/** The VRRP router id: any 1-255 shared by the three; the address's last octet is stable and readable. */
export function virtualRouterId(vip: string): number {
    return Number(vip.split(".")[3]) || 1;
}

export function keepalivedConf(a: KeepalivedArgs): string {
    return renderKeepalivedConf([
        { keyword: "global_defs", block: [
            { keyword: "router_id", values: [a.node.name] },
            // The check runs as root, from a root-owned file; keepalived refuses scripts otherwise.
            { keyword: "enable_script_security" },
            { keyword: "script_user", values: ["root"] },
        ] },
        { keyword: "include", values: [a.interfaceFile ?? KEEPALIVED_PATHS.interfaceFile] },
        { keyword: "vrrp_script", values: ["apiserver"], block: [
            { keyword: "script", values: [a.check ?? KEEPALIVED_PATHS.check] },
            { keyword: "interval", values: [3] },
            { keyword: "timeout", values: [5] },
            { keyword: "fall", values: [2] },
            { keyword: "rise", values: [2] },
        ] },
        { keyword: "vrrp_instance", values: ["kubernetes_api"], block: [
            // Every node starts as BACKUP with nopreempt: a control plane that comes back does not
            // take the address away from a healthy one.
            { keyword: "state", values: ["BACKUP"] },
            { keyword: "nopreempt" },
            { keyword: "interface", values: ["$INTERFACE"] },
            { keyword: "virtual_router_id", values: [virtualRouterId(a.vip)] },
            { keyword: "priority", values: [a.priority] },
            { keyword: "advert_int", values: [1] },
            { keyword: "unicast_src_ip", values: [a.node.address] },
            { keyword: "unicast_peer", block: a.peers.map((p) => ({ keyword: p })) },
            { keyword: "virtual_ipaddress", block: [{ keyword: `${a.vip}/${a.prefixLength}` }] },
            // A failing check puts the instance in FAULT: the address leaves this node.
            { keyword: "track_script", block: [{ keyword: "apiserver" }] },
        ] },
    ]);
}
