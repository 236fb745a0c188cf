/**
 * Homes and scratch never depend on S3 (issue 15): the systemd dependency graph of the rendered
 * units, read back from the files the VMs receive, proves that nothing nfs-server.service needs
 * runs rclone, and that restarting the archive restarts nothing else. The graph follows
 * systemd.unit(5): Requires=, BindsTo= and Requisite= pull in (and a restart of the needed unit
 * propagates to the needing one), PartOf= propagates stops and restarts, RequiresMountsFor= is a
 * Requires= on the mount units of the path's prefixes.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { parseIni, renderIni } from "../components/compute/ini";
import { WriteFile } from "../components/compute/cloudinit";
import { storageFiles, StorageCloudConfigArgs } from "../components/storage/cloudconfig";
import { nfsClients } from "../components/storage/controller";
import { UNITS } from "../components/storage/layout";
import { ARCHIVE_CLIENT } from "../components/storage/archive";
import { submitHostCloudConfig } from "../components/submit/hostconfig";

type Unit = Record<string, Record<string, string[]>>;

/** Unit files and their drop-ins (`x.service.d/*.conf`) merged, by unit name. */
export function unitsOf(files: { path: string; content: string }[]): Map<string, Unit> {
    const units = new Map<string, Unit>();
    const sorted = [...files].sort((a, b) => Number(a.path.includes(".d/")) - Number(b.path.includes(".d/")));
    for (const f of sorted) {
        const m = /^\/etc\/systemd\/system\/([^/]+?)(\.d\/[^/]+\.conf)?$/.exec(f.path);
        if (!m) continue;
        const unit = units.get(m[1]) ?? {};
        for (const [section, entries] of Object.entries(parseIni(f.content))) {
            unit[section] ??= {};
            for (const [k, v] of Object.entries(entries)) unit[section][k] = [...(unit[section][k] ?? []), ...v];
        }
        units.set(m[1], unit);
    }
    return units;
}

