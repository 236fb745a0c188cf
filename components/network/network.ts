/**
 * The facility's private network (Figure 2's fence): network, subnet, router to the external
 * network, and one security group per role generated from the port registry.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { VmRole } from "../config/quota";
import { dhcpPool, gatewayAddress } from "./addressing";
import { EGRESS, Flow, flows, PortSettings, ROLES } from "./ports";

export interface NetworkArgs {
    /** Prefix of every resource name, e.g. "incant-dev". */
    namePrefix: string;
    /** CIDR of the private subnet. */
    cidr: string;
    dnsServers: string[];
    /** Name of the external network (router gateway, floating IPs). */
    externalNetwork: string;
    /** Operators' CIDRs (SSH, Kubernetes API). */
    adminCidrs: string[];
    /** Physicists' CIDRs (SSH to the submit host). */
    userCidrs: string[];
    ports: PortSettings;
    /** Labels put on every resource. */
    tags: string[];
}

/** One ingress rule as the security groups receive it. */
export interface IngressRule {
    description: string;
    protocol: Flow["protocol"];
    portRangeMin?: number;
    portRangeMax?: number;
    /** Exactly one of the two. */
    remoteRole?: VmRole;
    remoteCidr?: string;
    to: VmRole;
}

/**
 * Expands the port registry into concrete rules (CIDR peers become one rule per CIDR). Identical
 * rules (an admin CIDR that is also a user CIDR) are merged: Neutron rejects duplicates.
 */
export function ingressRules(args: Pick<NetworkArgs, "adminCidrs" | "userCidrs" | "ports">): IngressRule[] {
    const seen = new Set<string>();
    return flows(args.ports).flatMap((f): IngressRule[] => {
        const base = { description: f.description, protocol: f.protocol, portRangeMin: f.ports?.[0], portRangeMax: f.ports?.[1], to: f.to };
        if ("role" in f.from) return [{ ...base, remoteRole: f.from.role }];
        const cidrs = f.from.cidrs === "admin" ? args.adminCidrs : args.userCidrs;
        return cidrs.map((c) => ({ ...base, remoteCidr: c }));
    }).filter((r) => {
        const key = ruleName("", r);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}

/** Stable, readable name of a rule resource (survives reordering of the registry). */
export function ruleName(prefix: string, r: IngressRule): string {
    const ports = r.portRangeMin === undefined ? "any" : r.portRangeMin === r.portRangeMax ? `${r.portRangeMin}` : `${r.portRangeMin}-${r.portRangeMax}`;
    const from = r.remoteRole ?? r.remoteCidr!.replace(/[./]/g, "-");
    return `${prefix}-${r.to}-${r.protocol}-${ports}-from-${from}`;
}

export class Network extends pulumi.ComponentResource {
    public readonly networkId: pulumi.Output<string>;
    public readonly subnetId: pulumi.Output<string>;
    /** Security group names by role (instances take groups by name). */
    public readonly securityGroupNames: Record<VmRole, pulumi.Output<string>>;
    /** Security group ids by role (ports take groups by id). */
    public readonly securityGroupIds: Record<VmRole, pulumi.Output<string>>;
    /** Resolves once the router connects the subnet to the outside (VMs need it to install packages). */
    public readonly routerInterface: openstack.networking.RouterInterface;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:network:Network", name, {}, opts);
        const parent = { parent: this };

        const external = openstack.networking.getNetworkOutput({ name: args.externalNetwork }, parent);
        const network = new openstack.networking.Network(`${name}-net`, {
            name: `${args.namePrefix}-net`, adminStateUp: true, tags: args.tags,
        }, parent);
        const pool = dhcpPool(args.cidr);
        const subnet = new openstack.networking.Subnet(`${name}-subnet`, {
            name: `${args.namePrefix}-subnet`,
            networkId: network.id,
            cidr: args.cidr,
            ipVersion: 4,
            gatewayIp: gatewayAddress(args.cidr),
            // Only Neutron's own ports draw from the pool; every VM gets a fixed address (addressing.ts).
            allocationPools: [pool],
            dnsNameservers: args.dnsServers,
            tags: args.tags,
        }, parent);
        const router = new openstack.networking.Router(`${name}-router`, {
            name: `${args.namePrefix}-router`,
            externalNetworkId: external.id,
            adminStateUp: true,
            tags: args.tags,
        }, parent);
        this.routerInterface = new openstack.networking.RouterInterface(`${name}-router-if`, {
            routerId: router.id, subnetId: subnet.id,
        }, parent);

        const groups = Object.fromEntries(ROLES.map((role) => [role, new openstack.networking.SecGroup(`${name}-${role}`, {
            name: `${args.namePrefix}-${role}`,
            description: `INCANT ${role} (generated from components/network/ports.ts)`,
            // Neutron's default rules allow all egress and intra-group ingress: we write our own.
            deleteDefaultRules: true,
            tags: args.tags,
        }, parent)])) as Record<VmRole, openstack.networking.SecGroup>;

        for (const role of ROLES) {
            new openstack.networking.SecGroupRule(`${name}-${role}-egress`, {
                description: EGRESS.description,
                direction: "egress", ethertype: "IPv4", remoteIpPrefix: EGRESS.cidr,
                securityGroupId: groups[role].id,
            }, parent);
        }
        for (const rule of ingressRules(args)) {
            new openstack.networking.SecGroupRule(ruleName(name, rule), {
                description: rule.description,
                direction: "ingress",
                ethertype: "IPv4",
                protocol: rule.protocol,
                portRangeMin: rule.portRangeMin,
                portRangeMax: rule.portRangeMax,
                remoteGroupId: rule.remoteRole ? groups[rule.remoteRole].id : undefined,
                remoteIpPrefix: rule.remoteCidr,
                securityGroupId: groups[rule.to].id,
            }, parent);
        }

        this.networkId = network.id;
        this.subnetId = subnet.id;
        this.securityGroupNames = Object.fromEntries(ROLES.map((r) => [r, groups[r].name])) as Record<VmRole, pulumi.Output<string>>;
        this.securityGroupIds = Object.fromEntries(ROLES.map((r) => [r, groups[r].id])) as Record<VmRole, pulumi.Output<string>>;
        this.registerOutputs({ networkId: this.networkId, subnetId: this.subnetId });
    }
}
