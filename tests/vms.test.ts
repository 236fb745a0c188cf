/** VM counts and shapes per environment, boot from volume, addresses and placement. */
import { strict as assert } from "assert";
import { INSTANCE, PORT, merged, runProgram, ProgramRun } from "./harness/program";
import { offlineId } from "../offline/placeholders";

function shapes(run: ProgramRun): string[] {
    return run.ofType(INSTANCE).map((i) => {
        const role = (i.inputs.metadata as Record<string, string>).role;
        const disk = (i.inputs.blockDevices as { volumeSize: number }[])[0].volumeSize;
        return `${role}:${i.inputs.flavorName}:${disk}`;
    });
}

function count(list: string[]): Record<string, number> {
    return list.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {});
}

describe("VMs", () => {
    it("dev: the paper's 8 cluster VMs of 4 vCPU / 8 GB / 100 GB plus storage and submit", async () => {
        const run = await runProgram("dev");
        assert.deepEqual(count(shapes(run)), {
            "control-plane:large:100": 1, "worker:large:100": 7, "storage:medium:30": 1, "submit:large:50": 1,
        });
    });

    it("prod: 3 control planes and 40 larger workers", async () => {
        const run = await runProgram("prod");
        assert.deepEqual(count(shapes(run)), {
            "control-plane:large:100": 3, "worker:xlarge:200": 40, "storage:xlarge:50": 1, "submit:xlarge:200": 1,
        });
    });

    it("follows the configured worker count", async () => {
        const run = await runProgram("dev", { nodes: { workers: { count: 3 } } });
        assert.equal(run.ofType(INSTANCE).filter((i) => (i.inputs.metadata as Record<string, string>).role === "worker").length, 3);
    });

    it("boots every VM from a volume of the image, with fixed addresses, tags and its role's group", async () => {
        const run = await runProgram("dev");
        const ips = new Set<string>();
        for (const i of run.ofType(INSTANCE)) {
            const [bd] = i.inputs.blockDevices as Record<string, unknown>[];
            assert.equal(bd.sourceType, "image");
            assert.equal(bd.destinationType, "volume");
            assert.equal(bd.bootIndex, 0);
            assert.equal(bd.deleteOnTermination, true);
            assert.equal(i.deleteBeforeReplace, true, "a replacement reuses the fixed address: delete first");
            const ip = run.addressOf(i);
            assert.ok(!ips.has(ip), "addresses are unique");
            ips.add(ip);
            const meta = i.inputs.metadata as Record<string, string>;
            assert.equal(meta.stack, "dev");
            assert.equal(meta.environment, "dev");
            const [net] = i.inputs.networks as { port?: string }[];
            if (net.port) {
                // Control planes: the program's port carries the group (by id) and the address.
                const port = run.ofType(PORT).find((p) => offlineId("port", p.name) === net.port)!;
                const group = run.ofType("openstack:networking/secGroup:SecGroup").find((g) => g.inputs.name === `incant-dev-${meta.role}`)!;
                assert.deepEqual(port.inputs.securityGroupIds, [offlineId("secgroup", group.name)]);
                assert.equal(i.inputs.securityGroups, undefined);
            } else {
                assert.deepEqual(i.inputs.securityGroups, [`incant-dev-${meta.role}`]);
            }
            assert.equal(i.inputs.keyPair, "incant-dev-operators");
        }
        assert.ok(ips.has("192.168.100.10") && ips.has("192.168.100.20") && ips.has("192.168.100.21") && ips.has("192.168.100.32"));
    });

    it("spreads workers with a soft anti-affinity server group", async () => {
        const run = await runProgram("dev");
        const [group] = run.ofType("openstack:compute/serverGroup:ServerGroup");
        assert.deepEqual(group.inputs.policies, ["soft-anti-affinity"]);
        const workers = run.ofType(INSTANCE).filter((i) => (i.inputs.metadata as Record<string, string>).role === "worker");
        assert.ok(workers.every((w) => (w.inputs.schedulerHints as { group: string }[])[0].group.startsWith("offline-")));
    });

    it("puts floating IPs only on the API control plane and the submit host", async () => {
        const run = await runProgram("dev");
        // On the servers' ports: the submit host's (Nova's, with its fixed address), the control plane's (the program's).
        const ports = new Map(run.ofType(PORT).map((p) => [offlineId("port", p.name), p]));
        const assoc = run.ofType("openstack:networking/floatingIpAssociate:FloatingIpAssociate").map((a) => a.inputs.fixedIp
            ?? (ports.get(String(a.inputs.portId))!.inputs.fixedIps as { ipAddress: string }[])[0].ipAddress).sort();
        assert.deepEqual(assoc, ["192.168.100.10", "192.168.100.21"]);
    });

    it("boots the image by its pinned id when openstack.imageId is set, else by the name's lookup", async () => {
        const bootImages = (run: ProgramRun) => new Set(run.ofType(INSTANCE).map((i) => (i.inputs.blockDevices as { uuid: string }[])[0].uuid));
        const byName = await runProgram("dev");
        assert.deepEqual([...bootImages(byName)], [offlineId("image", "ubuntu-22.04")]);
        const id = "5f8b1e0c-3a52-4c1e-9d8e-2b7a6f1c9e01";
        const pinned = await runProgram("dev", { openstack: merged(byName.stack.config["incant:openstack"] ? JSON.parse(byName.stack.config["incant:openstack"]) : {}, { imageId: id }) });
        assert.deepEqual([...bootImages(pinned)], [id]);
    });
});