const values = (u: Unit | undefined, key: string): string[] =>
    (u?.Unit?.[key] ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

/** The mount units of a path and its prefixes (systemd escaping for plain names only). */
const mountsFor = (p: string): string[] => {
    const parts = p.split("/").filter(Boolean);
    return parts.map((_, i) => `${parts.slice(0, i + 1).join("-")}.mount`);
};

/** Every unit reachable from `name` through `next` (name included). */
function closure(name: string, next: (unit: string) => string[]): Set<string> {
    const seen = new Set<string>();
    const todo = [name];
    while (todo.length) {
        const n = todo.pop()!;
        if (seen.has(n)) continue;
        seen.add(n);
        todo.push(...next(n));
    }
    return seen;
}

/** Units `name` pulls in and cannot run without: the closure of Requires/BindsTo/Requisite/RequiresMountsFor. */
export function strongClosure(units: Map<string, Unit>, name: string): Set<string> {
    return closure(name, (n) => {
        const u = units.get(n);
        return [...values(u, "Requires"), ...values(u, "BindsTo"), ...values(u, "Requisite"), ...values(u, "RequiresMountsFor").flatMap(mountsFor)];
    });
}

/** Units a restart of `name` restarts too: those that require or bind to it, and those PartOf it (transitively). */
export function restartedWith(units: Map<string, Unit>, name: string): Set<string> {
    return closure(name, (n) => [...units].filter(([, u]) =>
        [...values(u, "Requires"), ...values(u, "BindsTo"), ...values(u, "PartOf"), ...values(u, "RequiresMountsFor").flatMap(mountsFor)].includes(n))
        .map(([other]) => other));
}

/** Units whose commands run rclone (the S3 side). */
export function s3Units(units: Map<string, Unit>): string[] {
    return [...units].filter(([, u]) => Object.values(u.Service ?? {}).flat().some((v) => /\brclone\b/.test(path.basename(v.split(" ")[0].replace(/^[-@:+!]+/, ""))))).map(([n]) => n);
}

const VOLUME_ID = "9d2c5e7a-41b6-4f0e-8a35-0c7d2e9b1f64";
/** The stack's storage VM, as the program renders it. */
export const STORAGE_ARGS: StorageCloudConfigArgs = { volumeId: VOLUME_ID, nfsClients: nfsClients("192.168.100.0/24") };

/** nfs-utils' own nfs-server.service [Unit] dependencies (Debian 12 nfs-kernel-server 2.6.2). */
const NFS_SERVER_UPSTREAM: WriteFile = {
    path: `/etc/systemd/system/${UNITS.nfsServer}`,
    content: renderIni([{ name: "Unit", entries: {
        Requires: ["network.target", "proc-fs-nfsd.mount"],
        Wants: ["network-online.target", "rpc-statd.service", "nfs-idmapd.service", "nfsdcld.service"],
        After: ["network-online.target", "local-fs.target", "proc-fs-nfsd.mount", "rpcbind.socket", "nfs-mountd.service"],
    } }], { separator: "=" }),
};

describe("storage: the NFS server does not depend on S3 (dependency graph of the rendered units)", () => {
    const units = unitsOf([NFS_SERVER_UPSTREAM, ...storageFiles(STORAGE_ARGS)]);

    it("nfs-server needs the data volume and the users' directories, and nothing that runs rclone", () => {
        const closure = strongClosure(units, UNITS.nfsServer);
        assert.ok(closure.has(UNITS.dataMount), `nfs-server must need the data volume: ${[...closure].join(", ")}`);
        assert.ok(closure.has(UNITS.userDirs));
        const s3 = [...closure].filter((n) => s3Units(units).includes(n) || /archive|rclone/.test(n));
        assert.deepEqual(s3, [], `nfs-server requires S3-side units: ${s3.join(", ")}`);
    });

    it("runs no rclone at all: the archive is mounted by its clients, so no S3 unit can stop or restart the NFS server", () => {
        assert.deepEqual(s3Units(units), []);
    });

    it("the graph reader sees a Requires= on an S3 unit (live check on a broken drop-in)", () => {
        const broken = new Map(units);
        broken.set("incant-bad-archive.service", { Service: { ExecStart: ["/usr/bin/rclone mount a:b /x"] } });
        broken.set(UNITS.nfsServer, { ...units.get(UNITS.nfsServer)!, Unit: { ...units.get(UNITS.nfsServer)!.Unit, Requires: ["incant-bad-archive.service"] } });
        assert.ok(strongClosure(broken, UNITS.nfsServer).has("incant-bad-archive.service"));
        assert.ok(restartedWith(broken, "incant-bad-archive.service").has(UNITS.nfsServer));
        broken.set("x.service", { Unit: { PartOf: ["incant-bad-archive.service"] } });
        assert.ok(restartedWith(broken, "incant-bad-archive.service").has("x.service"));
    });
});

describe("submit host: Docker and the shares do not depend on S3 or on the storage VM at boot (dependency graph)", () => {
    const shares = { server: "192.168.100.20", home: "/srv/incant/home", scratch: "/srv/incant/scratch" };
    /** Ubuntu's docker.service [Unit] dependencies (docker.io 24/26), with our drop-in merged in. */
    const docker: WriteFile = {
        path: "/etc/systemd/system/docker.service",
        content: renderIni([{ name: "Unit", entries: { Requires: "docker.socket", Wants: "network-online.target containerd.service", After: "network-online.target docker.socket firewalld.service containerd.service time-set.target" } }], { separator: "=" }),
    };
    const units = unitsOf([docker, ...(submitHostCloudConfig(shares, { bucket: "incant-dev-archive", exportReadWrite: false, credentials: "static" }).write_files ?? [])]);
    const nfsMounts = ["srv-incant-home.mount", "srv-incant-scratch.mount"];

    it("the archive is the one rclone unit, and nothing needs it", () => {
        assert.deepEqual(s3Units(units), [ARCHIVE_CLIENT.unit]);
        assert.deepEqual([...restartedWith(units, ARCHIVE_CLIENT.unit)], [ARCHIVE_CLIENT.unit], "restarting rclone restarts nothing else");
        const needs = [...strongClosure(units, ARCHIVE_CLIENT.unit)].filter((n) => units.has(n));
        assert.deepEqual(needs.sort(), [ARCHIVE_CLIENT.unit, "srv-incant-s3.mount"], "the archive needs its local shared parent, no NFS share");
    });

    it("Docker needs /cvmfs only: neither the NFS mounts nor the archive", () => {
        const closure = strongClosure(units, "docker.service");
        assert.ok(closure.has("cvmfs.mount") && closure.has("srv-incant-s3.mount"), [...closure].join(", "));
        for (const n of [...nfsMounts, ARCHIVE_CLIENT.unit]) assert.ok(!closure.has(n), `docker.service needs ${n}`);
        for (const n of nfsMounts) assert.ok(!restartedWith(units, n).has("docker.service"), `a remount of ${n} restarts Docker`);
    });
});
