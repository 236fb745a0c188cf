/**
 * The CrossGuard pack (policy/), in the pulumi/compliance-policies style: for each policy a good
 * fixture gives no violation, then one mutated field gives exactly the expected message. Then
 * the pack on the offline run (what `npm run render` checks), and the pack served over gRPC the
 * way the Pulumi engine talks to it.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { PolicyResourceOptions, ResourceValidationPolicy } from "@pulumi/policy";
import {
    chartsPinned, containerResources, dataVolumesProtected, imagesPinned, IncantValidationArgs, noPlaintextSecrets,
    noPrivilegedWorkloads, noWorldIngress, OfflineFacts, PACK_NAME, POLICIES, secretInputsAreSecret, storageVmProtected, controlPlanesProtected,
} from "../policy/policies";
import { imageTag, unpinnedReason } from "../policy/images";
import { checkPolicies, mandatoryViolations, policyVerdict, renderPolicyReport } from "../offline/policy";
import { OfflineRun, RecordedResource, UNKNOWN_MARKER } from "../offline/engine";
import { ROOT, runProgram } from "./harness/program";

// --- Hand-built CrossGuard args -------------------------------------------------------------

interface Extra {
    name?: string;
    config?: Record<string, unknown>;
    offline?: Partial<OfflineFacts>;
}

function args(type: string, props: Record<string, unknown>, opts: Partial<PolicyResourceOptions> = {}, extra: Extra = {}): IncantValidationArgs {
    const name = extra.name ?? "r";
    return {
        type, name, urn: `urn:pulumi:dev::incant::${type}::${name}`, props,
        opts: { protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, ...opts },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => (extra.config ?? {}) as T,
        notApplicable: (reason?: string): never => { throw new NotApplicable(reason ?? ""); },
        offline: extra.offline && { secretPaths: [], retainOnDelete: false, sensitive: [], ...extra.offline },
    };
}

class NotApplicable extends Error {}

/** The messages a policy reports for one resource; "not applicable: <reason>" when it says so. */
async function violations(policy: ResourceValidationPolicy, a: IncantValidationArgs): Promise<string[]> {
    const out: string[] = [];
    const validations = [policy.validateResource!].flat();
    try {
        for (const v of validations) await v(a, (m) => out.push(m));
    } catch (e) {
        if (e instanceof NotApplicable) return [`not applicable: ${e.message}`];
        throw e;
    }
    return out;
}

/** A deep copy with one change, so every case starts from the good fixture. */
function mutate<T>(good: T, change: (copy: T) => void): T {
    const copy = structuredClone(good);
    change(copy);
    return copy;
}

// --- Fixtures -------------------------------------------------------------------------------

const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const goodRule = {
    description: "SSH from operators (bastion: the control plane)", direction: "ingress", ethertype: "IPv4",
    protocol: "tcp", portRangeMin: 22, portRangeMax: 22, remoteIpPrefix: "192.135.24.0/24", securityGroupId: "sg",
};

const VOLUME = "openstack:blockstorage/volume:Volume";
const INSTANCE = "openstack:compute/instance:Instance";
const storageVm = {
    name: "incant-dev-storage", metadata: { role: "storage" },
    blockDevices: [{ sourceType: "image", destinationType: "volume", bootIndex: 0, deleteOnTermination: true }],
};

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const goodDeployment = {
    metadata: { name: "cm", namespace: "htcondor" },
    spec: {
        template: {
            spec: {
                containers: [{
                    name: "cm",
                    image: "htcondor/cm:24.0.22-el9",
                    env: [{ name: "CONDOR_HOST", value: "condor" }, { name: "POOL_PASSWORD", valueFrom: { secretKeyRef: { name: "pool", key: "password" } } }],
                    resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } },
                    securityContext: { privileged: false, capabilities: { drop: ["ALL"] } },
                }],
            },
        },
    },
};
type DeploymentFixture = typeof goodDeployment & { spec: { template: { spec: Record<string, unknown> } } };
const firstContainer = (d: typeof goodDeployment) => d.spec.template.spec.containers[0] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CONTAINER = "docker:index/container:Container";
const goodContainer = {
    name: "submit", image: "harbor.cloud.infn.it/incant/atlas-submit:24.0.22-1",
    envs: ["CONDOR_HOST=192.168.100.32:30618", "SEC_TOKEN_DIRECTORY=/etc/condor/tokens.d"],
    capabilities: { adds: ["SYS_ADMIN"] }, networkMode: "host",
};

