/**
 * The facility's HTCondor pool, run for real on 127.0.0.1 (tests/pool/README.md): the dev stack
 * rendered with its secrets, the central manager, the scheduler and one worker as separate
 * condor_master "pods" with the rendered configuration and map file unchanged (plus the loopback
 * overlay, overlay.ts), the program-minted IDTOKENs, a loopback IAM issuer, and the journey of
 * docs/first-job.md as atlasuser1 from the submit container. Mandatory under CI=true.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { requireLoopbackPool } from "./install";
import { requireTool } from "../harness/tools";
import { CLIENT_ID, copySmokeTest, output, userSession } from "./journey";
import { hostPathOf } from "./pod";
import { ADDRESSES } from "./plans";
import { LoopbackPool, setting } from "./pool";
import { ComposeService, downwardResource } from "./rendered";
import { WORKER_RESERVED_MEMORY_MB } from "../../components/htcondor/config";


describe("HTCondor pool on loopback (npm run test:pool)", function () {
    let pool: LoopbackPool;
    let scheddName: string;

    before(async function () {
        const install = requireLoopbackPool(this);
        pool = await LoopbackPool.create(install);
        scheddName = setting(pool.rendered.conf.scheduler, "SCHEDD_NAME")!;
        pool.start("central-manager", "scheduler", "worker", "submit");
        // The submit container is ready once its start-up hook has created the users.
        await pool.waitForSubmitUser("atlasuser1");
    });

    after(async function () {
        this.timeout(60_000);
        if (pool) await pool.stop();
    });

    const cm = () => pool.pods["central-manager"];
    const worker = () => pool.pods.worker;
    const podFile = (role: "central-manager" | "scheduler" | "worker" | "submit", p: string) => hostPathOf(pool.pods[role].dir, p)!;

    it("runs every daemon on the rendered configuration and map file, unchanged", async () => {
        for (const role of ["central-manager", "scheduler", "worker"] as const) {
            // The image's entry point copies it into config.d at start.
            await pool.waitFor(`${role}'s config.d`, () => fs.existsSync(podFile(role, "/etc/condor/config.d/50-incant.conf")), 20_000);
            assert.equal(fs.readFileSync(podFile(role, "/etc/condor/config.d/50-incant.conf"), "utf8"), pool.rendered.conf[role], role);
        }
        for (const role of ["central-manager", "scheduler"] as const) assert.equal(fs.readFileSync(podFile(role, "/etc/condor/incant/mapfile"), "utf8"), pool.rendered.mapfile);
    });

    it("keeps the signing key in the central manager only; startd and schedd hold their minted tokens", () => {
        assert.ok(fs.existsSync(podFile("central-manager", "/etc/condor/passwords.d/POOL")));
        for (const role of ["scheduler", "worker", "submit"] as const) {
            const dir = podFile(role, "/etc/condor/passwords.d");
            assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], [], `${role} has a signing key`);
        }
        assert.deepEqual(fs.readdirSync(podFile("worker", "/etc/condor/tokens.d")), ["startd"]);
        assert.deepEqual(fs.readdirSync(podFile("scheduler", "/etc/condor/tokens.d")), ["schedd"]);
    });

    it("forms the pool: the worker's slot has the pod's CPU and memory requests, the schedd is advertised", async () => {
        const c = pool.rendered.podSpec.worker.containers[0];
        const cpus = downwardResource(c.resources.requests.cpu);
        const memory = downwardResource(c.resources.requests.memory, "1Mi") - WORKER_RESERVED_MEMORY_MB;
        const slot = await pool.waitFor("the worker's slot in condor_status (StartLog: see the failure)", () => {
            const r = cm().exec(["condor_status", "-af", "Name", "Cpus", "Memory"]);
            return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
        }, 45_000).catch((e) => { throw new Error(`${e.message}\n${pool.daemonLog("worker", "StartLog").split("\n").slice(-6).join("\n")}`); });
        assert.match(slot, new RegExp(`^slot1@htcondor-worker-0 ${cpus} ${memory}$`));
        const ads = cm().exec(["condor_status", "-any", "-af", "MyType", "Name"]).stdout;
        assert.match(ads, new RegExp(`^Scheduler ${scheddName.replace(/\./g, "\\.")}$`, "m"));
    });

    it("runs the worker's daemons with the container's capability bounding set and no_new_privs", () => {
        const caps = pool.rendered.podSpec.worker.containers[0].securityContext.capabilities!.add!;
        const startd = spawnSync("pgrep", ["-x", "-n", "condor_startd"], { encoding: "utf8" }).stdout.trim().split("\n")
            .find((pid) => pid && fs.readlinkSync(`/proc/${pid}/ns/mnt`) === fs.readlinkSync(`/proc/${worker().pid}/ns/mnt`));
        assert.ok(startd, "no condor_startd in the worker pod");
        const status = fs.readFileSync(`/proc/${startd}/status`, "utf8");
        const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)![1]}`);
        const expected = caps.reduce((acc, c) => acc | (1n << BigInt(CAPABILITY_NUMBERS[c])), 0n);
        assert.equal(bounding.toString(16), expected.toString(16));
        assert.match(status, /^NoNewPrivs:\s*1$/m);
    });

    describe("docs/first-job.md as atlasuser1", () => {
        it("condor_ping READ at the collector and WRITE at the schedd authenticate with SCITOKENS as atlasuser1", () => {
            const u = userSession(pool, "atlasuser1");
            const read = u.run(["condor_ping", "-type", "COLLECTOR", "-verbose", "READ"]);
            assert.equal(read.status, 0, output(read));
            assert.match(read.stdout, /Authenticated using:\s+SCITOKENS/);
            assert.match(read.stdout, /Remote Mapping:\s+atlasuser1@incant\.cloud\.infn\.it/);
            const write = u.run(["condor_ping", "-name", scheddName, "-type", "SCHEDD", "-verbose", "WRITE"]);
            assert.equal(write.status, 0, output(write));
            assert.match(write.stdout, /Authorized:\s+TRUE/);
        });

        it("condor_status shows the worker's slot with the pod's CPUs and memory", () => {
            const c = pool.rendered.podSpec.worker.containers[0];
            const r = userSession(pool, "atlasuser1").run(["condor_status", "-af", "Name", "Cpus", "Memory"]);
            assert.equal(r.status, 0, output(r));
            const memory = downwardResource(c.resources.requests.memory, "1Mi") - WORKER_RESERVED_MEMORY_MB;
            assert.equal(r.stdout.trim(), `slot1@htcondor-worker-0 ${downwardResource(c.resources.requests.cpu)} ${memory}`);
            assert.ok(memory < downwardResource(c.resources.limits.memory, "1Mi"), "the slot stays below the container's memory limit");
        });

        it("submits examples/smoke-test with condor_submit -remote; it runs as atlasuser1 and condor_transfer_data brings back an .out ending with OK", async () => {
            const u = userSession(pool, "atlasuser1");
            const dir = copySmokeTest(pool, u);
            const submit = u.run(["condor_submit", "-remote", scheddName, "smoke-test.sub"], { cwd: dir });
            assert.equal(submit.status, 0, output(submit));
            const cluster = /submitted to cluster (\d+)\./.exec(submit.stdout)![1];
            const status = await pool.waitFor(`job ${cluster} to complete`, () => {
                const q = u.run(["condor_q", "-name", scheddName, cluster, "-af", "JobStatus", "HoldReason"]);
                const s = q.stdout.trim();
                // Held while condor_submit -remote spools the input ("Spooling input data files"), then released.
                return s.startsWith("4") || (s.startsWith("5") && !s.includes("Spooling input")) ? s : undefined;
            }, 90_000);
            assert.match(status, /^4 /, `job ${cluster} did not complete: ${status}`);
            const transfer = u.run(["condor_transfer_data", "-name", scheddName, cluster], { cwd: dir });
            assert.equal(transfer.status, 0, output(transfer));
            const out = fs.readFileSync(path.join(pool.volumes.home, "atlasuser1", "smoke-test", `smoke-test.${cluster}.0.out`), "utf8");
            assert.match(out, / on htcondor-worker-0 as atlasuser1 at /);
            assert.match(out, /setupATLAS available/);
            assert.match(out, /OK\n$/);
            const ntuple = path.join(pool.volumes.scratch, "atlasuser1", "smoke-test", `ntuple_${cluster}_0.csv`);
            assert.equal(fs.statSync(ntuple).uid, u.uid, "the n-tuple on the scratch share is the user's");
        });

        it("lets a job's own bash script call setupATLAS (not only login shells)", async () => {
            const u = userSession(pool, "atlasuser1");
            const dir = path.join(pool.volumes.home, "atlasuser1", "atlas");
            fs.mkdirSync(dir);
            fs.writeFileSync(path.join(dir, "job.sh"), "#!/bin/bash\nset -e\nsetupATLAS\necho \"ALRB=$ATLAS_LOCAL_ROOT_BASE\"\n", { mode: 0o755 });
            fs.writeFileSync(path.join(dir, "job.sub"), ["executable = job.sh", "output = job.out", "error = job.err", "log = job.log",
                "request_memory = 64MB", "request_disk = 10MB", "should_transfer_files = YES", "queue", ""].join("\n"));
            for (const f of ["", "job.sh", "job.sub"]) fs.chownSync(path.join(dir, f), u.uid, u.uid);
            const submit = u.run(["condor_submit", "-remote", scheddName, "job.sub"], { cwd: "/home/atlasuser1/atlas" });
            assert.equal(submit.status, 0, output(submit));
            const cluster = /submitted to cluster (\d+)\./.exec(submit.stdout)![1];
            await pool.waitFor(`job ${cluster} to complete`, () => u.run(["condor_q", "-name", scheddName, cluster, "-af", "JobStatus"]).stdout.trim() === "4", 90_000);
            const transfer = u.run(["condor_transfer_data", "-name", scheddName, cluster], { cwd: "/home/atlasuser1/atlas" });
            assert.equal(transfer.status, 0, output(transfer));
            const out = fs.readFileSync(path.join(dir, "job.out"), "utf8");
            assert.match(out, /^setupATLAS \(loopback stand-in\)$/m, `${out}${fs.readFileSync(path.join(dir, "job.err"), "utf8")}`);
            assert.match(out, /^ALRB=\/cvmfs\/atlas\.cern\.ch\/repo\/ATLASLocalRootBase$/m);
        });
    });

    describe("operators and users watching a running job (docs/first-job.md: where condor_tail and condor_ssh_to_job work)", () => {
        let job = "";
        const u = () => userSession(pool, "atlasuser1");
        const inScheduler = (args: string[], user?: string) => pool.pods.scheduler.exec(args, { user, timeoutMs: 60_000 });

        before(async function () {
            this.timeout(120_000);
            const dir = path.join(pool.volumes.home, "atlasuser1", "tail");
            fs.mkdirSync(dir);
            fs.writeFileSync(path.join(dir, "tick.sh"), "#!/bin/bash\nfor i in $(seq 1 120); do echo \"tick $i\"; sleep 1; done\n", { mode: 0o755 });
            fs.writeFileSync(path.join(dir, "tick.sub"), ["executable = tick.sh", "output = tick.out", "log = tick.log", "request_memory = 32MB",
                "request_disk = 1MB", "should_transfer_files = YES", "queue", ""].join("\n"));
            for (const f of ["", "tick.sh", "tick.sub"]) fs.chownSync(path.join(dir, f), u().uid, u().uid);
            // Run alone (mocha --grep), the schedd may not have advertised yet.
            await pool.waitFor("the schedd's ad", () => u().run(["condor_q", "-name", scheddName, "-totals"]).status === 0 || undefined, 60_000);
            const submit = u().run(["condor_submit", "-remote", scheddName, "tick.sub"], { cwd: "/home/atlasuser1/tail" });
            assert.equal(submit.status, 0, output(submit));
            job = `${/submitted to cluster (\d+)\./.exec(submit.stdout)![1]}.0`;
            await pool.waitFor(`job ${job} running`, () => u().run(["condor_q", "-name", scheddName, job, "-af", "JobStatus"]).stdout.trim() === "2", 90_000);
        });

        after(() => { if (job) u().run(["condor_rm", "-name", scheddName, job]); });

        it("condor_tail shows a running job's output in the scheduler pod, to an operator (root) and to the user", async () => {
            const asRoot = await pool.waitFor("condor_tail output", () => {
                const r = inScheduler(["condor_tail", "-maxbytes", "100", job]);
                return r.status === 0 && /tick \d+/.test(r.stdout) ? r : undefined;
            }, 20_000);
            assert.match(asRoot.stdout, /tick \d+/);
            const asUser = inScheduler(["condor_tail", "-maxbytes", "100", job], "atlasuser1");
            assert.equal(asUser.status, 0, output(asUser));
            assert.match(asUser.stdout, /tick \d+/);
        });

        it("condor_ssh_to_job runs a command in the job's sandbox, on the worker, from the scheduler pod (the user and an operator)", () => {
            for (const user of ["atlasuser1", undefined]) {
                // ssh hands the remote shell one command line.
                const r = inScheduler(["condor_ssh_to_job", job, "id -un; hostname; ls -a"], user);
                assert.equal(r.status, 0, `${user ?? "root"}: ${output(r)}`);
                // sshd runs as the job's owner, in the starter's sandbox on the worker pod.
                const [who, host, ...files] = r.stdout.trim().split("\n");
                assert.deepEqual([who, host], ["atlasuser1", "htcondor-worker-0"], r.stdout);
                for (const f of ["tick.sh", "_condor_stdout", ".job.ad"]) assert.ok(files.includes(f), `${f} not in the sandbox: ${r.stdout}`);
            }
        });

        it("both tools reach the job from the submit container across Docker's bridge: the starter connects back to the VM's address, on a published port", function () {
            requireTool(this, "iptables");
            // The submit container sits on Docker's default bridge (components/submit/services.ts): no
            // pod reaches its address; Docker forwards the VM's published ports to it (DNAT). The loopback
            // pool puts the container on the shared loopback; the bridge is modelled here, in the pool's
            // own network namespace: the published ports at the VM's address are DNAT-ed to the container,
            // the container takes nothing else, and nothing else at the VM's address answers.
            const submitIp = pool.pods.submit.plan.podIp;
            const vm = ADDRESSES.submitHost;
            const published = ((pool.rendered.submit as ComposeService & { ports?: string[] }).ports ?? []).map((p) => p.split(":").pop()!);
            const nat = published.map((port) => ["OUTPUT", "-p", "tcp", "-d", vm, "--dport", port, "-j", "DNAT", "--to-destination", `${submitIp}:${port}`]);
            const filter = [
                ["INPUT", "-p", "tcp", "-d", submitIp, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"],
                ["INPUT", "-p", "tcp", "-d", submitIp, "!", "-s", submitIp, "--syn", "-j", "REJECT", "--reject-with", "tcp-reset"],
                ["INPUT", "-p", "tcp", "-d", vm, "--syn", "-j", "REJECT", "--reject-with", "tcp-reset"],
            ];
            const iptables = (args: string[]) => pool.pods.submit.exec(["iptables", "-w", ...args]);
            try {
                for (const rule of nat) {
                    const added = iptables(["-t", "nat", "-A", ...rule]);
                    assert.equal(added.status, 0, output(added));
                }
                for (const rule of filter) {
                    const added = iptables(["-A", ...rule]);
                    assert.equal(added.status, 0, output(added));
                }
                const tail = u().run(["condor_tail", "-name", scheddName, "-maxbytes", "100", job]);
                assert.equal(tail.status, 0, output(tail));
                assert.match(tail.stdout, /tick \d+/);
                // ssh hands the remote shell one command line; sshd runs as the job's owner, in its sandbox on the worker.
                const ssh = u().run(["condor_ssh_to_job", "-name", scheddName, job, "id -un; hostname; ls -a"]);
                assert.equal(ssh.status, 0, output(ssh));
                const [who, host, ...files] = ssh.stdout.trim().split("\n");
                assert.deepEqual([who, host], ["atlasuser1", "htcondor-worker-0"], ssh.stdout);
                for (const f of ["tick.sh", "_condor_stdout"]) assert.ok(files.includes(f), `${f} not in the sandbox: ${ssh.stdout}`);
                // The starter's connections came the published way (one per tool at least), and the bridge turned nothing away.
                const forwarded = iptables(["-t", "nat", "-L", "OUTPUT", "-n", "-v", "-x"]).stdout;
                const dnat = [...forwarded.matchAll(/^\s*(\d+)\s+\d+\s+DNAT/gm)].reduce((n, m) => n + Number(m[1]), 0);
                assert.ok(dnat >= 2, forwarded);
                const counters = iptables(["-L", "INPUT", "-n", "-v", "-x"]).stdout;
                const refused = [...counters.matchAll(/^\s*(\d+)\s+\d+\s+REJECT/gm)].reduce((n, m) => n + Number(m[1]), 0);
                assert.equal(refused, 0, counters);
            } finally {
                for (const rule of filter) iptables(["-D", ...rule]);
                for (const rule of nat) iptables(["-t", "nat", "-D", ...rule]);
            }
        });
    });

    describe("resource limits", () => {
        /** A job of atlasuser1 from `files` in ~/<name>, submitted with condor_submit -remote; its cluster. */
        const submitJob = (name: string, files: Record<string, string>): string => {
            const u = userSession(pool, "atlasuser1");
            const dir = path.join(pool.volumes.home, "atlasuser1", name);
            fs.mkdirSync(dir);
            for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text, { mode: f.endsWith(".sh") ? 0o755 : 0o644 });
            for (const f of ["", ...Object.keys(files)]) fs.chownSync(path.join(dir, f), u.uid, u.uid);
            const submit = u.run(["condor_submit", "-remote", scheddName, `${name}.sub`], { cwd: `/home/atlasuser1/${name}` });
            assert.equal(submit.status, 0, output(submit));
            return /submitted to cluster (\d+)\./.exec(submit.stdout)![1];
        };
        /** Until `cluster` is held (after its input spooling) or completes, at most `timeoutMs`: "<JobStatus> <attrs...>". */
        const heldOrDone = (cluster: string, attrs: string[], timeoutMs: number) => pool.waitFor(`job ${cluster} held`, () => {
            const q = userSession(pool, "atlasuser1").run(["condor_q", "-name", scheddName, cluster, "-af", "JobStatus", ...attrs]).stdout.trim();
            return q.startsWith("5") && !q.includes("Spooling input") ? q : q.startsWith("4") ? `completed: ${q}` : undefined;
        }, timeoutMs);
        // Both overrunning jobs run side by side (the slot has room for both): each is caught on its own.
        let hog = "", fill = "";
        before(() => {
            // 400 MiB touched page by page against request_memory = 64 MB, then it waits to be caught.
            hog = submitJob("hog", {
                "hog.sh": "#!/bin/bash\npython3 -c 'import time\na = bytearray(400 * 2**20)\nfor i in range(0, len(a), 4096): a[i] = 1\ntime.sleep(600)'\n",
                "hog.sub": ["executable = hog.sh", "request_memory = 64MB", "request_disk = 10MB", "log = hog.log", "should_transfer_files = YES", "queue", ""].join("\n"),
            });
            // 30 MiB into its sandbox against request_disk = 10MB, then it waits (60 s: without the policy it completes).
            fill = submitJob("fill", {
                "fill.sh": "#!/bin/bash\nfor i in 1 2 3; do head -c 10M /dev/zero > fill.$i; sleep 1; done\nsleep 60\n",
                "fill.sub": ["executable = fill.sh", "request_memory = 32MB", "request_disk = 10MB", "log = fill.log", "should_transfer_files = YES", "queue", ""].join("\n"),
            });
        });
        after(() => { for (const c of [hog, fill]) if (c) userSession(pool, "atlasuser1").run(["condor_rm", "-name", scheddName, c]); });

        it("holds a job that uses more memory than it requested, before it can reach the pod's limit", async () => {
            const held = await heldOrDone(hog, ["HoldReason"], 100_000);
            assert.match(held, /^5 Error from slot1_\d+@htcondor-worker-0: memory usage exceeded request_memory$/);
        });

        it("offers the worker's slot less disk than its execute emptyDir may hold (DISK, not the node's free space)", () => {
            const execute = pool.rendered.podSpec.worker.volumes.find((v) => v.name === "execute")?.emptyDir?.sizeLimit;
            assert.ok(execute, "the worker's execute emptyDir has a sizeLimit");
            const total = cm().exec(["condor_status", "-af", "TotalDisk", "-constraint", "PartitionableSlot"]);
            assert.equal(total.status, 0, output(total));
            // Disk and DISK are KiB.
            assert.equal(total.stdout.trim(), setting(pool.rendered.conf.worker, "DISK"), "the slot offers the rendered DISK");
            assert.ok(Number(total.stdout) < downwardResource(execute, "1Ki"), `TotalDisk ${total.stdout.trim()} KiB, emptyDir ${execute}`);
        });

        it("holds a job that writes three times its request_disk into its sandbox, and removes what it wrote", async () => {
            // The startd sees the sandbox's size in the starter's reports (STARTER_UPDATE_INTERVAL, config.ts).
            const held = await heldOrDone(fill, ["HoldReasonCode", "HoldReasonSubCode", "HoldReason"], 90_000);
            // 21: the startd's policy held it (condor_holdcodes.h StartdHeldJob); 104: HOLD_IF_DISK_EXCEEDED's subcode.
            assert.match(held, /^5 21 104 Error from slot1_\d+@htcondor-worker-0: disk usage exceeded allocated disk$/);
            const usage = userSession(pool, "atlasuser1").run(["condor_q", "-name", scheddName, fill, "-af", "DiskUsage", "RequestDisk"]).stdout.trim().split(" ").map(Number);
            assert.ok(usage[0] > 2 * usage[1], `DiskUsage ${usage[0]} KiB, RequestDisk ${usage[1]} KiB`);
            // The starter removed the sandbox: nothing of the job is left in the worker's emptyDir.
            const execute = hostPathOf(worker().dir, "/var/lib/condor/execute")!;
            const leftovers = () => {
                try {
                    return fs.readdirSync(execute, { recursive: true }).map(String).filter((f) => /(^|\/)fill\.\d$/.test(f));
                } catch {
                    return ["(the directory changed while it was read)"];
                }
            };
            await pool.waitFor("the sandbox removed from the execute directory", () => leftovers().length === 0 || undefined, 20_000)
                .catch(() => assert.fail(`left in the execute directory: ${leftovers().join(", ")}`));
        });
    });

    describe("refusals", () => {
        const inWorker = (args: string[], env: Record<string, string> = {}) => worker().exec(args, { env });

        it("refuses a user token without condor: scopes: authenticated and mapped, but DENIED (docs/first-job.md explains it)", () => {
            const scheddAddress = userSession(pool, "atlasuser1").run(["condor_status", "-schedd", "-af", "MyAddress"]).stdout.trim();
            assert.match(scheddAddress, /^</);
            const u = userSession(pool, "atlasuser1", { scope: "openid profile offline_access" });
            const read = u.run(["condor_ping", "-type", "COLLECTOR", "-verbose", "READ"]);
            assert.notEqual(read.status, 0, output(read));
            assert.match(output(read), /Received "DENIED" from server for user atlasuser1@incant\.cloud\.infn\.it using method SCITOKENS/);
            const write = u.run(["condor_ping", "-addr", scheddAddress, "-type", "SCHEDD", "-verbose", "WRITE"]);
            assert.notEqual(write.status, 0, output(write));
            assert.match(output(write), /Received "DENIED" from server for user atlasuser1@incant\.cloud\.infn\.it using method SCITOKENS/);
            const docs = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "first-job.md"), "utf8");
            assert.match(docs, /Received "DENIED" from server for user <you>@<trustDomain> using method SCITOKENS/);
            assert.match(pool.daemonLog("scheduler", "SchedLog"), /limited authorization which did not include this command \(60021 DC_NOP_WRITE\)/);
        });

        it("refuses a token for another audience", () => {
            const u = userSession(pool, "atlasuser1", { aud: "https://wlcg.cern.ch/jwt/v1/any-other-service" });
            const r = u.run(["condor_ping", "-type", "COLLECTOR", "-verbose", "READ"]);
            assert.notEqual(r.status, 0, output(r));
            assert.doesNotMatch(output(r), /Authorized:\s+TRUE/);
        });

        it("refuses an IAM subject that is not in incant:users", () => {
            const u = userSession(pool, "atlasuser1", { sub: "5d2b0a6e-0000-4000-8000-0000000000ff" });
            const r = u.run(["condor_ping", "-name", scheddName, "-type", "SCHEDD", "-verbose", "WRITE"]);
            assert.notEqual(r.status, 0, output(r));
            assert.doesNotMatch(output(r), /Authorized:\s+TRUE/);
        });

        it("refuses the startd's token to advertise a schedd (the ad never shows) or to negotiate", () => {
            const ad = "MyType = \"Scheduler\"\nName = \"impostor@incant.cloud.infn.it\"\nMyAddress = \"<10.244.3.10:9618>\"\n";
            fs.writeFileSync(podFile("worker", "/tmp/impostor.ad"), ad);
            const advertise = inWorker(["condor_advertise", "UPDATE_SCHEDD_AD", "/tmp/impostor.ad"]);
            assert.notEqual(advertise.status, 0, output(advertise));
            assert.doesNotMatch(cm().exec(["condor_status", "-schedd", "-af", "Name"]).stdout, /impostor/);
            assert.match(pool.daemonLog("central-manager", "CollectorLog"), /limited authorization which did not include this command \(1 UPDATE_SCHEDD_AD\)/);
            // The control: the same token may advertise what it is for.
            const startd = inWorker(["condor_ping", "-type", "COLLECTOR", "ADVERTISE_STARTD"]);
            assert.equal(startd.status, 0, output(startd));
            for (const level of ["NEGOTIATOR", "DAEMON", "ADVERTISE_SCHEDD"]) {
                const r = inWorker(["condor_ping", "-type", "COLLECTOR", level]);
                assert.notEqual(r.status, 0, `${level}: ${output(r)}`);
            }
            const negotiate = inWorker(["condor_ping", "-name", scheddName, "-type", "SCHEDD", "NEGOTIATOR"]);
            assert.notEqual(negotiate.status, 0, output(negotiate));
        });

        it("refuses a startd without a token", () => {
            const r = inWorker(["condor_ping", "-type", "COLLECTOR", "ADVERTISE_STARTD"], { _CONDOR_SEC_TOKEN_SYSTEM_DIRECTORY: "/nonexistent" });
            assert.notEqual(r.status, 0, output(r));
        });

        it("refuses a token of IAM's default profile (client_id, no wlcg.ver): scitokens-cpp 0.7.3 verifies every claim", () => {
            const u = userSession(pool, "atlasuser1", { "wlcg.ver": undefined, client_id: CLIENT_ID });
            const r = u.run(["condor_ping", "-type", "COLLECTOR", "-verbose", "READ"]);
            assert.notEqual(r.status, 0, output(r));
            assert.match(pool.daemonLog("central-manager", "CollectorLog"), /'client_id' claim verification is mandatory/);
        });
    });

    describe("central manager restart (last: it replaces the pod)", () => {
        /** atlasuser1's accumulated usage in the negotiator's accountant (condor_userprio), or undefined. */
        const usage = (): number | undefined => {
            const r = cm().exec(["condor_userprio", "-allusers", "-l"]);
            // Jobs are charged to their owner's accounting group (components/htcondor/fairshare.ts).
            const index = /^Name(\d+) = "group_atlasuser1\.atlasuser1@/m.exec(r.stdout)?.[1];
            const value = index ? new RegExp(`^AccumulatedUsage${index} = ([0-9.e+-]+)$`, "m").exec(r.stdout)?.[1] : undefined;
            return value === undefined ? undefined : Number(value);
        };

        it("keeps users' accumulated usage (their priorities) across a replacement of the central manager pod", async () => {
            const before = await pool.waitFor("atlasuser1's usage in the accountant", () => { const u = usage(); return u !== undefined && u > 0 ? u : undefined; }, 90_000);
            await pool.restart("central-manager");
            const after = await pool.waitFor("the new negotiator's accountant", () => {
                const r = cm().exec(["condor_userprio", "-allusers", "-l"]);
                return r.status === 0 ? { usage: usage() } : undefined;
            }, 60_000);
            assert.ok(after.usage !== undefined && after.usage >= before, `atlasuser1's accumulated usage was ${before}, after the restart ${after.usage}`);
        });
    });
});

/** Linux capability numbers (include/uapi/linux/capability.h) of the names securityContext uses. */
const CAPABILITY_NUMBERS: Record<string, number> = {
    CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8,
    NET_BIND_SERVICE: 10, NET_RAW: 13, SYS_CHROOT: 18, SYS_ADMIN: 21, MKNOD: 27, AUDIT_WRITE: 29, SETFCAP: 31,
};
