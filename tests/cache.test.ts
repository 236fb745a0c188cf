/**
 * The facility's squid (components/cache, issue 17): squid.conf as data and its refusals; the
 * program's squid objects validated with kubernetes-models; every CVMFS client and the jobs'
 * FRONTIER_SERVER pointed at it (DIRECT only when configured); the rendered squid.conf parsed by
 * Debian's squid (`squid -k parse`), then run by it on 127.0.0.1 in a private network namespace
 * with only its paths and client network overlaid: a second fetch is a cache hit, a client outside
 * the facility's networks and a port CVMFS/Frontier do not use are refused.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { cvmfsHttpProxy, frontierServer, renderSquidConf, squidClusterIp, squidConf, SQUID_NODE_PORT } from "../components/cache/squid";
import { CACHE_NAMESPACE, SQUID_PATHS } from "../components/cache/manifests";
import { queriedMetrics } from "../components/observability/metrics";
import { htcondorConfigs } from "../offline/artifacts";
import { validateK8sObject } from "./harness/k8s";
import { ProgramRun, runProgram } from "./harness/program";
import { requireCondition, requireTool } from "./harness/tools";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
const EXPORTER = path.join(__dirname, "..", "components", "observability", "condor-exporter.py");

describe("site squid (#17)", () => {
    describe("squid.conf as data", () => {
        const base = { clientCidrs: ["192.168.100.0/24"], diskCacheMb: 100, memoryCacheMb: 16, cacheDir: "/c", pidFile: "/p", cacheLog: "/l", port: 3128 };

        it("refuses arguments squid would read as more than one token, or as a comment", () => {
            for (const bad of ["a b", "x\nhttp_access allow all", "#x", "\"q\"", ""]) {
                assert.throws(() => renderSquidConf([{ directive: "visible_hostname", args: [bad] }]), /invalid argument/, JSON.stringify(bad));
            }
            assert.throws(() => renderSquidConf([{ directive: "http_access allow all\nx", args: [] }]), /invalid squid directive/);
        });

        it("refuses a client list that is empty or not CIDRs (an open proxy is one typo away)", () => {
            assert.throws(() => squidConf({ ...base, clientCidrs: [] }), /at least one client network/);
            assert.throws(() => squidConf({ ...base, clientCidrs: ["all"] }), /not an IPv4 CIDR/);
            assert.throws(() => squidConf({ ...base, clientCidrs: ["0.0.0.0/0 all"] }), /not an IPv4 CIDR/);
        });

        it("denies everything it does not allow, last", () => {
            const access = renderSquidConf(squidConf(base)).split("\n").filter((l) => l.startsWith("http_access"));
            assert.equal(access.at(-1), "http_access deny all");
            assert.deepEqual(access.filter((l) => l.startsWith("http_access allow")), ["http_access allow localhost manager", "http_access allow facility"]);
        });
    });

    describe("who uses it", () => {
        const cache = { enabled: true, directFallback: false };
        it("in the cluster at its fixed Service address, from the submit host at its NodePort; DIRECT only as configured", () => {
            assert.equal(squidClusterIp("10.96.0.0/12"), "10.96.0.20");
            const cluster = { in: "cluster" as const, serviceCidr: "10.96.0.0/12" };
            assert.equal(cvmfsHttpProxy({ cvmfs: {}, cache }, cluster), "http://10.96.0.20:3128");
            assert.equal(cvmfsHttpProxy({ cvmfs: {}, cache }, { in: "submit", nodeAddress: "192.168.100.10" }), `http://192.168.100.10:${SQUID_NODE_PORT}`);
            assert.equal(cvmfsHttpProxy({ cvmfs: {}, cache: { ...cache, directFallback: true } }, cluster), "http://10.96.0.20:3128;DIRECT");
            assert.equal(cvmfsHttpProxy({ cvmfs: { httpProxy: "DIRECT" }, cache }, cluster), "DIRECT");
            assert.throws(() => cvmfsHttpProxy({ cvmfs: {}, cache: { ...cache, enabled: false } }, cluster), /required when incant:cache.enabled is false/);
        });

        it("FRONTIER_SERVER: ATLAS's launchpads, then the squid as proxy", () => {
            assert.match(frontierServer("http://10.96.0.20:3128"), /^(\(serverurl=http:\/\/atlasfrontier[0-9]?-ai\.cern\.ch:8000\/atlr\))+\(proxyurl=http:\/\/10\.96\.0\.20:3128\)$/);
        });
    });

    describe("the dev stack (real program)", () => {
        let run: ProgramRun;
        let conf: string;
        before(async function () {
            this.timeout(120_000);
            run = await runProgram("dev");
            const cm = run.ofType("kubernetes:core/v1:ConfigMap").find((r) => (r.revealedInputs.metadata as Doc).namespace === CACHE_NAMESPACE)!;
            conf = (cm.revealedInputs.data as Record<string, string>)["squid.conf"];
        });

        it("creates the squid's namespace, ConfigMap, Deployment and Service, each valid for the API", () => {
            const objects = run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.custom && r.parent?.includes("incant:cache:SiteCache")
                && (r.revealedInputs.metadata as Doc)?.namespace === CACHE_NAMESPACE);
            assert.deepEqual(objects.map((r) => r.type).sort(), ["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Service"]);
            // dev has the Cinder CSI driver: the cache is a volume of its class, which outlives the pod, and waits for the driver.
            const claim = objects.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim")!;
            assert.equal((claim.revealedInputs as Doc).spec.storageClassName, "csi-cinder-sc-retain");
            assert.ok(claim.dependencies.includes(run.get("kubernetes:helm.sh/v3:Release", "kubernetes-cloud-provider-cinder-csi").urn));
            const volumes = (objects.find((r) => r.type === "kubernetes:apps/v1:Deployment")!.revealedInputs as Doc).spec.template.spec.volumes;
            assert.deepEqual(volumes.find((v: Doc) => v.name === "cache"), { name: "cache", persistentVolumeClaim: { claimName: (claim.revealedInputs as Doc).metadata.name } });
            for (const r of [...objects, run.ofType("kubernetes:core/v1:Namespace").find((n) => (n.revealedInputs.metadata as Doc).name === CACHE_NAMESPACE)!]) validateK8sObject(r);
            const svc = objects.find((r) => r.type === "kubernetes:core/v1:Service")!.revealedInputs as Doc;
            assert.equal(svc.spec.clusterIP, "10.96.0.20");
            assert.equal(svc.spec.ports[0].nodePort, SQUID_NODE_PORT);
            const pod = (objects.find((r) => r.type === "kubernetes:apps/v1:Deployment")!.revealedInputs as Doc).spec.template.spec;
            assert.equal(pod.containers[0].securityContext.allowPrivilegeEscalation, false);
            assert.deepEqual(pod.containers[0].securityContext.capabilities.drop, ["ALL"]);
        });

        it("lets only the facility's VM and pod networks in", () => {
            assert.match(conf, /^acl facility src 192\.168\.100\.0\/24 10\.244\.0\.0\/16$/m);
        });

        it("points the nodes' CVMFS (CSI driver), the images and the submit host's CVMFS container at it; jobs get FRONTIER_SERVER", () => {
            const values = (run.ofType("kubernetes:helm.sh/v3:Release").find((r) => (r.revealedInputs as Doc).chart.includes("cvmfs-csi"))!.revealedInputs as Doc).values;
            assert.match(values.extraConfigMaps["cvmfs-csi-default-local"]["default.local"], /^CVMFS_HTTP_PROXY=http:\/\/10\.96\.0\.20:3128$/m);
            const env = run.get("docker:index/container:Container", "submit-cvmfs").inputs.envs as string[];
            assert.ok(env.includes(`CVMFS_HTTP_PROXY=http://192.168.100.10:${SQUID_NODE_PORT}`), env.join(" "));
            const worker = htcondorConfigs(run)["htcondor/worker.conf"];
            assert.match(worker, /^STARTER_JOB_ENVIRONMENT = ".* FRONTIER_SERVER='\(serverurl=[^']+\)\(proxyurl=http:\/\/10\.96\.0\.20:3128\)'"$/m);
        });

        it("squid -k parse accepts the rendered squid.conf (Debian's squid)", function () {
            requireTool(this, "squid");
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-squid-"));
            try {
                fs.writeFileSync(path.join(dir, "squid.conf"), conf);
                const r = spawnSync("squid", ["-k", "parse", "-f", path.join(dir, "squid.conf")], { encoding: "utf8", timeout: 30_000 });
                assert.equal(r.status, 0, r.stderr);
                assert.doesNotMatch(r.stderr, /FATAL|ERROR|WARNING/, r.stderr);
                // The control: squid does refuse what it cannot read.
                fs.writeFileSync(path.join(dir, "bad.conf"), `${conf}cache_dir ufs\n`);
                const bad = spawnSync("squid", ["-k", "parse", "-f", path.join(dir, "bad.conf")], { encoding: "utf8", timeout: 30_000 });
                assert.notEqual(bad.status, 0, bad.stderr);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("serves a second fetch from its cache and refuses clients outside its networks, run by Debian's squid on 127.0.0.1", function () {
            this.timeout(90_000);
            requireTool(this, "squid");
            for (const tool of ["unshare", "curl", "python3", "ip"]) requireTool(this, tool);
            requireCondition(this, process.getuid?.() === 0, "the squid run needs root (a network namespace; squid switches to its user)");
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "incant-squid-run-"));
            fs.chmodSync(dir, 0o755);
            try {
                // Only the paths and the client network change; every other line is the rendered one.
                const overlaid = overlay(conf, {
                    [`cache_dir ufs ${SQUID_PATHS.cacheDir} `]: `cache_dir ufs ${dir}/cache `,
                    [`cache_log ${SQUID_PATHS.cacheLog}`]: `cache_log ${dir}/cache/cache.log`,
                    [`pid_filename ${SQUID_PATHS.pidFile}`]: `pid_filename ${dir}/cache/squid.pid`,
                    [`coredump_dir ${SQUID_PATHS.cacheDir}`]: `coredump_dir ${dir}/cache`,
                    "acl facility src 192.168.100.0/24 10.244.0.0/16": "acl facility src 127.0.0.2/32",
                });
                fs.writeFileSync(path.join(dir, "squid.conf"), overlaid);
                fs.mkdirSync(path.join(dir, "www"));
                fs.writeFileSync(path.join(dir, "www", "object"), Buffer.alloc(300_000, 7));
                // Two days old: squid's heuristic freshness (20 % of its age) makes it cacheable for hours.
                const old = new Date(Date.now() - 2 * 86_400_000);
                fs.utimesSync(path.join(dir, "www", "object"), old, old);
                fs.writeFileSync(path.join(dir, "run.sh"), SQUID_RUN);
                const r = spawnSync("timeout", ["60", "unshare", "--net", "bash", path.join(dir, "run.sh"), dir, EXPORTER], { encoding: "utf8", timeout: 70_000 });
                assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
                const results = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split("=") as [string, string]));
                assert.deepEqual(results, {
                    first: "200 MISS", second: "200 HIT", outsider: "403 ERR_ACCESS_DENIED", port22: "403 ERR_ACCESS_DENIED",
                }, `${r.stdout}${r.stderr}`);
                // The exporter's squid metrics: every squid_* metric the dashboards and alerts query, with the hit counted.
                const metrics = fs.readFileSync(path.join(dir, "metrics.txt"), "utf8");
                assert.match(metrics, /^squid_up 1$/m);
                assert.match(metrics, /^squid_client_http_hits_total [1-9]/m, metrics);
                const produced = new Set([...metrics.matchAll(/^(squid_[a-z_]+)[{ ]/gm)].map((m) => m[1]));
                assert.deepEqual(queriedMetrics().filter((n) => n.startsWith("squid_") && !produced.has(n)), [], metrics);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});

/** Replaces each key (a line prefix that must occur exactly once) with its value. */
function overlay(conf: string, replacements: Record<string, string>): string {
    let out = conf;
    for (const [from, to] of Object.entries(replacements)) {
        const lines = out.split("\n").filter((l) => l.startsWith(from));
        assert.equal(lines.length, 1, `the rendered squid.conf has ${lines.length} lines starting with ${JSON.stringify(from)}`);
        out = out.replace(lines[0], to + lines[0].slice(from.length));
    }
    return out;
}