// --- Policies -------------------------------------------------------------------------------

describe("policy pack: no-world-ingress", () => {
    it("passes a rule from a named network, and egress to 0.0.0.0/0", async () => {
        assert.deepEqual(await violations(noWorldIngress, args(RULE, goodRule)), []);
        assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, direction: "egress", remoteIpPrefix: "0.0.0.0/0" })), []);
        assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: undefined, remoteGroupId: "sg-workers" })), []);
    });

    it("fails ingress from 0.0.0.0/0 or ::/0", async () => {
        assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: "0.0.0.0/0" })),
            ['ingress rule "SSH from operators (bastion: the control plane)" is open to 0.0.0.0/0 (4,294,967,296 addresses, over the 16,777,216 one rule may admit): name the networks (incant:network.adminCidrs or userCidrs) or list the rule in allowedRules']);
        assert.equal((await violations(noWorldIngress, args(RULE, { ...goodRule, ethertype: "IPv6", remoteIpPrefix: "::/0" }))).length, 1);
    });

    it("measures openness by address count, not by the string /0 (#13)", async () => {
        for (const half of ["0.0.0.0/1", "128.0.0.0/1", "64.0.0.0/2", "10.0.0.0/7"]) {
            const found = await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: half }));
            assert.equal(found.length, 1, half);
            assert.match(found[0], new RegExp(`is open to ${half.replace(/\./g, "\\.")} \\([\\d,]+ addresses, over the 16,777,216`));
        }
        for (const named of ["10.0.0.0/8", "188.184.0.0/15", "192.0.2.7/32"]) {
            assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: named })), [], named);
        }
        assert.equal((await violations(noWorldIngress, args(RULE, { ...goodRule, ethertype: "IPv6", remoteIpPrefix: "2000::/3" }))).length, 1);
        assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, ethertype: "IPv6", remoteIpPrefix: "2001:db8:1::/48" })), []);
        assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: "any" })),
            ['ingress rule "SSH from operators (bastion: the control plane)" has remoteIpPrefix "any", which is not a CIDR']);
        assert.equal((await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: "10.0.0.0/8" }, {}, { config: { maxAddresses: 2 ** 17 } }))).length, 1);
    });

    it("fails ingress with no remote at all (Neutron: any source)", async () => {
        assert.deepEqual(await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: undefined })),
            ['ingress rule "SSH from operators (bastion: the control plane)" has neither remoteIpPrefix nor remoteGroupId, which Neutron reads as any source']);
    });

    it("passes a world-open rule listed in allowedRules", async () => {
        const open = { ...goodRule, remoteIpPrefix: "0.0.0.0/0" };
        assert.deepEqual(await violations(noWorldIngress, args(RULE, open, {}, { name: "public-ssh", config: { allowedRules: ["public-ssh"] } })), []);
    });

    it("fails a security group that keeps Neutron's default rules", async () => {
        const group = { name: "incant-dev-worker", deleteDefaultRules: true };
        assert.deepEqual(await violations(noWorldIngress, args("openstack:networking/secGroup:SecGroup", group)), []);
        assert.deepEqual(await violations(noWorldIngress, args("openstack:networking/secGroup:SecGroup", { ...group, deleteDefaultRules: false })),
            ['security group "incant-dev-worker" keeps Neutron\'s default rules: set deleteDefaultRules: true and write every rule explicitly']);
    });
});

