/**
 * The cluster's OpenStack integration (components/kubernetes/cloud-provider.ts): the cloud
 * controller and Cinder CSI releases, their own application credential, the cloud.conf Secret, and
 * kubelets that wait for the cloud controller; off when the stack file does not turn it on.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import YAML from "yaml";
import { cloudConfigOf, instances } from "../offline/artifacts";
import { ProgramRun, runProgram } from "./harness/program";
import { offlineId } from "../offline/placeholders";
import { CLOUD_CONFIG_SECRET, DEFAULT_STORAGE_CLASS, renderCloudConf } from "../components/kubernetes/cloud-provider";
import { kubernetesMinor } from "../components/kubernetes/versions";
import { configProblems, GOOD_CONFIG } from "./harness/config";

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const RELEASE = "kubernetes:helm.sh/v3:Release";

/** cloud.conf read by Python's configparser: a parser that is not ours. */
function configParser(text: string): Record<string, Record<string, string>> {
    const r = spawnSync("python3", ["-c", "import configparser, json, sys\nc = configparser.ConfigParser(interpolation=None)\nc.read_string(sys.stdin.read())\n" +
        "print(json.dumps({s: dict(c[s]) for s in c.sections()}))"], { input: text, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

function kubeletArgs(run: ProgramRun, vmName: string): Map<string, string> {
    const file = (cloudConfigOf(run, vmName).write_files ?? []).find((f) => f.path === "/etc/kubernetes/incant/kubeadm.yaml");
    assert.ok(file, vmName);
    const docs = YAML.parseAllDocuments(file.content).map((d) => d.toJS() as Doc);
    const reg = (docs.find((d) => d.kind === "InitConfiguration") ?? docs.find((d) => d.kind === "JoinConfiguration"))!.nodeRegistration;
    return new Map(reg.kubeletExtraArgs.map((a: { name: string; value: string }) => [a.name, a.value]));
}

describe("OpenStack cloud provider in the cluster (dev: on)", () => {
    let run: ProgramRun;
    before(async () => { run = await runProgram("dev"); });

    it("the cluster has an application credential of its own, restricted, its secret kept secret", () => {
        const cred = run.get("openstack:identity/applicationCredential:ApplicationCredential", "kubernetes-cloud-provider-credential");
        assert.equal((cred.inputs as Doc).unrestricted, false, "it must not be able to make more credentials");
        assert.match(String((cred.inputs as Doc).name), /^incant-dev-/);
        const secret = run.get("kubernetes:core/v1:Secret", "kubernetes-cloud-provider-cloud-config");
        assert.deepEqual((secret.inputs as Doc).metadata, { name: CLOUD_CONFIG_SECRET.name, namespace: CLOUD_CONFIG_SECRET.namespace });
        assert.ok(secret.secretPaths.some((p) => p.startsWith("stringData")), secret.secretPaths.join(","));
        const conf = configParser(String((secret.revealedInputs as Doc).stringData[CLOUD_CONFIG_SECRET.key]));
        assert.equal(conf.Global["auth-url"], "https://keystone.recas.ba.infn.it/v3");
        assert.equal(conf.Global["application-credential-id"], offlineId("applicationcredential", cred.name));
        assert.equal(conf.Global["application-credential-secret"], String(cred.state.secret));
        assert.equal(conf.Global.region, "RegionOne");
        assert.equal(conf.LoadBalancer.enabled, "false", "dev has no Octavia");
    });

    it("both charts come from cloud-provider-openstack at the cluster minor's version, read that Secret, and Cinder's retain class is the default", () => {
        const want = kubernetesMinor("1.35")!.cloudProviderCharts;
        const ccm = run.get(RELEASE, "kubernetes-cloud-provider-ccm").inputs as Doc;
        const csi = run.get(RELEASE, "kubernetes-cloud-provider-cinder-csi").inputs as Doc;
        for (const [r, chart] of [[ccm, "openstack-cloud-controller-manager"], [csi, "openstack-cinder-csi"]] as const) {
            assert.equal(r.chart, chart);
            assert.equal(r.version, want);
            assert.equal(r.repositoryOpts.repo, "https://kubernetes.github.io/cloud-provider-openstack");
            assert.equal(r.namespace, "kube-system");
            assert.deepEqual({ enabled: r.values.secret.enabled, create: r.values.secret.create, name: r.values.secret.name },
                { enabled: true, create: false, name: CLOUD_CONFIG_SECRET.name });
        }
        assert.equal(csi.values.secret.filename, CLOUD_CONFIG_SECRET.key);
        assert.ok(!ccm.values.enabledControllers.includes("route"), "pod routes are Calico's VXLAN");
        assert.ok(!ccm.values.enabledControllers.includes("service"), "no Octavia in dev");
        assert.ok(ccm.values.enabledControllers.includes("cloud-node-lifecycle"), "Nodes of deleted VMs go");
        assert.equal(DEFAULT_STORAGE_CLASS, "csi-cinder-sc-retain");
        assert.deepEqual([csi.values.storageClass.retain.isDefault, csi.values.storageClass.delete.isDefault], [true, false]);
    });

    it("every kubelet waits for the cloud controller (--cloud-provider=external) and keeps its node address", () => {
        const nodes = instances(run).map((vm) => String(vm.revealedInputs.name)).filter((n) => /control-plane|worker/.test(n));
        assert.equal(nodes.length, 8);
        for (const name of nodes) {
            const args = kubeletArgs(run, name);
            assert.equal(args.get("cloud-provider"), "external", name);
            assert.ok(args.get("node-ip"), name);
        }
    });
});

describe("OpenStack cloud provider: off, Octavia, validation", () => {
    it("off: no credential, no release, kubelets without --cloud-provider", async () => {
        const run = await runProgram("dev", { openstack: { cloudProvider: false } });
        assert.equal(run.ofType("openstack:identity/applicationCredential:ApplicationCredential").length, 0);
        assert.ok(!run.ofType(RELEASE).some((r) => /cloud-provider/.test(r.name)));
        assert.equal(kubeletArgs(run, "incant-dev-worker-0").get("cloud-provider"), undefined);
    });

    it("with Octavia, LoadBalancer Services get the external network and the cluster subnet", async () => {
        const run = await runProgram("dev", { openstack: { authUrl: "https://keystone.recas.ba.infn.it/v3", cloudProvider: true, octavia: true } });
        const secret = run.get("kubernetes:core/v1:Secret", "kubernetes-cloud-provider-cloud-config");
        const conf = configParser(String((secret.revealedInputs as Doc).stringData[CLOUD_CONFIG_SECRET.key]));
        assert.equal(conf.LoadBalancer.enabled, "true");
        assert.ok(conf.LoadBalancer["floating-network-id"]);
        assert.equal(conf.LoadBalancer["subnet-id"], offlineId("subnet", "incant-dev-subnet"));
        assert.ok((run.get(RELEASE, "kubernetes-cloud-provider-ccm").inputs as Doc).values.enabledControllers.includes("service"));
    });

    it("refuses a cloud provider without authUrl, Octavia without it, and a minor with no chart listed", () => {
        const problems = (raw: Doc): string[] => configProblems({ ...GOOD_CONFIG, ...raw });
        assert.ok(problems({ openstack: { cloudProvider: true } }).some((p) => p.startsWith("incant:openstack.authUrl is required with openstack.cloudProvider")));
        assert.ok(problems({ openstack: { octavia: true } }).some((p) => p.startsWith("incant:openstack.octavia needs openstack.cloudProvider")));
        assert.ok(problems({ openstack: { cloudProvider: true, authUrl: "https://keystone.example/v3" }, versions: { kubernetes: "1.34", kubernetesPatch: "1.34.6" } })
            .some((p) => p.startsWith("incant:openstack.cloudProvider has no cloud-provider-openstack chart listed for Kubernetes 1.34")));
        assert.deepEqual(problems({ openstack: { cloudProvider: true, authUrl: "https://keystone.example/v3" } }), []);
    });

    it("renders cloud.conf that Python's configparser reads back key for key", () => {
        const text = renderCloudConf({ authUrl: "https://k/v3", region: "R", applicationCredentialId: "id", applicationCredentialSecret: "Ab-_9",
            loadBalancer: { floatingNetworkId: "f", subnetId: "n" } });
        assert.deepEqual(configParser(text), {
            Global: { "auth-url": "https://k/v3", "application-credential-id": "id", "application-credential-secret": "Ab-_9", region: "R" },
            LoadBalancer: { enabled: "true", "floating-network-id": "f", "subnet-id": "n" },
            BlockStorage: { "ignore-volume-az": "true" },
        });
        // A value gcfg would cut at ; or # goes in quotes, with its quotes and backslashes escaped.
        const odd = renderCloudConf({ authUrl: "https://k/v3", region: "R", applicationCredentialId: "id", applicationCredentialSecret: 's;e#c"r\\t' });
        assert.match(odd, /^application-credential-secret="s;e#c\\"r\\\\t"$/m);
    });
});