/**
 * Run inside a private network namespace (its loopback only): an origin on 127.0.0.1:8000 (a port
 * CVMFS uses), squid on 127.0.0.1:3128; curl from 127.0.0.2 (inside the ACL) twice and from
 * 127.0.0.3 (outside), and to port 22; prints `<case>=<status> <X-Cache or error>`. Squid and the
 * origin are stopped before it returns.
 */
const SQUID_RUN = `#!/bin/bash
set -u
d=$1
ip link set lo up
chown -R proxy:proxy "$d/cache" 2>/dev/null || { mkdir -p "$d/cache"; chown proxy:proxy "$d/cache"; }
python3 -m http.server 8000 --bind 127.0.0.1 --directory "$d/www" >/dev/null 2>&1 &
web=$!
squid -z -N -f "$d/squid.conf" >/dev/null 2>&1
squid -N -f "$d/squid.conf" >/dev/null 2>&1 &
sq=$!
trap 'kill $sq $web 2>/dev/null; wait $sq 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:3128/ && curl -s -o /dev/null http://127.0.0.1:8000/ && break; sleep 0.2; done
fetch() {
    curl -s -D - -o /dev/null --interface "$2" -x http://127.0.0.1:3128 "$3" |
        awk -v k="$1" 'NR == 1 { s = $2 } tolower($1) == "x-cache:" { c = $2 } tolower($1) == "x-squid-error:" { e = $2 } END { print k "=" s " " (e != "" ? e : c) }'
}
fetch first 127.0.0.2 http://127.0.0.1:8000/object
fetch second 127.0.0.2 http://127.0.0.1:8000/object
fetch outsider 127.0.0.3 http://127.0.0.1:8000/object
fetch port22 127.0.0.2 http://127.0.0.1:22/
# The metrics sidecar's view: squid's cache manager counters, from localhost (allowed: manager from localhost only).
python3 "$2" --squid http://127.0.0.1:3128 --once > "$d/metrics.txt"
`;