describe("policy pack: data-volumes-protected and storage-vm-protected", () => {
    const volume = { name: "incant-dev-storage-data", size: 100 };

    it("passes a protected volume that is retained on delete", async () => {
        assert.deepEqual(await violations(dataVolumesProtected, args(VOLUME, volume, { protect: true }, { offline: { retainOnDelete: true } })), []);
        assert.deepEqual(await violations(dataVolumesProtected, args(INSTANCE, storageVm)), []);
    });

    it("fails an unprotected volume", async () => {
        assert.deepEqual(await violations(dataVolumesProtected, args(VOLUME, volume, { protect: false }, { offline: { retainOnDelete: true } })),
            ['data volume "incant-dev-storage-data" is not protected: set protect: true']);
    });

    it("fails a volume without retainOnDelete offline, and cannot see it under the engine", async () => {
        assert.deepEqual(await violations(dataVolumesProtected, args(VOLUME, volume, { protect: true }, { offline: { retainOnDelete: false } })),
            ['data volume "incant-dev-storage-data" is not retainOnDelete: set retainOnDelete: true']);
        assert.deepEqual(await violations(dataVolumesProtected, args(VOLUME, volume, { protect: true })), []);
    });

    it("fails a storage VM that deletes a data disk with itself", async () => {
        const vm = mutate(storageVm, (v) => v.blockDevices.push({ sourceType: "blank", destinationType: "volume", bootIndex: 1, deleteOnTermination: true }));
        assert.deepEqual(await violations(dataVolumesProtected, args(INSTANCE, vm)),
            ['storage VM "incant-dev-storage" deletes block device 1 with the server: keep data on a separate protected volume']);
    });

    it("advises protecting the storage VM, and ignores other VMs", async () => {
        assert.equal(storageVmProtected.enforcementLevel, undefined, "mandatory (the pack's default)");
        assert.deepEqual(await violations(storageVmProtected, args(INSTANCE, storageVm, { protect: true })), []);
        assert.deepEqual(await violations(storageVmProtected, args(INSTANCE, { ...storageVm, metadata: { role: "worker" } })), []);
        assert.deepEqual(await violations(storageVmProtected, args(INSTANCE, storageVm)),
            ['storage VM "incant-dev-storage" is not protected: a replacement interrupts every NFS client; protect it and unprotect deliberately to replace it']);
    });
});

describe("policy pack: control-planes-protected", () => {
    const cp = { ...storageVm, name: "incant-dev-control-plane-0", metadata: { role: "control-plane" } };
    it("wants every control plane protected, and leaves workers alone", async () => {
        assert.deepEqual(await violations(controlPlanesProtected, args(INSTANCE, cp, { protect: true })), []);
        assert.deepEqual(await violations(controlPlanesProtected, args(INSTANCE, { ...cp, metadata: { role: "worker" } })), []);
        assert.deepEqual(await violations(controlPlanesProtected, args(INSTANCE, cp)),
            ['control plane "incant-dev-control-plane-0" is not protected: a replacement re-bootstraps its etcd member; protect it and unprotect deliberately to replace it']);
    });
});

