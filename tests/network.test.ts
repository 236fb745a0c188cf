/** Security groups: generated from the port registry, least privilege between roles. */
import { strict as assert } from "assert";
import { ingressRules } from "../components/network/network";
import { flows, SUBMIT_SSH_PORT, SUBMIT_TOOL_PORTS } from "../components/network/ports";
import { runProgram, ProgramRun } from "./harness/program";

const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const GROUP = "openstack:networking/secGroup:SecGroup";

describe("network and security groups", () => {
    let run: ProgramRun;
    before(async () => { run = await runProgram("dev"); });

    it("creates one group per role with the default rules deleted", () => {
        const groups = run.ofType(GROUP);
        assert.deepEqual(groups.map((g) => g.inputs.name).sort(),
            ["incant-dev-control-plane", "incant-dev-storage", "incant-dev-submit", "incant-dev-worker"]);
        assert.ok(groups.every((g) => g.inputs.deleteDefaultRules === true));
    });

    it("opens nothing to 0.0.0.0/0 but the documented egress", () => {
        const open = run.ofType(RULE).filter((r) => r.inputs.remoteIpPrefix === "0.0.0.0/0");
        assert.equal(open.length, 4);
        assert.ok(open.every((r) => r.inputs.direction === "egress"));
    });

    it("admits SSH and the Kubernetes API only from the admin CIDRs, and users only to the submit container's SSH port", () => {
        const fromCidrs = run.ofType(RULE).filter((r) => r.inputs.direction === "ingress" && r.inputs.remoteIpPrefix);
        const table = fromCidrs.map((r) => `${r.name.split("-tcp-")[0].replace("incant-dev-", "")} ${r.inputs.portRangeMin} ${r.inputs.remoteIpPrefix}`).sort();
        assert.deepEqual(table, [
            "control-plane 22 192.135.24.0/24",
            // JupyterHub's HTTPS NodePort (dev runs the hub), from the user CIDRs (issue 18).
            "control-plane 30443 131.154.0.0/16",
            "control-plane 30443 192.135.24.0/24",
            "control-plane 6443 192.135.24.0/24",
            // Port 22 is the VM's own sshd (operators); physicists reach the container's (issue 14).
            "submit 22 192.135.24.0/24",
            `submit ${SUBMIT_SSH_PORT} 131.154.0.0/16`,
            `submit ${SUBMIT_SSH_PORT} 192.135.24.0/24`,
        ]);
    });

    it("matches the table of allowed flows between roles", () => {
        const rules = ingressRules({ adminCidrs: ["192.0.2.0/24"], userCidrs: ["198.51.100.0/24"], ports: { collectorPort: 30618, schedulerPort: 30619 } });
        const table = new Set(rules.filter((r) => r.remoteRole && r.protocol !== "icmp")
            .map((r) => `${r.remoteRole}->${r.to} ${r.protocol}${r.portRangeMin === undefined ? "" : `/${r.portRangeMin}${r.portRangeMax !== r.portRangeMin ? `-${r.portRangeMax}` : ""}`}`));
        const expected = [
            "control-plane->worker tcp/22", "control-plane->storage tcp/22",
            "control-plane->control-plane tcp/6443", "worker->control-plane tcp/6443",
            "control-plane->control-plane tcp/2379-2380", "control-plane->control-plane vrrp",
            "control-plane->control-plane tcp/10250", "control-plane->worker tcp/10250", "worker->control-plane tcp/10250", "worker->worker tcp/10250",
            "control-plane->control-plane udp/4789", "control-plane->worker udp/4789", "worker->control-plane udp/4789", "worker->worker udp/4789",
            "control-plane->control-plane tcp/5473", "control-plane->worker tcp/5473", "worker->control-plane tcp/5473", "worker->worker tcp/5473",
            "control-plane->control-plane tcp/9100", "control-plane->worker tcp/9100", "worker->control-plane tcp/9100", "worker->worker tcp/9100",
            // Prometheus scrapes the control-plane components (METRICS_PORTS) and kube-proxy on every node.
            ...["10257", "10259", "2381"].flatMap((p) => [`control-plane->control-plane tcp/${p}`, `worker->control-plane tcp/${p}`]),
            "control-plane->control-plane tcp/10249", "control-plane->worker tcp/10249", "worker->control-plane tcp/10249", "worker->worker tcp/10249",
            "worker->storage tcp/2049", "submit->storage tcp/2049", "worker->submit tcp/9100",
            // Starters connect back to condor_tail and condor_ssh_to_job in the submit container (CCB).
            "worker->submit tcp/9620-9629",
            "submit->control-plane tcp/30618", "submit->worker tcp/30618", "submit->control-plane tcp/30619", "submit->worker tcp/30619",
        ];
        assert.deepEqual([...table].sort(), expected.sort());
    });

    it("never lets workers reach etcd, nor the submit host reach the kubelet or the API", () => {
        const f = flows({ collectorPort: 30618, schedulerPort: 30619 });
        const reaches = (from: string, to: string, port: number) => f.some((x) => "role" in x.from && x.from.role === from && x.to === to
            && x.ports !== undefined && x.ports[0] <= port && port <= x.ports[1]);
        assert.ok(!reaches("worker", "control-plane", 2379));
        assert.ok(!reaches("submit", "worker", 10250));
        assert.ok(!reaches("submit", "control-plane", 6443));
        assert.ok(!reaches("storage", "worker", 2049));
    });

    it("opens the submit host's tools ports to the workers' group only, as one rule", () => {
        const byGroup = new Map(run.ofType(GROUP).map((g) => [g.urn, String(g.inputs.name)]));
        const toTools = run.ofType(RULE).filter((r) => r.inputs.direction === "ingress" && r.inputs.portRangeMax === SUBMIT_TOOL_PORTS.last);
        assert.equal(toTools.length, 1, toTools.map((r) => r.name).join(", "));
        const rule = toTools[0];
        assert.deepEqual([rule.inputs.protocol, rule.inputs.portRangeMin, rule.inputs.portRangeMax, rule.inputs.remoteIpPrefix], ["tcp", 9620, 9629, undefined]);
        // Its group and its source group, by the groups' resources it depends on.
        const groups = rule.dependencies.map((u) => byGroup.get(u)).filter(Boolean).sort();
        assert.deepEqual(groups, ["incant-dev-submit", "incant-dev-worker"]);
        assert.equal(rule.name, "incant-dev-submit-tcp-9620-9629-from-worker");
        // Nothing else reaches those ports: no CIDR (users, admins) and no other role.
        const f = flows({ collectorPort: 30618, schedulerPort: 30619 }).filter((x) => x.to === "submit" && x.ports && x.ports[0] <= SUBMIT_TOOL_PORTS.last && SUBMIT_TOOL_PORTS.first <= x.ports[1]);
        assert.deepEqual(f.map((x) => x.from), [{ role: "worker" }]);
    });

    it("registers no rule twice (Neutron rejects duplicates)", () => {
        const keys = run.ofType(RULE).map((r) => JSON.stringify([r.inputs.securityGroupId, r.inputs.direction, r.inputs.protocol,
            r.inputs.portRangeMin, r.inputs.portRangeMax, r.inputs.remoteIpPrefix, r.inputs.remoteGroupId]));
        assert.equal(new Set(keys).size, keys.length);
        const urns = run.resources.map((r) => r.urn);
        assert.equal(new Set(urns).size, urns.length, "URNs are unique");
    });

    it("gives every rule a description", () => {
        assert.ok(run.ofType(RULE).every((r) => typeof r.inputs.description === "string" && (r.inputs.description as string).length > 5));
    });

    it("routes the subnet to the external network and keeps DHCP out of the fixed addresses", () => {
        const subnet = run.get("openstack:networking/subnet:Subnet", "incant-dev-subnet");
        assert.deepEqual(subnet.inputs.allocationPools, [{ start: "192.168.100.2", end: "192.168.100.9" }]);
        assert.equal(subnet.inputs.gatewayIp, "192.168.100.1");
        const router = run.get("openstack:networking/router:Router", "incant-dev-router");
        assert.match(String(router.inputs.externalNetworkId), /^offline-network-/);
    });
});