describe("policy pack: no-privileged-workloads", () => {
    it("passes an unprivileged pod, and the submit host's CVMFS-style container", async () => {
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(DEPLOYMENT, goodDeployment)), []);
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(CONTAINER, goodContainer)), []);
    });

    for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
        it(`fails ${field}`, async () => {
            const d = mutate(goodDeployment as DeploymentFixture, (x) => { x.spec.template.spec[field] = true; });
            assert.deepEqual(await violations(noPrivilegedWorkloads, args(DEPLOYMENT, d)), [`Deployment htcondor/cm sets ${field}`]);
        });
    }

    it("fails a privileged container and one adding SYS_ADMIN", async () => {
        const privileged = mutate(goodDeployment, (x) => { firstContainer(x).securityContext.privileged = true; });
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(DEPLOYMENT, privileged)), ['Deployment htcondor/cm: container "cm" is privileged']);
        const sysAdmin = mutate(goodDeployment, (x) => { firstContainer(x).securityContext.capabilities.add = ["SYS_ADMIN"]; });
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(DEPLOYMENT, sysAdmin)), ['Deployment htcondor/cm: container "cm" adds capability SYS_ADMIN']);
    });

    it("checks init containers and every workload kind (DaemonSet, CronJob, Pod)", async () => {
        const init = mutate(goodDeployment as DeploymentFixture, (x) => {
            x.spec.template.spec.initContainers = [{ name: "init", image: "busybox:1.36", securityContext: { privileged: true } }];
        });
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(DEPLOYMENT, init)), ['Deployment htcondor/cm: container "init" is privileged']);
        const podSpec = { hostPID: true, containers: [] };
        assert.deepEqual(await violations(noPrivilegedWorkloads, args("kubernetes:apps/v1:DaemonSet", { metadata: { name: "d", namespace: "x" }, spec: { template: { spec: podSpec } } })), ["DaemonSet x/d sets hostPID"]);
        assert.deepEqual(await violations(noPrivilegedWorkloads, args("kubernetes:batch/v1:CronJob", { metadata: { name: "c" }, spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } })), ["CronJob default/c sets hostPID"]);
        assert.deepEqual(await violations(noPrivilegedWorkloads, args("kubernetes:core/v1:Pod", { metadata: { name: "p", namespace: "x" }, spec: podSpec })), ["Pod x/p sets hostPID"]);
    });

    it("allows the cvmfs-csi namespace by default, and namespaces from the policy config", async () => {
        const csi = mutate(goodDeployment as DeploymentFixture, (x) => { x.metadata.namespace = "cvmfs-csi"; x.spec.template.spec.hostNetwork = true; });
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(DEPLOYMENT, csi)), []);
        assert.equal((await violations(noPrivilegedWorkloads, args(DEPLOYMENT, csi, {}, { config: { namespaces: ["other"] } }))).length, 1);
    });

    it("fails a privileged Docker container or one sharing the host PID/IPC namespaces", async () => {
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(CONTAINER, { ...goodContainer, privileged: true })), ['container "submit" is privileged']);
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(CONTAINER, { ...goodContainer, pidMode: "host" })), ['container "submit" shares the host PID namespace (pidMode host)']);
        assert.deepEqual(await violations(noPrivilegedWorkloads, args(CONTAINER, { ...goodContainer, ipcMode: "host" })), ['container "submit" shares the host IPC namespace (ipcMode host)']);
    });
});

describe("policy pack: container-resources", () => {
    it("passes a container with requests and limits", async () => {
        assert.deepEqual(await violations(containerResources, args(DEPLOYMENT, goodDeployment)), []);
    });

    it("names exactly what is missing", async () => {
        const noCpuLimit = mutate(goodDeployment, (x) => { delete firstContainer(x).resources.limits.cpu; });
        assert.deepEqual(await violations(containerResources, args(DEPLOYMENT, noCpuLimit)), ['Deployment htcondor/cm: container "cm" has no resources limits.cpu']);
        const none = mutate(goodDeployment, (x) => { delete firstContainer(x).resources; });
        assert.deepEqual(await violations(containerResources, args(DEPLOYMENT, none)),
            ['Deployment htcondor/cm: container "cm" has no resources requests.cpu, requests.memory, limits.cpu, limits.memory']);
    });
});

describe("policy pack: images-pinned and charts-pinned", () => {
    it("parses references: tags, registry ports, digests, image IDs", () => {
        assert.equal(imageTag("htcondor/cm:24.0.22-el9"), "24.0.22-el9");
        assert.equal(imageTag("harbor.example:5000/incant/worker"), undefined);
        assert.equal(imageTag("harbor.example:5000/incant/worker:1.0"), "1.0");
        assert.equal(unpinnedReason(`busybox@sha256:${"a".repeat(64)}`), undefined);
        assert.equal(unpinnedReason(`sha256:${"b".repeat(64)}`), undefined);
        assert.equal(unpinnedReason(`busybox:latest@sha256:${"a".repeat(64)}`), undefined, "a digest pins even a latest tag");
    });

    it("passes pinned images everywhere", async () => {
        assert.deepEqual(await violations(imagesPinned, args(DEPLOYMENT, goodDeployment)), []);
        assert.deepEqual(await violations(imagesPinned, args(CONTAINER, goodContainer)), []);
        assert.deepEqual(await violations(imagesPinned, args("docker:index/remoteImage:RemoteImage", { name: "registry.cern.ch/cvmfs/service:2.12.6-1" })), []);
    });

    it("fails latest and tagless images on workloads, containers, remote and built images", async () => {
        const latest = mutate(goodDeployment, (x) => { firstContainer(x).image = "htcondor/cm:latest"; });
        assert.deepEqual(await violations(imagesPinned, args(DEPLOYMENT, latest)), ['Deployment htcondor/cm: container "cm" image "htcondor/cm:latest" uses the floating tag latest']);
        assert.deepEqual(await violations(imagesPinned, args(CONTAINER, { ...goodContainer, image: "harbor.cloud.infn.it/incant/atlas-submit" })),
            ['container "submit" image "harbor.cloud.infn.it/incant/atlas-submit" has no tag (it means latest)']);
        assert.deepEqual(await violations(imagesPinned, args("docker:index/remoteImage:RemoteImage", { name: "registry.cern.ch/cvmfs/service" })),
            ['remote image "registry.cern.ch/cvmfs/service" has no tag (it means latest)']);
        assert.deepEqual(await violations(imagesPinned, args("docker:index/image:Image", { imageName: "harbor.cloud.infn.it/incant/atlas-worker:latest" })),
            ['built image "harbor.cloud.infn.it/incant/atlas-worker:latest" uses the floating tag latest']);
    });

    it("requires an exact Helm chart version", async () => {
        const release = { name: "monitoring", chart: "kube-prometheus-stack", version: "66.3.1" };
        assert.deepEqual(await violations(chartsPinned, args("kubernetes:helm.sh/v3:Release", release)), []);
        assert.deepEqual(await violations(chartsPinned, args("kubernetes:helm.sh/v3:Release", { ...release, version: "^66.0.0" })),
            ['Helm release "monitoring" of chart "kube-prometheus-stack" has no exact version (got "^66.0.0")']);
        assert.deepEqual(await violations(chartsPinned, args("kubernetes:helm.sh/v3:Release", { ...release, version: undefined })),
            ['Helm release "monitoring" of chart "kube-prometheus-stack" has no exact version (got null)']);
    });
});

describe("policy pack: no-plaintext-secrets", () => {
    const configMap = { metadata: { name: "condor-config", namespace: "htcondor" }, data: { "security.conf": "SEC_DEFAULT_ENCRYPTION = REQUIRED\n" } };
    const CM = "kubernetes:core/v1:ConfigMap";

    it("passes ordinary config, env from secretKeyRef, and path-valued env names", async () => {
        assert.deepEqual(await violations(noPlaintextSecrets, args(CM, configMap)), []);
        assert.deepEqual(await violations(noPlaintextSecrets, args(DEPLOYMENT, goodDeployment)), []);
        assert.deepEqual(await violations(noPlaintextSecrets, args(CONTAINER, goodContainer)), []);
    });

    it("fails a private key or a token in a ConfigMap, and a credential-named key, without quoting the value", async () => {
        const pem = mutate(configMap, (c) => { (c.data as Record<string, string>)["tls.key"] = "-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----\n"; });
        assert.deepEqual(await violations(noPlaintextSecrets, args(CM, pem)), ['ConfigMap htcondor/condor-config key "tls.key" holds a private key or token: put it in a Secret']);
        const jwt = mutate(configMap, (c) => { (c.data as Record<string, string>)["startd"] = "eyJhbGciOiJIUzI1NiIsImtpZCI6IlBPT0wifQ.eyJpc3MiOiJpbmNhbnQifQ.c2lnbmF0dXJl"; });
        assert.deepEqual(await violations(noPlaintextSecrets, args(CM, jwt)), ['ConfigMap htcondor/condor-config key "startd" holds a private key or token: put it in a Secret']);
        const named = mutate(configMap, (c) => { (c.data as Record<string, string>)["pool-token"] = "x"; });
        assert.deepEqual(await violations(noPlaintextSecrets, args(CM, named)), ['ConfigMap htcondor/condor-config key "pool-token" is named like a credential: put it in a Secret']);
    });

    it("fails a credential as a literal env value in a pod or a Docker container", async () => {
        const literal = mutate(goodDeployment, (x) => { firstContainer(x).env[1] = { name: "POOL_PASSWORD", value: "hunter2" }; });
        const messages = await violations(noPlaintextSecrets, args(DEPLOYMENT, literal));
        assert.deepEqual(messages, ['Deployment htcondor/cm: container "cm" env POOL_PASSWORD is a literal value: use valueFrom.secretKeyRef']);
        assert.ok(!messages.join().includes("hunter2"));
        assert.deepEqual(await violations(noPlaintextSecrets, args(CONTAINER, { ...goodContainer, envs: [...goodContainer.envs, "AWS_SECRET_ACCESS_KEY=abc"] })),
            ['container "submit" env AWS_SECRET_ACCESS_KEY is a literal value: mount it as a file readable only by its user']);
    });
});

describe("policy pack: secret-inputs-are-secret", () => {
    const SECRET = "kubernetes:core/v1:Secret";
    const secret = { metadata: { name: "pool-signing-key", namespace: "htcondor" }, stringData: { POOL: "key-bytes-here" } };

    it("is not applicable under the engine, which unwraps secrets before policies run", async () => {
        const [m] = await violations(secretInputsAreSecret, args(SECRET, secret));
        assert.match(m, /^not applicable: CrossGuard unwraps secrets/);
    });

    it("passes a Secret whose data is a Pulumi secret", async () => {
        assert.deepEqual(await violations(secretInputsAreSecret, args(SECRET, secret, {}, { offline: { secretPaths: ["stringData"] } })), []);
        assert.deepEqual(await violations(secretInputsAreSecret, args(SECRET, secret, {}, { offline: { secretPaths: ["stringData.POOL"] } })), []);
    });

    it("fails a Secret whose data is in clear", async () => {
        assert.deepEqual(await violations(secretInputsAreSecret, args(SECRET, secret, {}, { offline: {} })),
            ["input stringData.POOL holds a Kubernetes Secret's data but is not a Pulumi secret: use pulumi.secret or config.requireSecret"]);
    });

    it("fails a provider credential in clear, and any value embedding a derived secret", async () => {
        const provider = { authUrl: "https://keystone.example/v3", applicationCredentialId: "id", applicationCredentialSecret: "s3cr3t-value" };
        assert.deepEqual(await violations(secretInputsAreSecret, args("pulumi:providers:openstack", provider, {}, { offline: { secretPaths: ["applicationCredentialSecret"] } })), []);
        assert.deepEqual(await violations(secretInputsAreSecret, args("pulumi:providers:openstack", provider, {}, { offline: {} })),
            ["input applicationCredentialSecret is named like a credential but is not a Pulumi secret: use pulumi.secret or config.requireSecret"]);
        const cm = { metadata: { name: "tokens" }, data: { startd: "prefix eyJ.minted.token suffix" } };
        assert.deepEqual(await violations(secretInputsAreSecret, args("kubernetes:core/v1:ConfigMap", cm, {}, { offline: { sensitive: ["eyJ.minted.token"] } })),
            ["input data.startd embeds a value derived from a secret but is not a Pulumi secret: use pulumi.secret or config.requireSecret"]);
    });
});

describe("policy pack: shape", () => {
    it("has unique names, a description each, and mandatory by default", () => {
        const names = POLICIES.map((p) => p.name);
        assert.equal(new Set(names).size, names.length);
        assert.ok(POLICIES.every((p) => p.description.length > 20 && p.validateResource));
        assert.deepEqual(POLICIES.filter((p) => p.enforcementLevel).map((p) => `${p.name}:${p.enforcementLevel}`), []);
    });
});

// --- The pack on the offline run ------------------------------------------------------------

describe("policy pack on the offline run (npm run render)", () => {
    let run: OfflineRun;
    before(async () => { run = await runProgram("dev"); });

    it("finds no mandatory violation in the dev stack", async () => {
        const report = await checkPolicies(run);
        assert.equal(report.checked, run.resources.filter((r) => r.custom).length);
        assert.deepEqual(mandatoryViolations(report).map((v) => `${v.name}: ${v.message}`), []);
        assert.match(renderPolicyReport(report), /resources checked against 10 policies/);
    });

    it("reports exactly the injected violation, with its resource, and skips unknown values", async () => {
        const rule = run.resources.find((r) => r.type === RULE && r.inputs.direction === "ingress")!;
        const open: RecordedResource = { ...rule, name: "open", urn: `${rule.urn}-open`, revealedInputs: { ...rule.revealedInputs, remoteIpPrefix: "0.0.0.0/0", remoteGroupId: undefined } };
        const unknown: RecordedResource = { ...rule, name: "later", urn: `${rule.urn}-later`, revealedInputs: { ...rule.revealedInputs, direction: UNKNOWN_MARKER } };
        const report = await checkPolicies({ ...run, resources: [...run.resources, open, unknown] });
        assert.deepEqual(mandatoryViolations(report).map((v) => [v.policy, v.name]), [["no-world-ingress", "open"]]);
        // Like CrossGuard in a preview: a policy that reads an unknown value does not run.
        assert.deepEqual(report.skipped.map((s) => [s.policy, s.urn]), [["no-world-ingress", unknown.urn], ["secret-inputs-are-secret", unknown.urn]]);
        assert.match(renderPolicyReport(report), /\| no-world-ingress \| mandatory \| `openstack:networking\/secGroupRule:SecGroupRule` open \| ingress rule ".*" is open to 0\.0\.0\.0\/0/);
        // What `npm run render` prints before exiting 1.
        const verdict = policyVerdict(report);
        assert.equal(verdict.fail, true);
        assert.match(verdict.lines[0], /^policy no-world-ingress: openstack:networking\/secGroupRule:SecGroupRule open: ingress rule ".*" is open to 0\.0\.0\.0\/0/);
        assert.equal(verdict.lines[1], "render failed: 1 mandatory policy violation(s), see policy.md");
        assert.deepEqual(policyVerdict(await checkPolicies(run)), { lines: [], fail: false }, "the real program passes");
    });

    it("sees secrecy and retainOnDelete, which the engine hides from CrossGuard", async () => {
        const provider = run.resources.find((r) => r.type === "pulumi:providers:openstack")!;
        const leaked: RecordedResource = { ...provider, urn: `${provider.urn}-leak`, revealedInputs: { ...provider.revealedInputs, password: "in-clear" }, secretPaths: [] };
        const report = await checkPolicies({ ...run, resources: [...run.resources, leaked] });
        assert.deepEqual(mandatoryViolations(report).map((v) => v.message),
            ["input password is named like a credential but is not a Pulumi secret: use pulumi.secret or config.requireSecret"]);
    });
});

// --- The pack as the engine runs it ---------------------------------------------------------

/** Modules the pack server itself uses, resolved from @pulumi/pulumi so the copies match. */
function fromPulumi<T>(id: string): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(require.resolve(id, { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] })) as T;
}

describe("policy pack served over gRPC (pulumi preview --policy-pack policy)", () => {
    let pack: ChildProcess;
    let port: string;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let client: any;
    const analyzer = fromPulumi<typeof import("@pulumi/pulumi/proto/analyzer_pb")>("@pulumi/pulumi/proto/analyzer_pb");
    const struct = fromPulumi<typeof import("google-protobuf/google/protobuf/struct_pb")>("google-protobuf/google/protobuf/struct_pb");

    before(async () => {
        // The engine starts the pack in its directory (PolicyPack reads ./package.json for the version).
        pack = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "index.ts"], { cwd: path.join(ROOT, "policy"), stdio: ["ignore", "pipe", "pipe"] });
        port = await new Promise<string>((resolve, reject) => {
            let err = "";
            pack.stderr!.on("data", (d) => { err += d; });
            pack.stdout!.once("data", (d) => resolve(String(d).trim()));
            pack.once("exit", (code) => reject(new Error(`policy pack exited ${code}: ${err}`)));
        });
        const grpc = fromPulumi<typeof import("@grpc/grpc-js")>("@grpc/grpc-js");
        const { AnalyzerClient } = fromPulumi<typeof import("@pulumi/pulumi/proto/analyzer_grpc_pb")>("@pulumi/pulumi/proto/analyzer_grpc_pb");
        client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });
    after(() => {
        client?.close();
        pack?.kill();
    });

    const call = <T>(method: string, req: unknown): Promise<T> =>
        new Promise((resolve, reject) => client[method](req, (e: Error | null, r: T) => (e ? reject(e) : resolve(r))));

    it("announces every policy of the pack with its enforcement level", async () => {
        const empty = fromPulumi<typeof import("google-protobuf/google/protobuf/empty_pb")>("google-protobuf/google/protobuf/empty_pb");
        const info = await call<import("@pulumi/pulumi/proto/analyzer_pb").AnalyzerInfo>("getAnalyzerInfo", new empty.Empty());
        assert.equal(info.getName(), PACK_NAME);
        assert.deepEqual(info.getPoliciesList().map((p) => p.getName()), POLICIES.map((p) => p.name));
        const advisory = info.getPoliciesList().filter((p) => p.getEnforcementlevel() === analyzer.EnforcementLevel.ADVISORY).map((p) => p.getName());
        assert.deepEqual(advisory, []);
    });

    it("reports the same message as the pure function, with secrets unwrapped by the server", async () => {
        const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
        const props = { ...goodRule, remoteIpPrefix: "0.0.0.0/0", description: { "4dabf18193072939515e22adb298388d": SECRET_SIG, value: goodRule.description } };
        const req = new analyzer.AnalyzeRequest();
        req.setType(RULE);
        req.setName("open");
        req.setUrn(`urn:pulumi:dev::incant::${RULE}::open`);
        req.setProperties(struct.Struct.fromJavaScript(props as never));
        req.setOptions(new analyzer.AnalyzerResourceOptions());
        const res = await call<import("@pulumi/pulumi/proto/analyzer_pb").AnalyzeResponse>("analyze", req);
        const expected = await violations(noWorldIngress, args(RULE, { ...goodRule, remoteIpPrefix: "0.0.0.0/0" }));
        // The server prefixes each message with the policy's description (@pulumi/policy server.ts).
        assert.deepEqual(res.getDiagnosticsList().map((d) => [d.getPolicyname(), d.getMessage()]), expected.map((m) => ["no-world-ingress", `${noWorldIngress.description}\n${m}`]));
        const notApplicable = res.getNotApplicableList().map((n) => n.getPolicyName());
        assert.ok(notApplicable.includes("secret-inputs-are-secret"), notApplicable.join());
    });
});
